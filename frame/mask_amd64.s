//go:build amd64 && !purego

#include "textflag.h"

// func maskSSE2(b []byte, k uint64)
TEXT ·maskSSE2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ k+24(FP), AX
	MOVQ AX, X0
	PUNPCKLQDQ X0, X0
	SHRQ $6, CX
	JZ   sse2done
sse2loop:
	MOVOU 0(SI), X1
	MOVOU 16(SI), X2
	MOVOU 32(SI), X3
	MOVOU 48(SI), X4
	PXOR  X0, X1
	PXOR  X0, X2
	PXOR  X0, X3
	PXOR  X0, X4
	MOVOU X1, 0(SI)
	MOVOU X2, 16(SI)
	MOVOU X3, 32(SI)
	MOVOU X4, 48(SI)
	ADDQ  $64, SI
	DECQ  CX
	JNZ   sse2loop
sse2done:
	RET

// func maskAVX2(b []byte, k uint64)
TEXT ·maskAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ k+24(FP), AX
	MOVQ AX, X0
	VPBROADCASTQ X0, Y0
	SHRQ $6, CX
	JZ   avx2done
	// Two 64-byte blocks per iteration when possible.
	MOVQ CX, DX
	SHRQ $1, DX
	JZ   avx2tail
avx2loop:
	VPXOR 0(SI), Y0, Y1
	VPXOR 32(SI), Y0, Y2
	VPXOR 64(SI), Y0, Y3
	VPXOR 96(SI), Y0, Y4
	VMOVDQU Y1, 0(SI)
	VMOVDQU Y2, 32(SI)
	VMOVDQU Y3, 64(SI)
	VMOVDQU Y4, 96(SI)
	ADDQ $128, SI
	DECQ DX
	JNZ  avx2loop
avx2tail:
	ANDQ $1, CX
	JZ   avx2done
	VPXOR 0(SI), Y0, Y1
	VPXOR 32(SI), Y0, Y2
	VMOVDQU Y1, 0(SI)
	VMOVDQU Y2, 32(SI)
avx2done:
	VZEROUPPER
	RET

// func hasAVX2() bool
// AVX2 needs CPUID.7.0:EBX bit 5, and the OS must save the YMM state
// (CPUID.1:ECX OSXSAVE bit 27 and AVX bit 28, XCR0 bits 1 and 2).
TEXT ·hasAVX2(SB), NOSPLIT, $0-1
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL CX, R8
	ANDL $0x18000000, R8
	CMPL R8, $0x18000000
	JNE  no
	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $0, AX
	CPUID
	CMPL AX, $7
	JB   no
	MOVL $7, AX
	XORL CX, CX
	CPUID
	ANDL $0x20, BX
	JZ   no
	MOVB $1, ret+0(FP)
	RET
no:
	MOVB $0, ret+0(FP)
	RET

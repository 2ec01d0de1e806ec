package frame

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func maskNaive(b []byte, key [4]byte, pos int) {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
}

// maskImpls lists every implementation compiled into this build, so that
// the portable code is tested on amd64 as well as the assembly.
func maskImpls() map[string]func([]byte, [4]byte, int) {
	m := map[string]func([]byte, [4]byte, int){
		"Mask":    func(b []byte, k [4]byte, pos int) { Mask(b, k, pos) },
		"generic": maskGeneric,
	}
	addArchImpls(m)
	return m
}

func TestMaskMatchesNaive(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, 600)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	for name, impl := range maskImpls() {
		for length := 0; length <= 300; length++ {
			for pos := 0; pos < 8; pos++ {
				for align := 0; align < 16; align++ {
					want := bytes.Clone(src[align : align+length])
					maskNaive(want, key, pos)
					buf := make([]byte, 32+length+32)
					copy(buf, src)
					got := buf[align : align+length]
					copy(got, src[align:align+length])
					guard := bytes.Clone(buf)
					impl(got, key, pos)
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: len %d pos %d align %d: mismatch", name, length, pos, align)
					}
					// Bytes outside b are untouched.
					if !bytes.Equal(buf[:align], guard[:align]) || !bytes.Equal(buf[align+length:], guard[align+length:]) {
						t.Fatalf("%s: len %d pos %d align %d: wrote outside b", name, length, pos, align)
					}
				}
			}
		}
	}
}

func TestMaskLargeMatchesNaive(t *testing.T) {
	key := [4]byte{1, 0x80, 0xFF, 0x7E}
	for name, impl := range maskImpls() {
		for _, n := range []int{1 << 16, 1<<20 + 13} {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(i * 7)
			}
			want := bytes.Clone(src)
			maskNaive(want, key, 3)
			impl(src, key, 3)
			if !bytes.Equal(src, want) {
				t.Fatalf("%s: %d bytes: mismatch", name, n)
			}
		}
	}
}

func TestMaskReturnsNextPosition(t *testing.T) {
	if got := Mask(make([]byte, 10), [4]byte{}, 7); got != 17 {
		t.Fatalf("Mask returned %d, want 17", got)
	}
}

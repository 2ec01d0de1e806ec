package frame

import (
	"encoding/binary"
	"math/bits"
)

// Mask XORs b in place with the masking key, as RFC 6455 §5.3 defines:
// "Octet i of the transformed data is the XOR of octet i of the original
// data with octet at index i modulo 4 of the masking key." pos is the index
// within the payload of b[0], so a payload that arrives in pieces is masked
// piece by piece; Mask returns the index that follows b (pos + len(b)).
// Masking twice with the same key and position restores the data.
func Mask(b []byte, key [4]byte, pos int) int {
	maskBytes(b, key, pos)
	return pos + len(b)
}

// rotatedKey returns the key as a little-endian word rotated so that its
// first byte is key[pos%4], repeated to 64 bits.
func rotatedKey(key [4]byte, pos int) uint64 {
	k := binary.LittleEndian.Uint32(key[:])
	k = bits.RotateLeft32(k, -8*(pos&3))
	return uint64(k)<<32 | uint64(k)
}

// maskGeneric is the portable implementation, eight bytes at a time. It is
// compiled on every platform so that tests compare it with the assembly.
func maskGeneric(b []byte, key [4]byte, pos int) {
	k := rotatedKey(key, pos)
	maskWords(b, k)
}

// maskWords masks b with the 8-byte pattern k starting at k's first byte.
func maskWords(b []byte, k uint64) {
	for len(b) >= 32 {
		v0 := binary.LittleEndian.Uint64(b[0:8]) ^ k
		v1 := binary.LittleEndian.Uint64(b[8:16]) ^ k
		v2 := binary.LittleEndian.Uint64(b[16:24]) ^ k
		v3 := binary.LittleEndian.Uint64(b[24:32]) ^ k
		binary.LittleEndian.PutUint64(b[0:8], v0)
		binary.LittleEndian.PutUint64(b[8:16], v1)
		binary.LittleEndian.PutUint64(b[16:24], v2)
		binary.LittleEndian.PutUint64(b[24:32], v3)
		b = b[32:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k)
		k = k>>8 | k<<56
	}
}

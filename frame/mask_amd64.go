//go:build amd64 && !purego

package frame

// useAVX2 is set once at package initialisation from CPUID; it is read-only
// afterwards, so it is not mutable global state.
var useAVX2 = hasAVX2()

// simdThreshold is the length below which the word loop beats the set-up
// cost of the vector loop.
const simdThreshold = 64

func maskBytes(b []byte, key [4]byte, pos int) {
	k := rotatedKey(key, pos)
	if len(b) >= simdThreshold {
		n := len(b) &^ 63
		if useAVX2 {
			maskAVX2(b[:n], k)
		} else {
			maskSSE2(b[:n], k)
		}
		// 64 is a multiple of 4: the key phase is unchanged after n bytes.
		b = b[n:]
	}
	maskWords(b, k)
}

// maskSSE2 and maskAVX2 mask len(b) bytes, a multiple of 64, with the
// 8-byte pattern k. SSE2 is part of the amd64 baseline.
//
//go:noescape
func maskSSE2(b []byte, k uint64)

//go:noescape
func maskAVX2(b []byte, k uint64)

func hasAVX2() bool

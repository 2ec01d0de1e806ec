//go:build amd64 && !purego

package frame

func addArchImpls(m map[string]func([]byte, [4]byte, int)) {
	m["sse2"] = func(b []byte, k [4]byte, pos int) {
		n := len(b) &^ 63
		kk := rotatedKey(k, pos)
		maskSSE2(b[:n], kk)
		maskWords(b[n:], kk)
	}
	if useAVX2 {
		m["avx2"] = func(b []byte, k [4]byte, pos int) {
			n := len(b) &^ 63
			kk := rotatedKey(k, pos)
			maskAVX2(b[:n], kk)
			maskWords(b[n:], kk)
		}
	}
}

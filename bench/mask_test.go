package bench

import (
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsengine/ws/frame"
)

// BenchmarkMask compares frame.Mask with gobwas/ws's Cipher (SSE2/AVX2
// assembly in v1.5.0) on the same buffers.
func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range []int{16, 1 << 10, 16 << 10, 1 << 20} {
		buf := make([]byte, n)
		b.Run("wsengine/"+SizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				frame.Mask(buf, key, 1)
			}
		})
		b.Run("gobwas/"+SizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				ws.Cipher(buf, key, 1)
			}
		})
	}
}

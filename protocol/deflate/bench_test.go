package deflate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// jsonLike returns n bytes of JSON-ish text with the repetition real API
// traffic has.
func jsonLike(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","event":"price_update","symbol":"WSE","price":%d.%02d,"tags":["a","b"]},`, i, i%97, 100+i%13, i%100)
	}
	return []byte(b.String()[:n])
}

// BenchmarkCompressedRoundTrip: server SendMessage (compress) → client
// Receive (inflate) → event, for JSON-like text, with the compressor's
// context kept or reset per message.
func BenchmarkCompressedRoundTrip(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, takeover := range []bool{false, true} {
			name := fmt.Sprintf("%dKiB/takeover=%v", size>>10, takeover)
			b.Run(name, func(b *testing.B) {
				c, s, _ := pair(b, deflate.Config{}, deflate.Config{ContextTakeover: takeover}, 1<<20)
				drain(c)
				drain(s)
				msg := jsonLike(size)
				var wire int
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					s.SendMessage(t0, frame.OpText, msg)
					out := s.Outgoing()
					wire = len(out)
					c.Receive(t0, out)
					s.Advance(len(out))
					n := 0
					for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
						n += len(ev.Data)
					}
					if n != size {
						b.Fatalf("got %d bytes", n)
					}
				}
				b.ReportMetric(float64(wire)/float64(size), "wire/byte")
			})
		}
	}
}

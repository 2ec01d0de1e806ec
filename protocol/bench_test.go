package protocol_test

import (
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// BenchmarkRoundTrip: client Send → Outgoing → server Receive → NextEvent,
// the engine's whole work for one message, masking and UTF-8 included.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tc := range []struct {
		name string
		size int
		op   frame.Opcode
	}{
		{"16B", 16, frame.OpBinary}, {"1KiB", 1 << 10, frame.OpBinary}, {"64KiB", 64 << 10, frame.OpBinary},
		{"text-64KiB", 64 << 10, frame.OpText},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := established(b, protocol.RoleClient, testConfig())
			s := established(b, protocol.RoleServer, testConfig())
			msg := make([]byte, tc.size)
			for i := range msg {
				msg[i] = 'a' + byte(i%26)
			}
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				c.SendMessage(t0, tc.op, msg)
				out := c.Outgoing()
				s.Receive(t0, out)
				c.Advance(len(out))
				n := 0
				for ev := s.NextEvent(); ev.Kind != protocol.EventNone; ev = s.NextEvent() {
					n += len(ev.Data)
				}
				if n != tc.size {
					b.Fatalf("received %d bytes", n)
				}
			}
		})
	}
}

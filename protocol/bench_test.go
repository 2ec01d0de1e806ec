package protocol_test

import (
	"runtime"
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

// BenchmarkTinyFragments: a 64 KiB read of 1-byte fragments of one message
// (9,362 frames), parsed and drained as a driver would (Receive, drain,
// Receive(nil) while InputPending). Reports the most events pending at once
// and the engine's heap per connection after the read, before draining.
func BenchmarkTinyFragments(b *testing.B) {
	var burst []byte
	burst = append(burst, wireFrame(protocol.RoleClient, frame.OpBinary, false, []byte{0})...)
	for len(burst) < 64<<10-14 {
		burst = append(burst, wireFrame(protocol.RoleClient, frame.OpContinuation, false, []byte{1})...)
	}
	burst = append(burst, wireFrame(protocol.RoleClient, frame.OpContinuation, true, []byte{2})...)
	cfg := testConfig()
	s := established(b, protocol.RoleServer, cfg)
	b.SetBytes(int64(len(burst)))
	b.ReportAllocs()
	most := 0
	for b.Loop() {
		copy(s.ReadBuffer(len(burst)), burst)
		s.ReceiveBuffered(t0, len(burst))
		for {
			n := 0
			for ev := s.NextEvent(); ev.Kind != protocol.EventNone; ev = s.NextEvent() {
				n++
			}
			most = max(most, n)
			if !s.InputPending() {
				break
			}
			s.Receive(t0, nil)
		}
	}
	b.ReportMetric(float64(most), "max-events/read")
	conns := make([]*protocol.Conn, 100)
	before := heapInUse()
	for i := range conns {
		conns[i] = established(b, protocol.RoleServer, cfg)
		copy(conns[i].ReadBuffer(len(burst)), burst)
		conns[i].ReceiveBuffered(t0, len(burst))
	}
	if s.State() != protocol.StateOpen {
		b.Fatal(s.CloseStatus().Err)
	}
	b.ReportMetric((float64(heapInUse())-float64(before))/float64(len(conns)), "heap-B/conn")
	runtime.KeepAlive(conns)
}

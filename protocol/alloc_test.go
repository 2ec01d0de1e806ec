package protocol_test

import (
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// The steady state allocates nothing: send, write, receive, take the event,
// in both directions, once the buffers have grown.
func TestSteadyStateZeroAllocs(t *testing.T) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		c := established(t, protocol.RoleClient, testConfig())
		s := established(t, protocol.RoleServer, testConfig())
		msg := make([]byte, size)
		roundTrip := func() {
			c.SendMessage(t0, frame.OpBinary, msg)
			out := c.Outgoing()
			s.Receive(t0, out)
			c.Advance(len(out))
			for ev := s.NextEvent(); ev.Kind != protocol.EventNone; ev = s.NextEvent() {
			}
			s.SendMessage(t0, frame.OpText, msg)
			out = s.Outgoing()
			c.Receive(t0, out)
			s.Advance(len(out))
			for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
			}
		}
		for i := range msg {
			msg[i] = 'a'
		}
		roundTrip()
		if allocs := testing.AllocsPerRun(100, roundTrip); allocs != 0 {
			t.Errorf("%d bytes: %v allocs per round trip", size, allocs)
		}
	}
}

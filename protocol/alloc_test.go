package protocol_test

import (
	"testing"
	"time"

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

// A connection's keepalive allocates nothing, its first ping included: an
// idle connection pinged every PingInterval for hours keeps no ping list.
func TestFirstKeepaliveAllocatesNothing(t *testing.T) {
	const runs = 50
	conns := make([]*protocol.Conn, runs+1) // AllocsPerRun calls once more to warm up
	for i := range conns {
		c := established(t, protocol.RoleServer, testConfig())
		// Buffers grown by a message each way, as after an echo.
		msg := make([]byte, 64)
		c.Receive(t0, wireFrame(protocol.RoleClient, frame.OpBinary, true, msg))
		c.SendMessage(t0, frame.OpBinary, msg)
		drain(c)
		conns[i] = c
	}
	next := 0
	round := func() {
		c := conns[next]
		next++
		c.HandleTimeout(at(20 * time.Second))
		c.Advance(len(c.Outgoing()))
		c.Receive(at(21*time.Second), pong1)
		if ev := c.NextEvent(); ev.Kind != protocol.EventPong || ev.Answered != 1 {
			t.Fatalf("event %+v", ev)
		}
	}
	if allocs := testing.AllocsPerRun(runs, round); allocs != 0 {
		t.Errorf("%v allocs per first keepalive round", allocs)
	}
}

var pong1 = wireFrame(protocol.RoleClient, frame.OpPong, true, keepalivePayload(1))

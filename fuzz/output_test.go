package fuzz

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"pgregory.net/rapid"
)

// Whatever a server is told (messages, pings, the peer's pings, a close, a
// failure, a slow consumer's drop, an abort) while its output is written
// in random pieces, the bytes that reach the wire are a stream of whole
// frames that a client parses without a protocol error, with no data frame
// after a close frame; only an abort may cut the last frame (the transport
// is dropped). Both ways of writing are drawn: Outgoing and Advance (the
// event loop), TakeOutgoing and Wrote with what is taken written first
// (the goroutine adapter). The driver pools its buffers: it takes the
// engine's away (SwapWriteBuffer), lends it others, and scribbles over
// every buffer it gets back; prepared messages, which an engine without a
// buffer sends from the shared frame itself, come out whole and unchanged.
func TestWrittenOutputIsAFrameStream(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s, err := protocol.NewEstablished(protocol.RoleServer, fuzzConfig(), now)
		if err != nil {
			t.Fatal(err)
		}
		take := rapid.Bool().Draw(t, "TakeOutgoing")
		var wire, taken, whole, spare []byte
		aborted := false
		// scribble is the driver reusing memory the engine gave back.
		scribble := func(b []byte) []byte {
			for i := range b[:cap(b)] {
				b[:cap(b)][i] = 0xee
			}
			return b[:0]
		}
		prepared := make([]*protocol.PreparedMessage, 2)
		for i, size := range []int{10, 3000} {
			if prepared[i], err = protocol.NewPreparedMessage(frame.OpBinary, make([]byte, size)); err != nil {
				t.Fatal(err)
			}
		}
		write := func(k int) {
			if take {
				if len(taken) == 0 {
					taken = s.TakeOutgoing(spare)
					spare, whole = nil, taken
				}
				k = min(k, len(taken))
				wire = append(wire, taken[:k]...)
				s.Wrote(k)
				if taken = taken[k:]; len(taken) == 0 && cap(whole) > 0 {
					spare, whole = scribble(whole), nil
				}
				return
			}
			out := s.Outgoing()
			k = min(k, len(out))
			wire = append(wire, out[:k]...)
			s.Advance(k)
		}
		for i, n := 0, rapid.IntRange(1, 40).Draw(t, "steps"); i < n; i++ {
			now = now.Add(time.Millisecond)
			switch rapid.IntRange(0, 12).Draw(t, "action") {
			case 0, 1:
				size := rapid.IntRange(0, 3000).Draw(t, "size")
				if rapid.Bool().Draw(t, "text") {
					s.SendMessage(now, frame.OpText, []byte(strings.Repeat("é", size/2)))
				} else {
					s.SendMessage(now, frame.OpBinary, make([]byte, size))
				}
			case 2:
				s.Ping(now, []byte("app"))
			case 3:
				// The peer's ping: a pong is queued, or replaces one that
				// is wholly unwritten.
				s.Receive(now, encode(protocol.RoleClient, frame.OpPing, 0, true, []byte(fmt.Sprint("p", i))))
			case 4, 5, 6:
				write(rapid.IntRange(0, 4000).Draw(t, "write"))
			case 7:
				switch rapid.IntRange(0, 3).Draw(t, "end") {
				case 0:
					s.Close(now, frame.CloseNormal, "bye")
				case 1:
					s.Fail(now, frame.CloseInternalError, "")
				case 2:
					s.Drop(now, frame.ClosePolicyViolation, "send queue full", nil)
				case 3:
					s.Abort(now, nil)
					aborted, taken = true, nil // the transport is gone
				}
			case 8:
				s.HandleTimeout(now.Add(time.Minute)) // keepalive, or the close timeout
			case 9:
				for s.NextEvent().Kind != protocol.EventNone {
				}
			case 10:
				s.SendPrepared(now, prepared[rapid.IntRange(0, 1).Draw(t, "prepared")])
			case 11: // the driver pools the engine's buffer
				if b := s.SwapWriteBuffer(nil); cap(b) > 0 {
					spare = scribble(b)
				}
			case 12: // and lends one
				b := spare
				if b == nil {
					b = make([]byte, 0, rapid.IntRange(1, 5000).Draw(t, "lent"))
				}
				spare = nil
				if old := s.SwapWriteBuffer(b); cap(old) > 0 {
					spare = scribble(old)
				}
			}
		}
		if !aborted {
			for len(taken) > 0 || len(s.Outgoing()) > 0 {
				write(1 << 20)
			}
		}

		// The wire, parsed: whole frames, nothing after a close but
		// control frames, and a client that finds no violation.
		rest := wire
		closed := false
		for len(rest) > 0 {
			h, n, err := frame.ParseHeader(rest)
			if err == nil && n == 0 || err == nil && len(rest) < n+int(h.Length) {
				if aborted {
					break // an abort may cut the last frame
				}
				t.Fatalf("a frame cut short at byte %d of %d", len(wire)-len(rest), len(wire))
			}
			if err != nil {
				t.Fatalf("byte %d of %d: %v", len(wire)-len(rest), len(wire), err)
			}
			if closed && (!h.Opcode.IsControl() || h.Opcode == frame.OpClose) {
				t.Fatalf("%v frame after the close frame", h.Opcode)
			}
			closed = closed || h.Opcode == frame.OpClose
			rest = rest[n+int(h.Length):]
		}
		if aborted {
			wire = wire[:len(wire)-len(rest)]
		}
		for _, m := range prepared {
			fresh, err := protocol.NewEstablished(protocol.RoleServer, fuzzConfig(), now)
			if err != nil {
				t.Fatal(err)
			}
			fresh.SendPrepared(now, m)
			if h, n, err := frame.ParseHeader(fresh.Outgoing()); err != nil || int(h.Length) != m.Len() ||
				strings.Count(string(fresh.Outgoing()[n:]), "\x00") != m.Len() {
				t.Fatalf("a prepared message changed: %x (%v)", fresh.Outgoing(), err)
			}
		}
		c, err := protocol.NewEstablished(protocol.RoleClient, fuzzConfig(), now)
		if err != nil {
			t.Fatal(err)
		}
		c.Receive(now, wire)
		for {
			for c.NextEvent().Kind != protocol.EventNone {
			}
			if !c.InputPending() {
				break
			}
			c.Receive(now, nil) // past the bound on pending events
		}
		if st := c.CloseStatus(); st.Sent && st.SentCode != frame.CloseNormal && st.SentCode != frame.ClosePolicyViolation &&
			st.SentCode != frame.CloseInternalError {
			t.Fatalf("the client failed the stream: %v", st.Err)
		}
	})
}

// Whatever happened before, once the peer stalls (it takes no more bytes
// and sends none) the engine's deadlines end the connection and then the
// transport: a driver that acts at Deadline and calls EndTransport once
// the engine asks always comes to CloseTransportNow, within a bound set by
// the timeouts. No connection lives on without a deadline.
func TestStalledPeerAlwaysEnds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := start
		role := rapid.SampledFrom([]protocol.Role{protocol.RoleServer, protocol.RoleClient}).Draw(t, "role")
		peer := protocol.RoleClient
		if role == protocol.RoleClient {
			peer = protocol.RoleServer
		}
		cfg := fuzzConfig()
		s, err := protocol.NewEstablished(role, cfg, now)
		if err != nil {
			t.Fatal(err)
		}
		if rapid.Bool().Draw(t, "high water") {
			s.SetOutputHighWater(rapid.IntRange(1, 8000).Draw(t, "mark"))
		}
		halfClose := rapid.Bool().Draw(t, "can half-close")
		for i, n := 0, rapid.IntRange(0, 30).Draw(t, "steps"); i < n; i++ {
			now = now.Add(time.Duration(rapid.IntRange(0, 30000).Draw(t, "ms")) * time.Millisecond)
			switch rapid.IntRange(0, 9).Draw(t, "action") {
			case 0:
				s.SendMessage(now, frame.OpBinary, make([]byte, rapid.IntRange(0, 5000).Draw(t, "size")))
			case 1:
				s.Receive(now, encode(peer, frame.OpText, 0, true, []byte("hi")))
			case 2:
				s.Receive(now, encode(peer, frame.OpPing, 0, true, nil))
			case 3:
				p, _ := frame.AppendClose(nil, frame.CloseNormal, "")
				s.Receive(now, encode(peer, frame.OpClose, 0, true, p))
			case 4:
				s.Close(now, frame.CloseGoingAway, "")
			case 5:
				s.Advance(rapid.IntRange(0, len(s.Outgoing())).Draw(t, "written"))
			case 6:
				s.HoldInput(now)
			case 7:
				s.Drop(now, frame.ClosePolicyViolation, "", nil)
			case 8:
				s.ReceiveEOF(now)
			case 9:
				if d := s.Deadline(); !d.IsZero() && d.After(now) {
					now = d
				}
				s.HandleTimeout(now)
			}
			for s.NextEvent().Kind != protocol.EventNone {
			}
		}
		// The peer stalls: the driver only acts at the engine's deadlines.
		stalled := now
		for i := 0; ; i++ {
			if s.ShouldCloseTransport() {
				if s.EndTransport(now, halfClose) == protocol.CloseTransportNow {
					break
				}
			}
			d := s.Deadline()
			if d.IsZero() {
				t.Fatalf("state %v, %d bytes unsent, no deadline: the connection would live forever", s.State(), s.UnsentOutput())
			}
			if i > 100 {
				t.Fatalf("still up after %d deadlines", i)
			}
			now = maxTime(now, d)
			s.HandleTimeout(now)
			for s.NextEvent().Kind != protocol.EventNone {
			}
		}
		bound := cfg.PingIntervalOrDefault() + cfg.PongTimeoutOrDefault() + cfg.WriteTimeoutOrDefault()*3/2 + 3*cfg.CloseTimeoutOrDefault()
		if d := now.Sub(stalled); d > bound {
			t.Fatalf("the transport ended %v after the peer stalled, bound %v", d, bound)
		}
	})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

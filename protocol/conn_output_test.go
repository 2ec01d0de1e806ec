package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// A ping flood costs at most one pending pong: a ping whose pong would join
// one still wholly in Outgoing replaces it (RFC 6455 §5.5.3), while a pong
// that was taken or partly written stays and goes out. Every ping is still
// reported. The driver here takes events (and goes on with input the engine
// kept at its bound on pending events) but never writes.
func TestPingFloodOnePendingPong(t *testing.T) {
	pings := 0
	receive := func(s *protocol.Conn, in []byte) {
		s.Receive(t0, in)
		for {
			for ev := s.NextEvent(); ev.Kind != protocol.EventNone; ev = s.NextEvent() {
				if ev.Kind == protocol.EventPing {
					pings++
				}
			}
			if !s.InputPending() {
				return
			}
			s.Receive(t0, nil)
		}
	}
	ping := func(i int) []byte {
		return wireFrame(protocol.RoleClient, frame.OpPing, true, []byte(fmt.Sprint("p", i)))
	}
	pong := func(role protocol.Role, i int) []byte {
		return wireFrame(role, frame.OpPong, true, []byte(fmt.Sprint("p", i)))
	}
	msg := wireFrame(protocol.RoleServer, frame.OpText, true, []byte("reply"))
	tests := []struct {
		name string
		// run feeds the server 1,000 pings (its own way) and returns what
		// it took from the engine on the way.
		run       func(s *protocol.Conn) []byte
		wantTaken []byte
		wantOut   []byte
	}{
		{"one Receive", func(s *protocol.Conn) []byte {
			var in []byte
			for i := range 1000 {
				in = append(in, ping(i)...)
			}
			receive(s, in)
			return nil
		}, nil, pong(protocol.RoleServer, 999)},
		{"a Receive each", func(s *protocol.Conn) []byte {
			for i := range 1000 {
				receive(s, ping(i))
			}
			return nil
		}, nil, pong(protocol.RoleServer, 999)},
		{"first pong taken", func(s *protocol.Conn) []byte {
			receive(s, ping(0))
			taken := bytes.Clone(s.TakeOutgoing(nil))
			for i := 1; i < 1000; i++ {
				receive(s, ping(i))
			}
			return taken
		}, pong(protocol.RoleServer, 0), pong(protocol.RoleServer, 999)},
		{"first pong partly written", func(s *protocol.Conn) []byte {
			receive(s, ping(0))
			s.Advance(1)
			for i := 1; i < 1000; i++ {
				receive(s, ping(i))
			}
			return nil
		}, nil, append(pong(protocol.RoleServer, 0)[1:], pong(protocol.RoleServer, 999)...)},
		{"behind a message", func(s *protocol.Conn) []byte {
			receive(s, ping(0))
			s.SendMessage(t0, frame.OpText, []byte("reply"))
			for i := 1; i < 1000; i++ {
				receive(s, ping(i))
			}
			return nil
		}, nil, append(bytes.Clone(msg), pong(protocol.RoleServer, 999)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := established(t, protocol.RoleServer, testConfig())
			pings = 0
			taken := tt.run(s)
			if diff := cmp.Diff(tt.wantTaken, taken); diff != "" {
				t.Errorf("taken (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOut, s.Outgoing()); diff != "" {
				t.Errorf("Outgoing (-want +got):\n%s", diff)
			}
			if got, want := s.UnsentOutput(), len(tt.wantOut)+len(tt.wantTaken); got != want {
				t.Errorf("UnsentOutput %d, want %d", got, want)
			}
			if pings != 1000 {
				t.Errorf("%d ping events, want 1000", pings)
			}
		})
	}
}

// A client's pongs are masked; the replacing one too.
func TestPingFloodClientPong(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	for i := range 100 {
		c.Receive(t0, wireFrame(protocol.RoleServer, frame.OpPing, true, []byte(fmt.Sprint("p", i))))
	}
	out, _ := drain(c)
	if want := wireFrame(protocol.RoleClient, frame.OpPong, true, []byte("p99")); !bytes.Equal(out, want) {
		t.Fatalf("out % x, want % x", out, want)
	}
}

// The write watchdog: output that waits with none of it written for
// WriteTimeout ends the connection without a close frame (1006,
// ErrWriteTimeout). It first looks a quarter of WriteTimeout after the
// output began to wait, then every quarter; the first look that saw the
// current count of written bytes starts the WriteTimeout.
func TestWriteTimeout(t *testing.T) {
	const q = protocol.DefaultWriteTimeout / 4
	tests := []struct {
		name string
		// stall queues output at t0 and leaves it unwritten (reporting
		// progress where it says so, at the looks it is given).
		stall    func(s *protocol.Conn)
		progress func(s *protocol.Conn, look int) // at each look, before it
		wantEnd  time.Duration                    // 0: never within 200 s
	}{
		{"taken, never written", func(s *protocol.Conn) {
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			s.TakeOutgoing(nil)
		}, nil, q + protocol.DefaultWriteTimeout},
		{"in Outgoing, never advanced", func(s *protocol.Conn) {
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
		}, nil, q + protocol.DefaultWriteTimeout},
		{"a pong nobody takes, pings flooding in", func(s *protocol.Conn) {
			s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpPing, true, nil))
		}, func(s *protocol.Conn, look int) {
			s.Receive(t0.Add(time.Duration(look)*q-time.Millisecond), wireFrame(protocol.RoleClient, frame.OpPing, true, nil))
		}, q + protocol.DefaultWriteTimeout},
		{"a byte every look", func(s *protocol.Conn) {
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			s.TakeOutgoing(nil)
		}, func(s *protocol.Conn, look int) { s.Wrote(1) }, 0},
		{"progress until the 4th look", func(s *protocol.Conn) {
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			s.TakeOutgoing(nil)
		}, func(s *protocol.Conn, look int) {
			if look <= 4 {
				s.Wrote(1)
			}
		}, 4*q + protocol.DefaultWriteTimeout},
		{"all written", func(s *protocol.Conn) {
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			s.Wrote(len(s.TakeOutgoing(nil)))
		}, nil, 0},
		{"reading paused: still the peer's failure", func(s *protocol.Conn) {
			s.PauseReading(t0)
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			s.TakeOutgoing(nil)
		}, nil, q + protocol.DefaultWriteTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.PingInterval = protocol.Disabled // only the watchdog's timer
			s := established(t, protocol.RoleServer, cfg)
			tt.stall(s)
			look := 0
			for s.State() != protocol.StateClosed {
				d := s.Deadline()
				if d.IsZero() || d.Sub(t0) > 200*time.Second {
					break
				}
				if got, want := d.Sub(t0), time.Duration(look+1)*q; got != want {
					t.Fatalf("look %d due at %v, want %v", look+1, got, want)
				}
				look++
				if tt.progress != nil {
					tt.progress(s, look)
				}
				s.HandleTimeout(d)
			}
			st := s.CloseStatus()
			if tt.wantEnd == 0 {
				if st.Err != nil {
					t.Fatalf("ended: %v", st.Err)
				}
				return
			}
			if end := time.Duration(look) * q; end != tt.wantEnd {
				t.Errorf("ended at %v, want %v", end, tt.wantEnd)
			}
			if st.Code != frame.CloseAbnormal || st.Sent || !errors.Is(st.Err, protocol.ErrWriteTimeout) || !s.ShouldCloseTransport() {
				t.Errorf("status %+v", st)
			}
			if len(s.Outgoing()) != 0 {
				t.Errorf("output left to write: % x", s.Outgoing())
			}
		})
	}
}

// The watchdog counts from the engine's own time when the output began to
// wait, never from an older time a driver passed to the send: a driver that
// sends with the time of its last read cannot make it fire early.
func TestWriteTimeoutStaleSendTime(t *testing.T) {
	cfg := testConfig()
	s := established(t, protocol.RoleServer, cfg)
	s.Receive(at(100*time.Second), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("x")))
	drain(s)
	s.SendWith(t0, frame.OpText, []byte("late"), true, protocol.SendOptions{})
	s.TakeOutgoing(nil)
	if d, want := s.Deadline(), at(100*time.Second+protocol.DefaultWriteTimeout/4); !d.Equal(want) {
		t.Fatalf("first look at %v, want %v", d.Sub(t0), want.Sub(t0))
	}
	// The first look only notes the count: a write that began just before
	// it is not failed by it, however stale the time the output began.
	s.HandleTimeout(at(104 * time.Second))
	s.HandleTimeout(at(105 * time.Second))
	if s.State() != protocol.StateOpen {
		t.Fatalf("failed at the first look: %v", s.CloseStatus().Err)
	}
}

// Disabled turns the watchdog off.
func TestWriteTimeoutDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval, cfg.WriteTimeout = protocol.Disabled, protocol.Disabled
	s := established(t, protocol.RoleServer, cfg)
	s.SendMessage(t0, frame.OpBinary, []byte("x"))
	s.TakeOutgoing(nil)
	if d := s.Deadline(); !d.IsZero() {
		t.Fatalf("deadline %v with every timer disabled", d.Sub(t0))
	}
	s.HandleTimeout(at(time.Hour))
	if s.State() != protocol.StateOpen {
		t.Fatal(s.CloseStatus().Err)
	}
}

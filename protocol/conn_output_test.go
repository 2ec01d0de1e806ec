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

// Every ping is answered while few pongs wait; a ping flood costs at most
// 16 pending pongs: once 16 were appended since Outgoing was last empty, a
// ping whose pong would join the last one, still wholly in Outgoing,
// replaces it (RFC 6455 §5.5.3), while a pong that was taken or partly
// written stays and goes out. A few pings sent together each get their
// pong (Autobahn 2.10 and 2.11 expect it), and pongs the peer reads as they
// come are never replaced. Every ping is still reported. Unless a case
// writes, the driver here takes events (and goes on with input the engine
// kept at its bound on pending events) but never writes.
func TestPingFloodPendingPongs(t *testing.T) {
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
	pings1000 := func() (in []byte) {
		for i := range 1000 {
			in = append(in, ping(i)...)
		}
		return in
	}
	// pongs returns the server's pongs to pings from to to-1, then to the
	// pings in last.
	pong := func(i int) []byte {
		return wireFrame(protocol.RoleServer, frame.OpPong, true, []byte(fmt.Sprint("p", i)))
	}
	pongs := func(from, to int, last ...int) (out []byte) {
		for i := from; i < to; i++ {
			out = append(out, pong(i)...)
		}
		for _, i := range last {
			out = append(out, pong(i)...)
		}
		return out
	}
	msg := wireFrame(protocol.RoleServer, frame.OpText, true, []byte("reply"))
	tests := []struct {
		name string
		// run feeds the server pings (its own way; 1,000 unless it says)
		// and returns what it took from the engine or wrote on the way.
		run       func(s *protocol.Conn) []byte
		wantTaken []byte
		wantOut   []byte
		pings     int
		took      bool // what run returns was taken (TakeOutgoing), not written: still unsent
	}{
		{"ten in one Receive", func(s *protocol.Conn) []byte {
			var in []byte
			for i := range 10 {
				in = append(in, ping(i)...)
			}
			receive(s, in)
			return nil
		}, nil, pongs(0, 10), 10, false},
		{"one Receive", func(s *protocol.Conn) []byte {
			receive(s, pings1000())
			return nil
		}, nil, pongs(0, 15, 999), 1000, false},
		{"a Receive each", func(s *protocol.Conn) []byte {
			for i := range 1000 {
				receive(s, ping(i))
			}
			return nil
		}, nil, pongs(0, 15, 999), 1000, false},
		{"a Receive each, written as they come", func(s *protocol.Conn) []byte {
			var written []byte
			for i := range 1000 {
				receive(s, ping(i))
				written = append(written, s.Outgoing()...)
				s.Advance(len(s.Outgoing()))
			}
			return written
		}, pongs(0, 1000), []byte{}, 1000, false},
		{"first pong taken", func(s *protocol.Conn) []byte {
			receive(s, ping(0))
			taken := bytes.Clone(s.TakeOutgoing(nil))
			for i := 1; i < 1000; i++ {
				receive(s, ping(i))
			}
			return taken
		}, pongs(0, 1), pongs(1, 16, 999), 1000, true},
		{"first pong partly written", func(s *protocol.Conn) []byte {
			receive(s, ping(0))
			s.Advance(1)
			for i := 1; i < 1000; i++ {
				receive(s, ping(i))
			}
			return nil
		}, nil, append(pongs(0, 1)[1:], pongs(1, 15, 999)...), 1000, false},
		{"behind a message", func(s *protocol.Conn) []byte {
			receive(s, ping(0))
			s.SendMessage(t0, frame.OpText, []byte("reply"))
			for i := 1; i < 1000; i++ {
				receive(s, ping(i))
			}
			return nil
		}, nil, concat(pongs(0, 1), msg, pongs(1, 15, 999)), 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := established(t, protocol.RoleServer, testConfig())
			pings = 0
			taken := tt.run(s)
			if diff := cmp.Diff(tt.wantTaken, taken); diff != "" {
				t.Errorf("taken or written (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOut, s.Outgoing()); diff != "" {
				t.Errorf("Outgoing (-want +got):\n%s", diff)
			}
			want := len(tt.wantOut)
			if tt.took {
				want += len(tt.wantTaken)
			}
			if got := s.UnsentOutput(); got != want {
				t.Errorf("UnsentOutput %d, want %d", got, want)
			}
			if pings != tt.pings {
				t.Errorf("%d ping events, want %d", pings, tt.pings)
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
	var want []byte
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 99} {
		want = append(want, wireFrame(protocol.RoleClient, frame.OpPong, true, []byte(fmt.Sprint("p", i)))...)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("out % x\nwant % x", out, want)
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

// WriteTimeout is the timeout in force: the default when unset, none when
// disabled.
func TestWriteTimeoutInForce(t *testing.T) {
	for _, tt := range []struct {
		set, want time.Duration
	}{
		{0, protocol.DefaultWriteTimeout},
		{3 * time.Second, 3 * time.Second},
		{protocol.Disabled, 0},
	} {
		c := established(t, protocol.RoleServer, protocol.Config{WriteTimeout: tt.set})
		if got := c.WriteTimeout(); got != tt.want {
			t.Errorf("WriteTimeout with %v set = %v, want %v", tt.set, got, tt.want)
		}
	}
}

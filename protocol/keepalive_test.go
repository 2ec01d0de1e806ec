package protocol_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

func keepalivePayload(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// The keepalive ping goes out PingInterval after the last byte received,
// not before; a pong acknowledges it and records the latency.
func TestKeepalivePingAndPong(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	if d := c.Deadline(); !d.Equal(at(20 * time.Second)) {
		t.Fatalf("first deadline %v", d.Sub(t0))
	}
	// A byte received at 5 s moves the ping to 25 s.
	c.Receive(at(5*time.Second), wireFrame(protocol.RoleServer, frame.OpText, true, []byte("x")))
	drain(c)
	if d := c.Deadline(); !d.Equal(at(25 * time.Second)) {
		t.Fatalf("deadline after data %v", d.Sub(t0))
	}
	c.HandleTimeout(at(24 * time.Second))
	if out, _ := drain(c); len(out) != 0 {
		t.Fatalf("ping before its time: % x", out)
	}
	c.HandleTimeout(at(25 * time.Second))
	out, _ := drain(c)
	if want := wireFrame(protocol.RoleClient, frame.OpPing, true, keepalivePayload(1)); !bytes.Equal(out, want) {
		t.Fatalf("ping % x, want % x", out, want)
	}
	if d := c.Deadline(); !d.Equal(at(45 * time.Second)) {
		t.Fatalf("pong deadline %v", d.Sub(t0))
	}
	c.Receive(at(25*time.Second+30*time.Millisecond), wireFrame(protocol.RoleServer, frame.OpPong, true, keepalivePayload(1)))
	_, evs := drain(c)
	if len(evs) != 1 || evs[0].Kind != protocol.EventPong || evs[0].Latency != 30*time.Millisecond || c.Latency() != 30*time.Millisecond {
		t.Fatalf("events %+v latency %v", evs, c.Latency())
	}
	if d := c.Deadline(); !d.Equal(at(45*time.Second + 30*time.Millisecond)) {
		t.Fatalf("next ping %v", d.Sub(t0))
	}
	// The next ping has a new payload.
	c.HandleTimeout(c.Deadline())
	out, _ = drain(c)
	if want := wireFrame(protocol.RoleClient, frame.OpPing, true, keepalivePayload(2)); !bytes.Equal(out, want) {
		t.Fatalf("second ping % x", out)
	}
}

// The P2/P3 lesson: no pong within PongTimeout fails the connection with
// 1011 and ErrKeepaliveTimeout, exactly at interval + timeout.
func TestKeepaliveTimeout(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	s.HandleTimeout(at(20 * time.Second))
	drain(s)
	s.HandleTimeout(at(40*time.Second - time.Nanosecond))
	if s.State() != protocol.StateOpen {
		t.Fatal("failed early")
	}
	s.HandleTimeout(at(40 * time.Second))
	out, evs := drain(s)
	if want := wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseInternalError, "keepalive ping timeout")); !bytes.Equal(out, want) {
		t.Fatalf("out % x", out)
	}
	st := s.CloseStatus()
	if st.Code != frame.CloseInternalError || !errors.Is(st.Err, protocol.ErrKeepaliveTimeout) || !s.ShouldCloseTransport() {
		t.Fatalf("status %+v", st)
	}
	if errors.Is(st.Err, &protocol.CloseError{Code: frame.CloseNormal}) {
		t.Fatal("keepalive timeout matches a normal close")
	}
	if len(evs) != 1 || evs[0].Kind != protocol.EventClosed {
		t.Fatalf("events %v", kinds(evs))
	}
}

// Pings are numbered as they are sent, keepalive ones included, and a pong
// reports the number of the latest ping it answers (earlier ones are
// answered with it), or zero when it answers none.
func TestPongAnswersPingNumbers(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	if n := c.PingsSent(); n != 0 {
		t.Fatalf("PingsSent %d before any ping", n)
	}
	c.Ping(t0, []byte("a"))                 // 1
	c.HandleTimeout(at(20 * time.Second))   // keepalive, 2
	c.Ping(at(21*time.Second), []byte("b")) // 3
	c.Ping(at(21*time.Second), []byte("c")) // 4
	if n := c.PingsSent(); n != 4 {
		t.Fatalf("PingsSent %d, want 4", n)
	}
	drain(c)
	steps := []struct {
		pong     string
		answered uint64
		latency  time.Duration
	}{
		{"b", 3, time.Second}, // answers a, the keepalive ping and b
		{"b", 0, 0},           // answered already: unsolicited now
		{"zzz", 0, 0},         // never sent
		{"c", 4, time.Second},
	}
	for _, st := range steps {
		c.Receive(at(22*time.Second), wireFrame(protocol.RoleServer, frame.OpPong, true, []byte(st.pong)))
		_, evs := drain(c)
		if len(evs) != 1 || evs[0].Kind != protocol.EventPong || evs[0].Answered != st.answered || evs[0].Latency != st.latency {
			t.Fatalf("pong %q: events %+v, want Answered %d, Latency %v", st.pong, evs, st.answered, st.latency)
		}
	}
}

// A keepalive ping's pong answers the application pings sent before it,
// not those sent after it; an application ping's pong answers the
// keepalive ping sent before it, not one sent after it.
func TestKeepalivePongAndApplicationPings(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.Ping(t0, []byte("a"))                 // 1
	c.HandleTimeout(at(20 * time.Second))   // keepalive, 2
	c.Ping(at(21*time.Second), []byte("b")) // 3
	drain(c)
	steps := []struct {
		pong     []byte
		answered uint64
		awaiting bool // a ping is still unanswered after it
	}{
		{keepalivePayload(2), 2, true}, // answers a and the keepalive ping
		{[]byte("a"), 0, true},         // answered already
		{keepalivePayload(2), 0, true}, // answered already
		{[]byte("b"), 3, false},
	}
	for _, st := range steps {
		c.Receive(at(22*time.Second), wireFrame(protocol.RoleServer, frame.OpPong, true, st.pong))
		_, evs := drain(c)
		if len(evs) != 1 || evs[0].Kind != protocol.EventPong || evs[0].Answered != st.answered {
			t.Fatalf("pong %q: events %+v, want Answered %d", st.pong, evs, st.answered)
		}
		if c.AwaitingPong() != st.awaiting {
			t.Fatalf("pong %q: AwaitingPong %v", st.pong, !st.awaiting)
		}
	}
	// The next keepalive ping is answered by an application ping's pong
	// sent after it.
	c.HandleTimeout(c.Deadline()) // keepalive, 4
	c.Ping(c.Deadline(), []byte("c"))
	drain(c)
	c.Receive(at(60*time.Second), wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("c")))
	if _, evs := drain(c); len(evs) != 1 || evs[0].Answered != 5 || c.AwaitingPong() {
		t.Fatalf("events %+v, AwaitingPong %v", evs, c.AwaitingPong())
	}
}

// A pong for a later ping acknowledges earlier ones too.
func TestPongAcknowledgesEarlierPings(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.HandleTimeout(at(20 * time.Second)) // keepalive ping 1
	c.Ping(at(21*time.Second), []byte("app"))
	drain(c)
	c.Receive(at(22*time.Second), wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("app")))
	_, evs := drain(c)
	if evs[0].Latency != time.Second {
		t.Fatalf("latency %v", evs[0].Latency)
	}
	// No pong deadline is left: the keepalive ping was acknowledged.
	if d := c.Deadline(); !d.Equal(at(42 * time.Second)) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
}

func TestKeepaliveDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = protocol.Disabled
	c := established(t, protocol.RoleClient, cfg)
	if !c.Deadline().IsZero() {
		t.Fatalf("deadline %v", c.Deadline())
	}
	c.HandleTimeout(at(time.Hour))
	if out, _ := drain(c); len(out) != 0 {
		t.Fatalf("out % x", out)
	}
}

// Time going backwards is taken as the latest time seen: timers neither
// fire early nor move.
func TestTimeGoingBackwards(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.Receive(at(10*time.Second), wireFrame(protocol.RoleServer, frame.OpText, true, nil))
	drain(c)
	if d := c.Deadline(); !d.Equal(at(30 * time.Second)) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	// Data "at" 1 s: the clock stays at 10 s, the deadline does not move back.
	c.Receive(at(time.Second), wireFrame(protocol.RoleServer, frame.OpText, true, nil))
	drain(c)
	if d := c.Deadline(); !d.Equal(at(30 * time.Second)) {
		t.Fatalf("deadline after a step back %v", d.Sub(t0))
	}
	c.HandleTimeout(at(0))
	if out, _ := drain(c); len(out) != 0 {
		t.Fatalf("a step back fired a timer: % x", out)
	}
}

func TestPingPongArguments(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	if err := c.Ping(t0, make([]byte, 126)); !errors.Is(err, protocol.ErrControlTooLong) {
		t.Fatalf("Ping: %v", err)
	}
	if err := c.Pong(t0, make([]byte, 126)); !errors.Is(err, protocol.ErrControlTooLong) {
		t.Fatalf("Pong: %v", err)
	}
	if err := c.Pong(t0, []byte("beat")); err != nil {
		t.Fatal(err)
	}
	out, _ := drain(c)
	if want := wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("beat")); !bytes.Equal(out, want) {
		t.Fatalf("out % x", out)
	}
}

// Sending moves no keepalive timer: frames sent with no time, or with an
// earlier time than the engine has seen, leave the keepalive deadline
// where it was. The output they leave starts the write watchdog from the
// engine's latest time (never the send's), and its drain stops it again.
func TestSendMovesNoTimer(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.Receive(at(5*time.Second), wireFrame(protocol.RoleServer, frame.OpText, true, []byte("x")))
	drain(c)
	before := c.Deadline()
	watchdog := at(5*time.Second + protocol.DefaultWriteTimeout/4)
	for _, now := range []time.Time{{}, t0, at(5 * time.Second)} {
		if err := c.SendWith(now, frame.OpText, []byte("y"), true, protocol.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		if d := c.Deadline(); !d.Equal(watchdog) {
			t.Fatalf("a send at %v: deadline %v, want the watchdog's first look at %v", now, d.Sub(t0), watchdog.Sub(t0))
		}
	}
	drain(c)
	if d := c.Deadline(); !d.Equal(before) {
		t.Fatalf("after the drain the deadline is %v, want %v", d.Sub(t0), before.Sub(t0))
	}
	c.HandleTimeout(before)
	if out, _ := drain(c); !bytes.Equal(out, wireFrame(protocol.RoleClient, frame.OpPing, true, keepalivePayload(1))) {
		t.Fatalf("at the deadline: % x", out)
	}
}

// Times are kept as offsets from the connection's start: a timeout too
// large to add (math.MaxInt64) is a deadline never reached, not one that
// wraps into the past, and a time before the start counts as the start.
func TestTimeoutsBeyondRange(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = math.MaxInt64
	c := established(t, protocol.RoleServer, cfg)
	c.Receive(at(time.Hour), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("x")))
	drain(c)
	if d := c.Deadline(); !d.After(at(100 * 365 * 24 * time.Hour)) {
		t.Fatalf("deadline %v after the start, want one past a century", d.Sub(t0))
	}
	c.HandleTimeout(at(200 * 365 * 24 * time.Hour))
	if out, _ := drain(c); len(out) != 0 {
		t.Fatalf("a ping went out: % x", out)
	}
	// A clock before the connection's start is taken as the start.
	d := established(t, protocol.RoleServer, testConfig())
	d.HandleTimeout(t0.Add(-time.Hour))
	if got := d.Deadline(); !got.Equal(at(20 * time.Second)) {
		t.Fatalf("deadline %v after the start, want 20s", got.Sub(t0))
	}
}

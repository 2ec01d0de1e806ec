package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// While reading is paused no keepalive ping goes out and an unanswered ping
// does not fail the connection; after the resume the peer gets a full
// interval and a full pong timeout, and a missing pong then is the peer's.
func TestPauseReadingSuspendsKeepalive(t *testing.T) {
	tests := []struct {
		name       string
		pingFirst  bool          // a keepalive ping is out before the pause
		pause      time.Duration // when reading pauses
		resume     time.Duration // when it resumes
		wantPingAt time.Duration // first keepalive ping after the resume (0: already sent)
		wantFailAt time.Duration // 1011 if no pong
	}{
		{"pause before the ping", false, 5 * time.Second, 100 * time.Second, 120 * time.Second, 140 * time.Second},
		{"pause while a ping is out", true, 25 * time.Second, 300 * time.Second, 0, 320 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := established(t, protocol.RoleServer, testConfig())
			if tt.pingFirst {
				s.HandleTimeout(at(20 * time.Second))
				if out, _ := drain(s); !bytes.Equal(out, wireFrame(protocol.RoleServer, frame.OpPing, true, keepalivePayload(1))) {
					t.Fatalf("ping % x", out)
				}
			}
			s.PauseReading(at(tt.pause))
			if !s.ReadingPaused() || !s.Deadline().IsZero() {
				t.Fatalf("paused: %v, deadline %v", s.ReadingPaused(), s.Deadline())
			}
			// Long after any keepalive deadline: nothing happens.
			s.HandleTimeout(at(tt.resume - time.Nanosecond))
			if out, evs := drain(s); len(out) != 0 || len(evs) != 0 || s.State() != protocol.StateOpen {
				t.Fatalf("while paused: out % x, events %v, state %v", out, kinds(evs), s.State())
			}
			s.ResumeReading(at(tt.resume))
			if s.ReadingPaused() {
				t.Fatal("still paused")
			}
			if tt.wantPingAt != 0 {
				if d := s.Deadline(); !d.Equal(at(tt.wantPingAt)) {
					t.Fatalf("ping due %v, want %v", d.Sub(t0), tt.wantPingAt)
				}
				s.HandleTimeout(at(tt.wantPingAt))
				if out, _ := drain(s); !bytes.Equal(out, wireFrame(protocol.RoleServer, frame.OpPing, true, keepalivePayload(1))) {
					t.Fatalf("ping after resume % x", out)
				}
			}
			if d := s.Deadline(); !d.Equal(at(tt.wantFailAt)) {
				t.Fatalf("pong due %v, want %v", d.Sub(t0), tt.wantFailAt)
			}
			s.HandleTimeout(at(tt.wantFailAt))
			if st := s.CloseStatus(); !errors.Is(st.Err, protocol.ErrKeepaliveTimeout) || st.Code != frame.CloseInternalError {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// The close timer is not flow control's business: it runs while paused.
func TestPauseReadingKeepsCloseTimer(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	s.PauseReading(at(time.Second))
	s.Close(at(2*time.Second), frame.CloseNormal, "")
	drain(s)
	if d := s.Deadline(); !d.Equal(at(12 * time.Second)) {
		t.Fatalf("close deadline %v", d.Sub(t0))
	}
	s.HandleTimeout(at(12 * time.Second))
	if st := s.CloseStatus(); !errors.Is(st.Err, protocol.ErrCloseTimeout) {
		t.Fatalf("status %+v", st)
	}
}

// With SetStopAfterMessage, Receive stops after each complete message and
// a violation behind it is seen only when the driver goes on: the reply to
// the message can be sent before the close frame.
func TestStopAfterMessage(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	s.SetStopAfterMessage(true)
	in := concat(
		wireFrame(protocol.RoleClient, frame.OpText, false, []byte("he")),
		wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("p")),
		wireFrame(protocol.RoleClient, frame.OpContinuation, true, []byte("llo")),
		wireFrame(protocol.RoleClient, frame.OpBinary, true, []byte{1}),
		wireFrameRsv(protocol.RoleClient, frame.OpText, 4, true, []byte("bad")),
	)
	if err := s.Receive(at(time.Second), in); err != nil {
		t.Fatal(err)
	}
	out, evs := drainRound(s)
	if got := kinds(evs); len(got) != 3 || got[0] != protocol.EventData || got[1] != protocol.EventPing || got[2] != protocol.EventData || string(evs[2].Data) != "llo" {
		t.Fatalf("first round %v", got)
	}
	if !bytes.Equal(out, wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("p"))) || !s.InputPending() {
		t.Fatalf("out % x, pending %v", out, s.InputPending())
	}
	// The application answers "hello"; the engine goes on.
	s.Send(at(time.Second), frame.OpText, []byte("hello"), true)
	if err := s.Receive(at(time.Second), nil); err != nil {
		t.Fatal(err)
	}
	out, evs = drainRound(s)
	if len(evs) != 1 || !bytes.Equal(evs[0].Data, []byte{1}) || !s.InputPending() {
		t.Fatalf("second round %v pending %v", kinds(evs), s.InputPending())
	}
	if !bytes.Equal(out, wireFrame(protocol.RoleServer, frame.OpText, true, []byte("hello"))) {
		t.Fatalf("reply % x", out)
	}
	err := s.Receive(at(time.Second), nil)
	if !errors.Is(err, protocol.ErrReservedBits) {
		t.Fatalf("err %v", err)
	}
	out, _ = drainRound(s)
	if want := wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseProtocolError, protocol.ErrReservedBits.Reason)); !bytes.Equal(out, want) || s.InputPending() {
		t.Fatalf("close % x pending %v", out, s.InputPending())
	}
	// Without the option the same bytes fail in one Receive.
	s2 := established(t, protocol.RoleServer, testConfig())
	if err := s2.Receive(at(time.Second), in); !errors.Is(err, protocol.ErrReservedBits) || s2.InputPending() {
		t.Fatalf("without stopping: %v", err)
	}
}

// A message that ends exactly where the input ends leaves nothing pending.
func TestStopAfterMessageNothingLeft(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	s.SetStopAfterMessage(true)
	s.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("x")))
	if _, evs := drain(s); len(evs) != 1 || s.InputPending() {
		t.Fatalf("events %v pending %v", kinds(evs), s.InputPending())
	}
}

// Abort ends the connection without a close frame and drops unwritten
// output: 1006, with the cause.
func TestAbort(t *testing.T) {
	cause := errors.New("write cut short")
	for _, tt := range []struct {
		cause, want error
	}{{cause, cause}, {nil, protocol.ErrAborted}} {
		c := established(t, protocol.RoleServer, testConfig())
		c.Send(at(0), frame.OpText, []byte("never written"), true)
		c.Abort(at(time.Second), tt.cause)
		out, evs := drain(c)
		st := c.CloseStatus()
		if len(out) != 0 || len(evs) != 1 || evs[0].Kind != protocol.EventClosed || !c.ShouldCloseTransport() {
			t.Fatalf("out % x events %v", out, kinds(evs))
		}
		if st.Code != frame.CloseAbnormal || st.Sent || !errors.Is(st.Err, tt.want) {
			t.Fatalf("status %+v", st)
		}
		c.Abort(at(2*time.Second), nil) // no-op once closed
		if c.CloseStatus().Err != st.Err {
			t.Fatal("second Abort changed the status")
		}
	}
}

// AwaitingPong is true from a ping until its pong (or a later one's).
func TestAwaitingPong(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	if c.AwaitingPong() {
		t.Fatal("awaiting before any ping")
	}
	c.HandleTimeout(at(20 * time.Second))
	drain(c)
	if !c.AwaitingPong() {
		t.Fatal("not awaiting after the keepalive ping")
	}
	c.Receive(at(21*time.Second), wireFrame(protocol.RoleServer, frame.OpPong, true, keepalivePayload(1)))
	drain(c)
	if c.AwaitingPong() {
		t.Fatal("awaiting after the pong")
	}
	c.Ping(at(22*time.Second), []byte("app"))
	if !c.AwaitingPong() {
		t.Fatal("not awaiting after an application ping")
	}
}

// Release drops the buffers of a closed connection and keeps its status;
// before the end it does nothing.
func TestRelease(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	big := bytes.Repeat([]byte("x"), 100<<10)
	c.Send(at(0), frame.OpBinary, big, true)
	n := len(c.Outgoing())
	c.Release() // open: no effect
	if len(c.Outgoing()) != n || n < 100<<10 {
		t.Fatalf("Release before the end dropped output: %d bytes", len(c.Outgoing()))
	}
	c.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "")))
	drain(c)
	st := c.CloseStatus()
	c.Release()
	if c.CloseStatus().Err != st.Err || len(c.Outgoing()) != 0 || c.State() != protocol.StateClosed {
		t.Fatal("Release changed the status")
	}
	if b := c.ReadBuffer(10); len(b) < 10 {
		t.Fatal("ReadBuffer after Release")
	}
}

// Every "the caller misused the API" error is one errors.Is away from
// ErrInvalidState; the connection's end is not.
func TestMisuseIsInvalidState(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	c.Send(at(0), frame.OpText, []byte("a"), false)
	errs := map[string]error{
		"ErrMessageInProgress": c.Send(at(0), frame.OpBinary, []byte("b"), true),
	}
	c.Send(at(0), frame.OpContinuation, nil, true)
	errs["ErrNoMessage"] = c.Send(at(0), frame.OpContinuation, []byte("c"), true)
	c.Close(at(0), frame.CloseNormal, "")
	errs["ErrClosing"] = c.Send(at(0), frame.OpText, []byte("d"), true)
	c.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "")))
	errs["ErrClosed"] = c.Send(at(0), frame.OpText, []byte("e"), true)
	cl, _ := protocol.NewClient(testConfig(), protocol.ClientOptions{URL: "ws://example.com/"}, t0)
	errs["ErrNotOpen"] = cl.Send(at(0), frame.OpText, nil, true)
	for name, err := range errs {
		if err == nil || !errors.Is(err, protocol.ErrInvalidState) {
			t.Errorf("%s: %v does not match ErrInvalidState", name, err)
		}
	}
	if st := c.CloseStatus(); !st.Clean || errors.Is(st.Err, protocol.ErrInvalidState) {
		t.Errorf("status %+v", st)
	}
	f := established(t, protocol.RoleServer, testConfig())
	f.HandleTimeout(at(20 * time.Second))
	f.HandleTimeout(at(40 * time.Second))
	if st := f.CloseStatus(); st.Clean || !st.Sent {
		t.Errorf("a keepalive failure is not clean: %+v", st)
	}
}

// CloseCodeOf tells a connection's end from everything else: 0 for nil or
// an error of the application's, the code (1006 included) for a close.
func TestCloseCodeOf(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	c.ReceiveEOF(at(0))
	for _, tt := range []struct {
		err  error
		want frame.CloseCode
	}{
		{nil, 0},
		{errors.New("json: cannot unmarshal"), 0},
		{c.CloseStatus().Err, frame.CloseAbnormal},
		{fmt.Errorf("read: %w", &protocol.CloseError{Code: frame.CloseNormal}), frame.CloseNormal},
	} {
		if got := protocol.CloseCodeOf(tt.err); got != tt.want {
			t.Errorf("CloseCodeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// Errors read on one line and still match their sentinel.
func TestErrorsOnOneLine(t *testing.T) {
	_, err1 := protocol.NewClient(testConfig(), protocol.ClientOptions{URL: "ws://example.com/",
		Header: http.Header{"Connection": {"close"}}}, t0)
	_, err2 := protocol.NewClient(testConfig(), protocol.ClientOptions{URL: "ws://example.com/",
		Subprotocols: []string{"not a token"}}, t0)
	_, err3 := protocol.ParseURL("ws://[::1")
	for _, tt := range []struct {
		err, sentinel error
	}{{err1, protocol.ErrReservedHeader}, {err2, protocol.ErrInvalidHeader}, {err3, protocol.ErrBadURL}} {
		if !errors.Is(tt.err, tt.sentinel) || strings.Contains(tt.err.Error(), "\n") {
			t.Errorf("%q (want %v, one line)", tt.err, tt.sentinel)
		}
	}
}

// A zero Config field means its default: a Config that sets only the
// message size keeps keepalive and the close timeout. Disabled turns a
// timer off.
func TestZeroConfigMeansDefaults(t *testing.T) {
	c := established(t, protocol.RoleServer, protocol.Config{MaxMessageSize: 4096, Rand: protocoltest.KeyReader(key)})
	if d := c.Deadline(); !d.Equal(at(protocol.DefaultPingInterval)) {
		t.Fatalf("keepalive deadline %v", d.Sub(t0))
	}
	c.HandleTimeout(at(protocol.DefaultPingInterval))
	drain(c)
	if d := c.Deadline(); !d.Equal(at(protocol.DefaultPingInterval + protocol.DefaultPongTimeout)) {
		t.Fatalf("pong deadline %v", d.Sub(t0))
	}
	c.Close(at(21*time.Second), frame.CloseNormal, "")
	drain(c) // written: the write watchdog's look is not due
	if d := c.Deadline(); !d.Equal(at(21*time.Second + protocol.DefaultCloseTimeout)) {
		t.Fatalf("close deadline %v", d.Sub(t0))
	}
	off := established(t, protocol.RoleServer, protocol.Config{PingInterval: protocol.Disabled, CloseTimeout: protocol.Disabled, WriteTimeout: protocol.Disabled})
	off.Close(at(0), frame.CloseNormal, "")
	if d := off.Deadline(); !d.IsZero() {
		t.Fatalf("disabled timers: deadline %v", d.Sub(t0))
	}
	// The limit of 4096 holds, decided from the header.
	if err := c.Receive(at(22*time.Second), wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 4097))[:8]); !errors.Is(err, protocol.ErrMessageTooBig) {
		t.Fatalf("over the limit: %v", err)
	}
}

// SetMaxMessageSize changes the limit for what comes next.
func TestSetMaxMessageSize(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	c.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 100)))
	drain(c)
	c.SetMaxMessageSize(50)
	err := c.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 51)))
	out, _ := drain(c)
	if !errors.Is(err, protocol.ErrMessageTooBig) || !bytes.Equal(out, wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseTooBig, protocol.ErrMessageTooBig.Reason))) {
		t.Fatalf("err %v out % x", err, out)
	}
}

// ReleaseReadBuffer drops an empty receive buffer and refuses while input
// or event data is pending; parsing goes on exactly as before.
func TestReleaseReadBuffer(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	in := wireFrame(protocol.RoleClient, frame.OpText, true, []byte("hello"))
	copy(c.ReadBuffer(4096), in[:4])
	c.ReceiveBuffered(at(0), 4)
	if c.ReleaseReadBuffer() {
		t.Fatal("released with a partial frame")
	}
	copy(c.ReadBuffer(len(in)), in[4:])
	c.ReceiveBuffered(at(0), len(in)-4)
	if c.ReleaseReadBuffer() {
		t.Fatal("released under a pending event")
	}
	_, evs := drain(c)
	if len(evs) != 1 || string(evs[0].Data) != "hello" {
		t.Fatalf("events %v", kinds(evs))
	}
	if !c.ReleaseReadBuffer() {
		t.Fatal("not released when empty")
	}
	c.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpBinary, true, []byte{1, 2, 3}))
	if _, evs := drain(c); len(evs) != 1 || !bytes.Equal(evs[0].Data, []byte{1, 2, 3}) {
		t.Fatalf("after release: %v", kinds(evs))
	}
}

// Release keeps a buffer a keepalive ping and its pong fit in, so that a
// parked connection's keepalive rounds allocate nothing; after a larger
// message both buffers go, and the next round allocates them again.
func TestReleaseKeepsATinyBuffer(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	ping := wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("12345678"))
	pong := wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("12345678"))
	round := func() {
		c.Receive(at(0), ping)
		for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
		}
		if !bytes.Equal(c.Outgoing(), pong) {
			t.Fatalf("out % x, want the pong", c.Outgoing())
		}
		c.Advance(len(pong))
		if !c.ReleaseReadBuffer() || !c.ReleaseWriteBuffer() {
			t.Fatal("not released")
		}
	}
	round()
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Errorf("%v allocations per ping and pong after release", n)
	}
	c.Receive(at(0), wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 1000)))
	c.SendMessage(at(0), frame.OpBinary, make([]byte, 1000))
	drain(c)
	if !c.ReleaseReadBuffer() || !c.ReleaseWriteBuffer() {
		t.Fatal("not released after the message")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	round()
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n == 0 {
		t.Error("the round after a 1000-byte message allocated nothing: the large buffers were kept")
	}
}

// ReleaseWriteBuffer drops the output buffer once everything in it was
// written (or taken), refuses while bytes wait, and the next frame goes out
// exactly as before.
func TestReleaseWriteBuffer(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	big := make([]byte, 64<<10)
	if err := c.SendMessage(at(0), frame.OpBinary, big); err != nil {
		t.Fatal(err)
	}
	if c.ReleaseWriteBuffer() {
		t.Fatal("released with output waiting")
	}
	c.Advance(10)
	if c.ReleaseWriteBuffer() {
		t.Fatal("released with part of a frame unwritten")
	}
	c.Advance(len(c.Outgoing()))
	if !c.ReleaseWriteBuffer() {
		t.Fatal("not released when everything was written")
	}
	if c.SendMessage(at(0), frame.OpText, []byte("after")) != nil {
		t.Fatal("send after release")
	}
	if got, want := c.Outgoing(), wireFrame(protocol.RoleServer, frame.OpText, true, []byte("after")); !bytes.Equal(got, want) {
		t.Fatalf("after release: % x, want % x", got, want)
	}
	if taken := c.TakeOutgoing(nil); len(taken) == 0 || !c.ReleaseWriteBuffer() {
		t.Fatal("not released after TakeOutgoing")
	}
}

// Output past the high water mark holds input, and keepalive with it, until
// it is down to a quarter of the mark; the end of the hold counts as hearing
// from the peer. A pause holds input too, and a connection that is closing
// is never held (the peer's close frame must come in).
func TestHoldInputForOutput(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTimeout = time.Hour // the watchdog stays out of the way
	s := established(t, protocol.RoleServer, cfg)
	s.SetOutputHighWater(1000)
	if s.HoldInput(at(time.Second)) {
		t.Fatal("held with no output")
	}
	if err := s.SendMessage(at(time.Second), frame.OpBinary, make([]byte, 1100)); err != nil {
		t.Fatal(err)
	}
	if !s.HoldInput(at(time.Second)) {
		t.Fatalf("not held with %d bytes unsent, mark 1000", s.UnsentOutput())
	}
	s.HandleTimeout(at(time.Minute)) // long past the keepalive interval
	if n := len(s.Outgoing()); n != 1104 {
		t.Fatalf("%d bytes out while held, want the message's 1104 and no ping", n)
	}
	s.Advance(800)
	if !s.HoldInput(at(61 * time.Second)) {
		t.Fatalf("released with %d bytes unsent, above a quarter of the mark", s.UnsentOutput())
	}
	s.Advance(60)
	if s.HoldInput(at(62 * time.Second)) {
		t.Fatalf("still held with %d bytes unsent", s.UnsentOutput())
	}
	if d, want := s.Deadline(), at(62*time.Second+cfg.PingIntervalOrDefault()); !d.Equal(want) {
		t.Fatalf("next deadline %v, want the keepalive ping one interval after the hold's end, %v", d.Sub(t0), want.Sub(t0))
	}
	s.PauseReading(at(63 * time.Second))
	if !s.HoldInput(at(63 * time.Second)) {
		t.Fatal("a pause does not hold input")
	}
	s.ResumeReading(at(64 * time.Second))
	if s.HoldInput(at(64 * time.Second)) {
		t.Fatal("held after the resume")
	}
	s.SendMessage(at(65*time.Second), frame.OpBinary, make([]byte, 2000))
	if !s.HoldInput(at(65 * time.Second)) {
		t.Fatal("not held past the mark again")
	}
	if err := s.Close(at(66*time.Second), frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	if s.HoldInput(at(66 * time.Second)) {
		t.Fatal("a closing connection is held: the peer's close frame would not be read")
	}
}

// BufferedInput counts what the engine holds unparsed: a cut header, a
// small frame's payload cut short (kept whole until it is in), what
// follows a message while InputPending; not a large data frame's part,
// which is delivered as it comes. A driver that asks ReadBuffer for its
// read size less these reads into the buffer it has, without growing it.
func TestBufferedInput(t *testing.T) {
	const size = 8 << 10 // the driver's read size, and its buffer's
	small := wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 4<<10))
	large := wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 64<<10))
	two := concat(wireFrame(protocol.RoleClient, frame.OpText, true, []byte("one")), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("two")))
	tests := []struct {
		name      string
		in        []byte
		stopAfter bool
		want      int
	}{
		{"nothing", nil, false, 0},
		{"a header cut after 3 of its 8 bytes", small[:3], false, 3},
		{"a small frame cut short (its 8-byte header parsed)", small[:1000], false, 992},
		{"a small frame whole", small, false, 0},
		{"a large frame's first part", large[:6<<10], false, 0},
		{"a message, then the next while stopped after it", two, true, len(two) / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := established(t, protocol.RoleServer, testConfig())
			s.SetStopAfterMessage(tt.stopAfter)
			s.SwapReadBuffer(make([]byte, 0, size))
			n := copy(s.ReadBuffer(size), tt.in)
			if err := s.ReceiveBuffered(at(time.Second), n); err != nil {
				t.Fatal(err)
			}
			drainRound(s)
			if got := s.BufferedInput(); got != tt.want {
				t.Fatalf("BufferedInput %d, want %d", got, tt.want)
			}
			if room := s.ReadBuffer(size - s.BufferedInput()); len(room) != size-tt.want {
				t.Fatalf("room for %d bytes, want the %d the buffer has left", len(room), size-tt.want)
			}
		})
	}
}

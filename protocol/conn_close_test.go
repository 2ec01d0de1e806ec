package protocol_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

func newPair(t *testing.T) *protocoltest.Pair {
	t.Helper()
	p, err := protocoltest.NewPair(testConfig(), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The close handshake started by either side, with and without a reason:
// exact bytes each way, statuses on both sides, and who closes TCP first.
func TestCloseHandshake(t *testing.T) {
	for _, tc := range []struct {
		name      string
		byClient  bool
		code      frame.CloseCode
		reason    string
		wantCode  frame.CloseCode
		wantReply []byte // close payload of the reply
	}{
		{"client, 1000", true, frame.CloseNormal, "", frame.CloseNormal, closePayload(frame.CloseNormal, "")},
		{"client, 1001 with reason", true, frame.CloseGoingAway, "tab closed", frame.CloseGoingAway, closePayload(frame.CloseGoingAway, "")},
		{"server, 4000 with reason", false, 4000, "app says bye", 4000, closePayload(4000, "")},
		{"server, empty close (1005)", false, frame.CloseNoStatus, "", frame.CloseNoStatus, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t)
			closer, peer := p.Client, p.Server
			if !tc.byClient {
				closer, peer = p.Server, p.Client
			}
			if err := closer.Conn.Close(p.Now, tc.code, tc.reason); err != nil {
				t.Fatal(err)
			}
			if closer.Conn.State() != protocol.StateClosing {
				t.Fatalf("closer state %v", closer.Conn.State())
			}
			if err := p.RunUntilClosed(10); err != nil {
				t.Fatal(err)
			}
			if p.Now != t0 {
				t.Fatalf("the handshake needed a timer: %v", p.Now.Sub(t0))
			}
			closerRole, peerRole := protocol.RoleServer, protocol.RoleClient
			if tc.byClient {
				closerRole, peerRole = protocol.RoleClient, protocol.RoleServer
			}
			if want := wireFrame(closerRole, frame.OpClose, true, closePayload(tc.code, tc.reason)); !bytes.Equal(closer.Wire, want) {
				t.Fatalf("closer wrote % x, want % x", closer.Wire, want)
			}
			if want := wireFrame(peerRole, frame.OpClose, true, tc.wantReply); !bytes.Equal(peer.Wire, want) {
				t.Fatalf("peer wrote % x, want % x", peer.Wire, want)
			}
			for _, s := range []*protocoltest.Side{closer, peer} {
				st := s.Conn.CloseStatus()
				if st.Code != tc.wantCode || !st.Sent || !st.Received {
					t.Fatalf("status %+v", st)
				}
				if !errors.Is(st.Err, &protocol.CloseError{Code: tc.wantCode}) {
					t.Fatalf("status error %v does not match code", st.Err)
				}
			}
			// The connection's close reason is the one received (§7.1.6):
			// the reply carries the code only.
			if st := closer.Conn.CloseStatus(); !st.SentFirst || st.Reason != "" || st.SentReason != tc.reason {
				t.Fatalf("closer status %+v", st)
			}
			if st := peer.Conn.CloseStatus(); st.SentFirst || st.Reason != tc.reason {
				t.Fatalf("peer status %+v", st)
			}
			// "The server MUST close the underlying TCP connection
			// immediately": the client's transport ends by EOF.
			if !p.Server.TransportClosed {
				t.Fatal("server did not close the transport")
			}
			wantClient := []protocol.EventKind{protocol.EventClose, protocol.EventClosed}
			if diff := cmp.Diff(wantClient, p.Client.Kinds()); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

func TestCloseStatusMessages(t *testing.T) {
	p := newPair(t)
	p.Client.Conn.Close(p.Now, frame.CloseNormal, "done")
	if err := p.RunUntilClosed(10); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Client.Conn.CloseStatus().Err.Error(), `websocket: closed 1000 (normal): sent 1000 (normal) "done", then received 1000 (normal)`; got != want {
		t.Errorf("client: %s\nwant     %s", got, want)
	}
	if got, want := p.Server.Conn.CloseStatus().Err.Error(), `websocket: closed 1000 (normal) "done": received 1000 (normal) "done", then sent 1000 (normal)`; got != want {
		t.Errorf("server: %s\nwant     %s", got, want)
	}
}

// EOF without a close frame: 1006, and the message says nothing was sent
// or received.
func TestEOFWithoutClose(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.ReceiveEOF(at(time.Second))
	_, evs := drain(c)
	if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventClosed}) {
		t.Fatalf("events %v", got)
	}
	st := c.CloseStatus()
	if st.Code != frame.CloseAbnormal || st.Sent || st.Received || !errors.Is(st.Err, protocol.ErrTransportClosed) {
		t.Fatalf("status %+v", st)
	}
	if want := "websocket: closed 1006 (abnormal closure): no close frame received or sent: transport closed between frames"; st.Err.Error() != want {
		t.Fatalf("message %q", st.Err.Error())
	}
	if !c.ShouldCloseTransport() {
		t.Fatal("transport not to be closed")
	}
}

// The peer never answers the close frame: after CloseTimeout the engine
// gives up with 1006 and ErrCloseTimeout.
func TestCloseTimeout(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	if err := c.Close(t0, frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	drain(c)
	if d := c.Deadline(); !d.Equal(at(protocol.DefaultCloseTimeout)) {
		t.Fatalf("deadline %v", d.Sub(t0))
	}
	c.HandleTimeout(at(protocol.DefaultCloseTimeout - time.Nanosecond))
	if c.State() != protocol.StateClosing {
		t.Fatalf("early timeout: %v", c.State())
	}
	c.HandleTimeout(at(protocol.DefaultCloseTimeout))
	st := c.CloseStatus()
	if c.State() != protocol.StateClosed || !c.ShouldCloseTransport() || st.Code != frame.CloseAbnormal || !errors.Is(st.Err, protocol.ErrCloseTimeout) {
		t.Fatalf("state %v status %+v", c.State(), st)
	}
	if want := "websocket: closed 1006 (abnormal closure): sent 1000 (normal); no close frame received: close handshake timeout"; st.Err.Error() != want {
		t.Fatalf("message %q", st.Err.Error())
	}
}

// After both close frames the client waits for the server to close TCP, up
// to CloseTimeout, then closes itself; the close is still clean.
func TestClientWaitsForServerToCloseTransport(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.Receive(t0, wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseGoingAway, "restart")))
	drain(c)
	if c.State() != protocol.StateClosing || c.ShouldCloseTransport() {
		t.Fatalf("state %v", c.State())
	}
	c.HandleTimeout(c.Deadline())
	st := c.CloseStatus()
	if c.State() != protocol.StateClosed || !c.ShouldCloseTransport() || st.Code != frame.CloseGoingAway || st.Reason != "restart" {
		t.Fatalf("state %v status %+v", c.State(), st)
	}
	if errors.Is(st.Err, protocol.ErrCloseTimeout) {
		t.Fatal("a completed close handshake reported as a timeout")
	}
}

// Data queued before Close goes out before the close frame; nothing but
// the close frame after it.
func TestDataBeforeCloseGoesFirst(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	c.SendMessage(t0, frame.OpText, []byte("one"))
	c.Send(t0, frame.OpBinary, []byte("tw"), false)
	c.Close(t0, frame.CloseNormal, "")
	if err := c.Send(t0, frame.OpContinuation, []byte("o"), true); !errors.Is(err, protocol.ErrClosing) {
		t.Fatalf("Send after Close: %v", err)
	}
	// Control frames may follow our close: §5.5.1 forbids data frames only.
	if err := c.Ping(t0, []byte("still there?")); err != nil {
		t.Fatalf("Ping after Close: %v", err)
	}
	out, _ := drain(c)
	want := concat(wireFrame(protocol.RoleServer, frame.OpText, true, []byte("one")),
		wireFrame(protocol.RoleServer, frame.OpBinary, false, []byte("tw")),
		wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseNormal, "")),
		wireFrame(protocol.RoleServer, frame.OpPing, true, []byte("still there?")))
	if !bytes.Equal(out, want) {
		t.Fatalf("out % x\nwant % x", out, want)
	}
	// A ping after our close is answered (§5.5.2: a pong is owed unless a
	// close was received), and reported.
	c.Receive(t0, wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("late")))
	out, evs := drain(c)
	if !bytes.Equal(out, wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("late"))) || len(evs) != 1 || evs[0].Kind != protocol.EventPing {
		t.Fatalf("out % x events %v", out, kinds(evs))
	}
	// After the peer's close, nothing is parsed or answered.
	c.Receive(t0, concat(wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "")),
		wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("after close"))))
	out, evs = drain(c)
	if len(out) != 0 || kinds(evs)[0] != protocol.EventClose {
		t.Fatalf("after the peer's close: out % x events %v", out, kinds(evs))
	}
}

func TestCloseArguments(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	for _, tc := range []struct {
		code   frame.CloseCode
		reason string
		want   error
	}{
		{frame.CloseAbnormal, "", frame.ErrCloseCodeNotSendable},
		{1004, "", frame.ErrCloseCodeNotSendable},
		{frame.CloseNormal, string(make([]byte, 124)), frame.ErrCloseReasonTooLong},
		{frame.CloseNormal, "\xff", frame.ErrCloseReasonInvalid},
	} {
		if err := c.Close(t0, tc.code, tc.reason); !errors.Is(err, tc.want) {
			t.Errorf("Close(%v, %q) = %v, want %v", tc.code, tc.reason, err, tc.want)
		}
	}
	if out, _ := drain(c); len(out) != 0 || c.State() != protocol.StateOpen {
		t.Fatalf("refused Close changed something: % x %v", out, c.State())
	}
	c.Close(t0, frame.CloseNormal, "")
	if err := c.Close(t0, frame.CloseGoingAway, ""); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	out, _ := drain(c)
	if want := wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "")); !bytes.Equal(out, want) {
		t.Fatalf("out % x", out)
	}
}

// Fail sends the close frame and drops the transport at once.
func TestFail(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	if err := c.Fail(t0, frame.ClosePolicyViolation, "nope"); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(c)
	if want := wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.ClosePolicyViolation, "nope")); !bytes.Equal(out, want) {
		t.Fatalf("out % x", out)
	}
	st := c.CloseStatus()
	if !c.ShouldCloseTransport() || st.Code != frame.ClosePolicyViolation || len(evs) != 1 || evs[0].Kind != protocol.EventClosed {
		t.Fatalf("status %+v events %v", st, kinds(evs))
	}
}

// Every operation on a closed connection is refused or ignored, and never
// produces output.
func TestClosedIsInert(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	c.ReceiveEOF(t0)
	drain(c)
	if err := c.SendMessage(t0, frame.OpText, []byte("x")); !errors.Is(err, protocol.ErrClosed) {
		t.Fatalf("Send: %v", err)
	}
	if err := c.Close(t0, frame.CloseNormal, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c.HandleTimeout(at(time.Hour))
	c.ReceiveEOF(at(time.Hour))
	if out, evs := drain(c); len(out) != 0 || len(evs) != 0 || !c.Deadline().IsZero() {
		t.Fatalf("out % x events %v deadline %v", out, kinds(evs), c.Deadline())
	}
}

// EOF says where the stream ended: a cut in the middle of a frame reads
// differently from an idle connection dropped between frames.
func TestEOFSaysWhere(t *testing.T) {
	big := make([]byte, 65536)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"between frames", wireFrame(protocol.RoleClient, frame.OpText, true, []byte("hi")),
			"no close frame received or sent: transport closed between frames"},
		{"one byte of a header", []byte{0x81},
			"no close frame received or sent: transport closed 1 byte into a frame header"},
		{"inside a payload", wireFrame(protocol.RoleClient, frame.OpBinary, true, big)[:14+1200],
			"no close frame received or sent: transport closed after 1200 of 65536 payload bytes of a binary frame"},
		{"inside a fragmented message", wireFrame(protocol.RoleClient, frame.OpText, false, []byte("part")),
			"no close frame received or sent: transport closed between frames of a fragmented message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := established(t, protocol.RoleServer, testConfig())
			c.Receive(at(0), tt.in)
			c.ReceiveEOF(at(time.Second))
			var ce *protocol.CloseError
			st := c.CloseStatus()
			if !errors.As(st.Err, &ce) || ce.Message != tt.want || st.Code != frame.CloseAbnormal || !errors.Is(st.Err, protocol.ErrTransportClosed) {
				t.Fatalf("got %q (%v), want %q", ce.Message, st.Err, tt.want)
			}
		})
	}
	cl, _ := protocol.NewClient(testConfig(), protocol.ClientOptions{URL: "ws://example.com/"}, t0)
	cl.Receive(at(0), []byte("HTTP/1.1 101 Switching"))
	cl.ReceiveEOF(at(0))
	if err := cl.CloseStatus().Err; err == nil || !strings.Contains(err.Error(), "transport closed during the opening handshake") {
		t.Fatalf("handshake EOF: %v", err)
	}
}

// EndTransport: the close sequence's last step. Each case brings a server
// to the end, then writes (or not) and reports the peer's EOF (or not);
// the steps say what EndTransport answers and when.
func TestEndTransport(t *testing.T) {
	closeFrom := func(r protocol.Role) []byte {
		p, _ := frame.AppendClose(nil, frame.CloseNormal, "")
		return wireFrame(r, frame.OpClose, true, p)
	}
	ct := protocol.DefaultCloseTimeout
	type step struct {
		at        time.Duration
		do        string // "write", "eof", "timeout", "abort" or ""
		halfClose bool
		want      protocol.TransportEnd
	}
	tests := []struct {
		name  string
		end   func(c *protocol.Conn) // brings the connection to its end at time 1 s
		steps []step
	}{
		{"the peer closed: linger until its EOF", func(c *protocol.Conn) { c.Receive(at(time.Second), closeFrom(protocol.RoleClient)) }, []step{
			{time.Second, "", true, protocol.KeepTransport}, // our reply is not written
			{2 * time.Second, "write", true, protocol.HalfCloseTransport},
			{3 * time.Second, "", true, protocol.KeepTransport},
			{4 * time.Second, "eof", true, protocol.CloseTransportNow},
		}},
		{"the linger has its close timeout", func(c *protocol.Conn) { c.Receive(at(time.Second), closeFrom(protocol.RoleClient)) }, []step{
			{2 * time.Second, "write", true, protocol.HalfCloseTransport},
			{2*time.Second + ct - time.Nanosecond, "timeout", true, protocol.KeepTransport},
			{2*time.Second + ct, "timeout", true, protocol.CloseTransportNow},
		}},
		{"no half-close, the peer's close came: no linger", func(c *protocol.Conn) { c.Receive(at(time.Second), closeFrom(protocol.RoleClient)) }, []step{
			{2 * time.Second, "write", false, protocol.CloseTransportNow},
		}},
		{"the peer's EOF came first: no linger", func(c *protocol.Conn) {
			c.Fail(at(time.Second), frame.CloseInternalError, "")
			c.ReceiveEOF(at(time.Second))
		}, []step{
			{2 * time.Second, "write", true, protocol.CloseTransportNow},
		}},
		{"output the peer never takes has the close timeout", func(c *protocol.Conn) { c.Fail(at(time.Second), frame.CloseInternalError, "") }, []step{
			{time.Second, "", true, protocol.KeepTransport},
			{time.Second + ct - time.Nanosecond, "timeout", true, protocol.KeepTransport},
			{time.Second + ct, "timeout", true, protocol.CloseTransportNow},
		}},
		{"after Abort at once", func(c *protocol.Conn) { c.Fail(at(time.Second), frame.CloseInternalError, "") }, []step{
			{time.Second, "", true, protocol.KeepTransport},
			{2 * time.Second, "abort", true, protocol.CloseTransportNow},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := established(t, protocol.RoleServer, testConfig())
			if got := c.EndTransport(at(0), true); got != protocol.KeepTransport {
				t.Fatalf("open: %v", got)
			}
			tt.end(c)
			for c.NextEvent().Kind != protocol.EventNone {
			}
			if !c.ShouldCloseTransport() {
				t.Fatal("not at the end")
			}
			for i, s := range tt.steps {
				now := at(s.at)
				switch s.do {
				case "write":
					c.Advance(len(c.Outgoing()))
				case "eof":
					c.ReceiveEOF(now)
				case "timeout":
					c.HandleTimeout(now)
				case "abort":
					c.Abort(now, nil)
				}
				if got := c.EndTransport(now, s.halfClose); got != s.want {
					t.Fatalf("step %d (%s at %v): %v, want %v", i, s.do, s.at, got, s.want)
				}
			}
		})
	}
}

// Output left unwritten at the end (a close frame the peer does not take)
// is bounded by the close timeout from the end on, before any EndTransport:
// a driver that writes first and asks after has a Deadline for that write.
// Once the output is written the bound is gone, and after Abort there was
// none.
func TestUnwrittenOutputBoundedFromTheEnd(t *testing.T) {
	cfg := testConfig()
	cfg.CloseTimeout = 3 * time.Second
	for _, tc := range []struct {
		name string
		end  func(c *protocol.Conn) // ends the connection at t0, output unwritten
		// write reports the output as written (nil: it never is).
		write     func(c *protocol.Conn)
		wantBound bool
	}{
		{"fail, never written", func(c *protocol.Conn) { c.Fail(t0, frame.CloseProtocolError, "") }, nil, true},
		{"the peer's close, reply never written", func(c *protocol.Conn) {
			c.Receive(t0, wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "")))
		}, nil, true},
		{"fail, then written", func(c *protocol.Conn) { c.Fail(t0, frame.CloseProtocolError, "") },
			func(c *protocol.Conn) { c.Advance(len(c.Outgoing())) }, true},
		{"fail, then taken and written", func(c *protocol.Conn) { c.Fail(t0, frame.CloseProtocolError, "") },
			func(c *protocol.Conn) { c.Wrote(len(c.TakeOutgoing(nil))) }, true},
		{"abort", func(c *protocol.Conn) { c.Abort(t0, errors.New("reset")) }, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := established(t, protocol.RoleServer, cfg)
			tc.end(c)
			drain := func() {
				for c.NextEvent().Kind != protocol.EventNone {
				}
			}
			drain()
			if c.State() != protocol.StateClosed || !c.ShouldCloseTransport() {
				t.Fatalf("state %v, close transport %v", c.State(), c.ShouldCloseTransport())
			}
			want := time.Time{}
			if tc.wantBound {
				want = at(3 * time.Second)
			}
			if got := c.Deadline(); !got.Equal(want) {
				t.Fatalf("deadline %v after the end, want %v", got.Sub(t0), want.Sub(t0))
			}
			if tc.write != nil {
				tc.write(c)
				if c.UnsentOutput() != 0 || !c.Deadline().IsZero() {
					t.Fatalf("written: %d unsent, deadline %v; want none", c.UnsentOutput(), c.Deadline().Sub(t0))
				}
				// The transport ends as before: the server half-closes and
				// lingers, bounded again.
				if got := c.EndTransport(at(time.Second), true); got != protocol.HalfCloseTransport ||
					!c.Deadline().Equal(at(4*time.Second)) {
					t.Fatalf("EndTransport %v, deadline %v", got, c.Deadline().Sub(t0))
				}
				return
			}
			if tc.wantBound {
				c.HandleTimeout(c.Deadline())
			}
			if got := c.EndTransport(at(3*time.Second), true); got != protocol.CloseTransportNow {
				t.Fatalf("EndTransport at the bound: %v, want close", got)
			}
		})
	}
}

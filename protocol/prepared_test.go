package protocol_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// deflatePair opens a client and a server that negotiated permessage-deflate
// with the given configurations.
func deflatePair(t *testing.T, client, server deflate.Config) *protocoltest.Pair {
	t.Helper()
	p, err := protocoltest.Handshake(testConfig(), protocol.ClientOptions{URL: "ws://h/", Extensions: []protocol.ClientExtension{client.Client()}},
		protocol.ServerOptions{Extensions: []protocol.ServerExtension{server.Server()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !deflate.Negotiated(p.Server.Conn.Extensions()) {
		t.Fatal("not negotiated")
	}
	return p
}

// A prepared message goes out as the bytes a plain send of it would make on
// a connection of the same form, encoded once per form however many
// connections it is sent on; a client masks its own copy.
func TestSendPreparedEncodesOncePerForm(t *testing.T) {
	text := []byte(strings.Repeat("prepared once, sent to many; ", 30))
	m, err := protocol.NewPreparedMessage(frame.OpText, text)
	if err != nil {
		t.Fatal(err)
	}
	// Plain servers: the frame a SendMessage writes.
	for range 3 {
		s := established(t, protocol.RoleServer, testConfig())
		if err := s.SendPrepared(t0, m); err != nil {
			t.Fatal(err)
		}
		out, _ := drain(s)
		if want := wireFrame(protocol.RoleServer, frame.OpText, true, text); !bytes.Equal(out, want) {
			t.Fatalf("plain server: % x", out[:16])
		}
	}
	if m.Forms() != 1 {
		t.Fatalf("%d encodings for 3 plain servers", m.Forms())
	}
	// A client: masked with its own key.
	c := established(t, protocol.RoleClient, testConfig())
	c.SendPrepared(t0, m)
	if out, _ := drain(c); !bytes.Equal(out, wireFrame(protocol.RoleClient, frame.OpText, true, text)) {
		t.Fatal("client frame differs from a plain send's")
	}
	// Compressing servers without their own context: one more encoding,
	// the bytes a fresh compressor makes, and the clients read the text.
	for range 3 {
		p := deflatePair(t, deflate.Config{}, deflate.Config{})
		ref := deflatePair(t, deflate.Config{}, deflate.Config{})
		p.Server.Conn.SendPrepared(p.Now, m)
		ref.Server.Conn.SendMessage(ref.Now, frame.OpText, text)
		got, _ := drain(p.Server.Conn)
		want, _ := drain(ref.Server.Conn)
		if !bytes.Equal(got, want) || len(got) >= len(text) {
			t.Fatalf("compressed prepared frame (%d bytes) differs from a plain send's (%d)", len(got), len(want))
		}
		p.Client.Conn.Receive(p.Now, got)
		if _, evs := drain(p.Client.Conn); len(evs) != 1 || !bytes.Equal(evs[0].Data, text) {
			t.Fatalf("client read %v", evs)
		}
	}
	if m.Forms() != 2 {
		t.Fatalf("%d encodings for plain and compressed servers", m.Forms())
	}
}

// A connection that keeps its compression context (ContextTakeover) sends a
// prepared message through that context, never a shared encoding: the peer
// reads it and every message after it, whose back-references would go
// astray if the two windows had drifted.
func TestSendPreparedKeepsContext(t *testing.T) {
	msgs := []string{strings.Repeat("alpha beta gamma ", 20), strings.Repeat("alpha beta gamma delta ", 20), strings.Repeat("gamma delta alpha ", 20)}
	m, _ := protocol.NewPreparedMessage(frame.OpText, []byte(msgs[1]))
	p := deflatePair(t, deflate.Config{}, deflate.Config{ContextTakeover: true})
	s, c := p.Server.Conn, p.Client.Conn
	s.SendMessage(p.Now, frame.OpText, []byte(msgs[0]))
	s.SendPrepared(p.Now, m)
	s.SendMessage(p.Now, frame.OpText, []byte(msgs[2]))
	out, _ := drain(s)
	c.Receive(p.Now, out)
	_, evs := drain(c)
	var got []string
	for _, ev := range evs {
		got = append(got, string(ev.Data))
	}
	if diff := cmp.Diff(msgs, got); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	if m.Forms() != 0 {
		t.Fatalf("a shared encoding was made for a connection with its own context")
	}
}

// SendPrepared refuses what Send refuses, and changes nothing.
func TestSendPreparedMisuse(t *testing.T) {
	if _, err := protocol.NewPreparedMessage(frame.OpPing, nil); !errors.Is(err, protocol.ErrBadOpcode) {
		t.Fatalf("ping: %v", err)
	}
	if _, err := protocol.NewPreparedMessage(frame.OpText, []byte{0xff}); !errors.Is(err, protocol.ErrInvalidText) {
		t.Fatalf("invalid text: %v", err)
	}
	m, _ := protocol.NewPreparedMessage(frame.OpBinary, []byte("x"))
	s := established(t, protocol.RoleServer, testConfig())
	s.Send(t0, frame.OpBinary, []byte("a"), false)
	drain(s)
	if err := s.SendPrepared(t0, m); !errors.Is(err, protocol.ErrMessageInProgress) {
		t.Fatalf("inside a fragmented message: %v", err)
	}
	s.Send(t0, frame.OpContinuation, nil, true)
	s.Close(t0, frame.CloseNormal, "")
	drain(s)
	if err := s.SendPrepared(t0, m); !errors.Is(err, protocol.ErrClosing) {
		t.Fatalf("after close: %v", err)
	}
	if out, _ := drain(s); len(out) != 0 {
		t.Fatalf("refused sends wrote % x", out)
	}
}

var errSlow = errors.New("slow consumer")

// Drop discards the output no write has begun on and fails the connection
// with its code: only the close frame goes out. Output partly written
// stays whole (sent to after the partial write too, when the output was
// compacted: a frame cut in two would break the stream), and so does a 101
// not written yet.
func TestDrop(t *testing.T) {
	closeFrame := wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.ClosePolicyViolation, "slow"))
	msg := wireFrame(protocol.RoleServer, frame.OpBinary, true, make([]byte, 100))
	// A server whose 101 is still in Outgoing: the peer must read it first.
	handshaking := newServer(t, protocol.ServerOptions{})
	handshaking.Receive(t0, crlf(rfcRequest))
	response := bytes.Clone(handshaking.Outgoing())
	for _, tt := range []struct {
		name         string
		s            *protocol.Conn
		advance      int
		advanceFirst bool // between the two sends
		want         []byte
	}{
		{"nothing written", established(t, protocol.RoleServer, testConfig()), 0, false, closeFrame},
		{"partly written", established(t, protocol.RoleServer, testConfig()), 10, false, append(append(msg[10:], msg...), closeFrame...)},
		{"partly written, then sent to", established(t, protocol.RoleServer, testConfig()), 10, true, append(append(msg[10:], msg...), closeFrame...)},
		{"the 101 not written", handshaking, 0, false, append(response, closeFrame...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			for s.NextEvent().Kind != protocol.EventNone {
			}
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			if tt.advanceFirst {
				s.Advance(tt.advance)
			}
			s.SendMessage(t0, frame.OpBinary, make([]byte, 100))
			if !tt.advanceFirst {
				s.Advance(tt.advance)
			}
			if err := s.Drop(t0, frame.ClosePolicyViolation, "slow", errSlow); err != nil {
				t.Fatal(err)
			}
			out, _ := drain(s)
			if !bytes.Equal(out, tt.want) {
				t.Fatalf("out % x\nwant % x", out, tt.want)
			}
			if st := s.CloseStatus(); st.Code != frame.ClosePolicyViolation || !errors.Is(st.Err, errSlow) || !s.ShouldCloseTransport() {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// Sending a prepared message allocates nothing per connection once its
// form is encoded, with compression too: a broadcast's allocations do not
// grow with its members.
func TestSendPreparedAllocations(t *testing.T) {
	text := []byte(strings.Repeat("to every member of a large room; ", 40))
	m, _ := protocol.NewPreparedMessage(frame.OpText, text)
	for _, compress := range []bool{false, true} {
		var s *protocol.Conn
		if compress {
			s = deflatePair(t, deflate.Config{}, deflate.Config{}).Server.Conn
		} else {
			s = established(t, protocol.RoleServer, testConfig())
		}
		send := func() {
			s.SendPrepared(t0, m)
			s.Advance(len(s.Outgoing()))
		}
		send() // the form, and the output buffer
		if n := testing.AllocsPerRun(100, send); n != 0 {
			t.Errorf("compress %v: %.1f allocations per SendPrepared", compress, n)
		}
	}
}

// An engine with no output buffer of its own (its driver pools them) sends
// a prepared message's frame itself: the same bytes on every server, no
// copy. More output copies it into a buffer of the engine's (one the driver
// lends, else a new one), and nothing the engine or its driver does writes
// into the shared frame.
func TestSendPreparedSharesTheFrame(t *testing.T) {
	text := []byte("to every member, from one frame")
	m, _ := protocol.NewPreparedMessage(frame.OpText, text)
	want := wireFrame(protocol.RoleServer, frame.OpText, true, text)
	bare := func() *protocol.Conn {
		s := established(t, protocol.RoleServer, testConfig())
		s.SwapWriteBuffer(nil)
		if err := s.SendPrepared(t0, m); err != nil {
			t.Fatal(err)
		}
		if !s.OutputShared() || !bytes.Equal(s.Outgoing(), want) {
			t.Fatalf("shared %v, output % x", s.OutputShared(), s.Outgoing())
		}
		return s
	}
	a, b := bare(), bare()
	if &a.Outgoing()[0] != &b.Outgoing()[0] {
		t.Fatal("two servers without buffers hold two copies of the frame")
	}
	// SharesPrepared says when a driver need not lend a buffer: not on a
	// client (it masks its copy), not behind unsent output, not through a
	// compression context of the connection's own; yes without one.
	for _, tt := range []struct {
		name string
		c    *protocol.Conn
		want bool
	}{
		{"plain server", established(t, protocol.RoleServer, testConfig()), true},
		{"client", established(t, protocol.RoleClient, testConfig()), false},
		{"server with output waiting", b, false},
		{"server keeping a compression context", deflatePair(t, deflate.Config{}, deflate.Config{ContextTakeover: true}).Server.Conn, false},
		{"server compressing without a context", deflatePair(t, deflate.Config{}, deflate.Config{}).Server.Conn, true},
	} {
		if got := tt.c.SharesPrepared(); got != tt.want {
			t.Errorf("%s: SharesPrepared %v", tt.name, got)
		}
	}
	withBuffer := established(t, protocol.RoleServer, testConfig())
	withBuffer.SwapWriteBuffer(make([]byte, 0, 64))
	if withBuffer.SendPrepared(t0, m) != nil || withBuffer.OutputShared() {
		t.Fatal("an engine with a buffer of its own shares the frame")
	}
	if out, shared := withBuffer.TakeOutgoingShared(nil); shared || !bytes.Equal(out, want) {
		t.Fatalf("output of the engine's own taken as shared %v: % x", shared, out)
	}

	tests := []struct {
		name string
		do   func(s *protocol.Conn) (out []byte) // what reaches the wire
		want []byte
	}{
		{"written whole: the engine lets go of it", func(s *protocol.Conn) []byte {
			out := bytes.Clone(s.Outgoing())
			s.Advance(len(out))
			if s.OutputShared() || s.SwapWriteBuffer(nil) != nil {
				t.Fatal("the frame is still the engine's buffer")
			}
			return out
		}, want},
		{"a message behind it: copied first", func(s *protocol.Conn) []byte {
			s.Advance(3)
			s.SendMessage(t0, frame.OpText, []byte("next"))
			if s.OutputShared() {
				t.Fatal("still shared after an append")
			}
			out, _ := drain(s)
			return append(want[:3:3], out...)
		}, append(bytes.Clone(want), wireFrame(protocol.RoleServer, frame.OpText, true, []byte("next"))...)},
		{"a lent buffer takes the copy", func(s *protocol.Conn) []byte {
			lent := make([]byte, 0, 256)
			if old := s.SwapWriteBuffer(lent); old != nil || s.OutputShared() || &s.Outgoing()[0] != &lent[:1][0] {
				t.Fatal("the lent buffer did not take the frame")
			}
			out, _ := drain(s)
			return out
		}, want},
		{"taken: the caller gets its own copy", func(s *protocol.Conn) []byte {
			out := s.TakeOutgoing(nil)
			s.Wrote(len(out))
			got := bytes.Clone(out)
			for i := range out {
				out[i] = 0xee // the driver reuses what it took
			}
			return got
		}, want},
		{"taken as shared: the frame itself, no copy", func(s *protocol.Conn) []byte {
			frameAt := &s.Outgoing()[0]
			out, shared := s.TakeOutgoingShared(nil)
			if !shared || &out[0] != frameAt || s.OutputShared() || s.UnsentOutput() != len(out) || s.SwapWriteBuffer(nil) != nil {
				t.Fatalf("shared %v, the frame's own bytes %v, still shared %v, unsent %d", shared, &out[0] == frameAt, s.OutputShared(), s.UnsentOutput())
			}
			s.Wrote(len(out))
			return bytes.Clone(out)
		}, want},
		{"dropped before a byte went: only the close frame", func(s *protocol.Conn) []byte {
			s.Drop(t0, frame.ClosePolicyViolation, "send queue full", nil)
			out, _ := drain(s)
			return out
		}, wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.ClosePolicyViolation, "send queue full"))},
		{"dropped mid-frame: the frame ends first", func(s *protocol.Conn) []byte {
			s.Advance(5)
			s.Drop(t0, frame.ClosePolicyViolation, "send queue full", nil)
			out, _ := drain(s)
			return append(want[:5:5], out...)
		}, append(bytes.Clone(want), wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.ClosePolicyViolation, "send queue full"))...)},
		{"aborted: nothing", func(s *protocol.Conn) []byte {
			s.Abort(t0, nil)
			return s.Outgoing()
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(bare()); !bytes.Equal(got, tt.want) {
				t.Fatalf("wire\n% x\nwant\n% x", got, tt.want)
			}
			if s := bare(); !bytes.Equal(s.Outgoing(), want) {
				t.Fatalf("the shared frame changed: % x", s.Outgoing())
			}
		})
	}
}

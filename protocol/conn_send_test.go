package protocol_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

func TestSendMisuse(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	for _, tc := range []struct {
		name string
		op   frame.Opcode
		p    string
		fin  bool
		want error
	}{
		{"continuation first", frame.OpContinuation, "x", true, protocol.ErrNoMessage},
		{"ping via Send", frame.OpPing, "x", true, protocol.ErrBadOpcode},
		{"reserved", 3, "x", true, protocol.ErrBadOpcode},
		{"invalid text", frame.OpText, "\xff", true, protocol.ErrInvalidText},
		{"truncated text", frame.OpText, "\xE2\x82", true, protocol.ErrInvalidText},
	} {
		if err := c.Send(t0, tc.op, []byte(tc.p), tc.fin); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if out, _ := drain(c); len(out) != 0 {
		t.Fatalf("refused sends wrote % x", out)
	}
	c.Send(t0, frame.OpText, []byte("a\xE2"), false)
	if err := c.Send(t0, frame.OpBinary, []byte("b"), true); !errors.Is(err, protocol.ErrMessageInProgress) {
		t.Fatalf("new message inside one: %v", err)
	}
	// The character split across fragments is fine.
	if err := c.Send(t0, frame.OpContinuation, []byte("\x82\xAC"), true); err != nil {
		t.Fatal(err)
	}
	out, _ := drain(c)
	want := concat(wireFrame(protocol.RoleServer, frame.OpText, false, []byte("a\xE2")), wireFrame(protocol.RoleServer, frame.OpContinuation, true, []byte("\x82\xAC")))
	if !bytes.Equal(out, want) {
		t.Fatalf("out % x", out)
	}
}

// Each frame of a client gets a fresh key from the random source.
func TestClientFreshKeyPerFrame(t *testing.T) {
	cfg := testConfig()
	cfg.Rand = &counterReader{}
	c := established(t, protocol.RoleClient, cfg)
	seen := map[[4]byte]bool{}
	for i := 0; i < 40; i++ {
		c.SendMessage(t0, frame.OpBinary, []byte("same"))
		out, _ := drain(c)
		h, _, err := frame.ParseHeader(out)
		if err != nil || !h.Masked {
			t.Fatalf("frame %d: %+v %v", i, h, err)
		}
		if seen[h.Mask] {
			t.Fatalf("key %x reused", h.Mask)
		}
		seen[h.Mask] = true
	}
}

type counterReader struct{ n byte }

func (r *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// An internal failure (here, no randomness) closes with 1011 and keeps the
// details local.
func TestInternalErrorIs1011(t *testing.T) {
	cfg := testConfig()
	cfg.Rand = failingReader{}
	c := established(t, protocol.RoleClient, cfg)
	err := c.SendMessage(t0, frame.OpText, []byte("x"))
	if err == nil {
		t.Fatal("send without randomness succeeded")
	}
	st := c.CloseStatus()
	if st.Code != frame.CloseInternalError || !errors.Is(st.Err, protocol.ErrInternal) || !c.ShouldCloseTransport() {
		t.Fatalf("status %+v", st)
	}
}

func TestInvalidRole(t *testing.T) {
	if _, err := protocol.NewEstablished(0, testConfig(), t0); !errors.Is(err, protocol.ErrInvalidRole) {
		t.Fatalf("got %v", err)
	}
}

// Outgoing survives short writes: Advance by less keeps the rest, and
// new frames go after it.
func TestShortWrites(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	c.SendMessage(t0, frame.OpText, []byte("hello"))
	c.Advance(3)
	c.SendMessage(t0, frame.OpText, []byte("world"))
	var got []byte
	for len(c.Outgoing()) > 0 {
		got = append(got, c.Outgoing()[0])
		c.Advance(1)
	}
	want := concat(wireFrame(protocol.RoleServer, frame.OpText, true, []byte("hello"))[3:], wireFrame(protocol.RoleServer, frame.OpText, true, []byte("world")))
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

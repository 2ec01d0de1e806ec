package protocol_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// The handshake parses a whole header block in the caller's bytes without
// a copy; nothing of them may be kept past Receive. Each case feeds its
// input through one reused buffer, scribbled over after every call, as a
// driver's read buffer is.
func TestHandshakeKeepsNoCallerBytes(t *testing.T) {
	early := wireFrame(protocol.RoleClient, frame.OpText, true, []byte("early"))
	scratch := make([]byte, 4096)
	feed := func(t *testing.T, c *protocol.Conn, p []byte) error {
		t.Helper()
		n := copy(scratch, p)
		err := c.Receive(t0, scratch[:n])
		for i := range scratch {
			scratch[i] = 'X'
		}
		return err
	}
	cases := []struct {
		name   string
		opts   protocol.ServerOptions
		chunks [][]byte
	}{
		{"whole request and a frame", protocol.ServerOptions{}, [][]byte{concat(crlf(rfcRequest), early)}},
		{"request in two reads", protocol.ServerOptions{}, [][]byte{crlf(rfcRequest)[:40], concat(crlf(rfcRequest)[40:], early)}},
		{"frame split off the request", protocol.ServerOptions{}, [][]byte{concat(crlf(rfcRequest), early[:3]), early[3:]}},
		{"manual accept, frame waiting", protocol.ServerOptions{ManualAccept: true}, [][]byte{concat(crlf(rfcRequest), early)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts)
			var evs []protocol.Event
			for _, ch := range tc.chunks {
				if err := feed(t, s, ch); err != nil {
					t.Fatal(err)
				}
				_, e := drain(s)
				evs = append(evs, e...)
			}
			if tc.opts.ManualAccept {
				if err := s.AcceptHandshake(t0, nil); err != nil {
					t.Fatal(err)
				}
				_, e := drain(s)
				evs = append(evs, e...)
			}
			var got []string
			for _, ev := range evs {
				switch ev.Kind {
				case protocol.EventRequest:
					got = append(got, "request "+ev.Request.Host+" "+ev.Request.Header.Get("Sec-WebSocket-Protocol"))
				case protocol.EventData:
					got = append(got, "data "+string(ev.Data))
				}
			}
			want := []string{"request server.example.com chat, superchat", "data early"}
			if !cmp.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
	t.Run("client, rejection body after the header", func(t *testing.T) {
		c := newClient(t, protocol.ClientOptions{URL: "ws://example.com/"})
		drain(c)
		resp := []byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 18\r\n\r\norigin not allowed")
		if err := feed(t, c, resp[:len(resp)-10]); err != nil {
			t.Fatal(err)
		}
		err := feed(t, c, resp[len(resp)-10:])
		var he *protocol.HandshakeError
		if !errors.As(err, &he) || !bytes.Equal(he.Body, []byte("origin not allowed")) {
			t.Fatalf("got %v", err)
		}
	})
}

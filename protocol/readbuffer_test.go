package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// receiveBuffered feeds data through ReadBuffer and ReceiveBuffered in reads
// of at most chunk bytes, asking for ask free bytes each time.
func receiveBuffered(t *testing.T, c *protocol.Conn, data []byte, chunk, ask int) error {
	t.Helper()
	var first error
	for len(data) > 0 {
		buf := c.ReadBuffer(ask)
		if len(buf) < ask {
			t.Fatalf("ReadBuffer(%d) gave %d bytes", ask, len(buf))
		}
		n := copy(buf[:min(len(buf), chunk)], data)
		data = data[n:]
		if err := c.ReceiveBuffered(t0, n); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Reading straight into the engine's buffer gives the same bytes and events
// as Receive, whatever the read size, including events left pending while
// the buffer grows under them.
func TestReceiveBufferedMatchesReceive(t *testing.T) {
	big := strings.Repeat("κόσμε", 8<<10) // 80 KiB: streamed in pieces
	stream := concat(
		wireFrame(protocol.RoleClient, frame.OpText, true, []byte("hello")),
		wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("p")),
		wireFrame(protocol.RoleClient, frame.OpBinary, false, []byte{1, 2, 3}),
		wireFrame(protocol.RoleClient, frame.OpContinuation, true, []byte{4}),
		wireFrame(protocol.RoleClient, frame.OpText, true, []byte(big)),
		wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "bye")),
	)
	ref := established(t, protocol.RoleServer, testConfig())
	if err := ref.Receive(t0, stream); err != nil {
		t.Fatal(err)
	}
	wantOut, wantEvents := drain(ref)
	for _, tc := range []struct {
		name       string
		chunk, min int
		drainEvery bool
	}{
		{"one read", len(stream), len(stream), true},
		{"1 byte reads", 1, 1, true},
		{"7 byte reads, 4 KiB asked", 7, 4 << 10, true},
		{"4 KiB reads", 4 << 10, 4 << 10, true},
		{"events kept pending", 3000, 4 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := established(t, protocol.RoleServer, testConfig())
			var out []byte
			var events []protocol.Event
			take := func() {
				o, evs := drain(c)
				out = append(out, o...)
				events = append(events, evs...)
			}
			rest := stream
			for len(rest) > 0 {
				n := min(tc.chunk, len(rest))
				if err := receiveBuffered(t, c, rest[:n], tc.chunk, tc.min); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
				if tc.drainEvery {
					take()
				}
			}
			take()
			if diff := cmp.Diff(wantOut, out); diff != "" {
				t.Errorf("outgoing bytes differ (-Receive +ReceiveBuffered):\n%s", diff)
			}
			if diff := cmp.Diff(protocoltest.MergePieces(wantEvents), protocoltest.MergePieces(events)); diff != "" {
				t.Errorf("events differ (-Receive +ReceiveBuffered):\n%s", diff)
			}
		})
	}
}

func TestReceiveBufferedRejectsBadCounts(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	buf := c.ReadBuffer(16)
	for _, n := range []int{-1, len(buf) + 1} {
		if err := c.ReceiveBuffered(t0, n); !errors.Is(err, protocol.ErrInvalidState) {
			t.Errorf("ReceiveBuffered(%d) = %v, want ErrInvalidState", n, err)
		}
	}
	// Nothing was taken: a valid frame still parses from the start.
	f := wireFrame(protocol.RoleClient, frame.OpText, true, []byte("ok"))
	if err := receiveBuffered(t, c, f, len(f), len(f)); err != nil {
		t.Fatal(err)
	}
	_, evs := drain(c)
	if len(evs) != 1 || string(evs[0].Data) != "ok" {
		t.Fatalf("events %+v, want one data event \"ok\"", evs)
	}
}

// A protocol violation read through the buffer fails the connection exactly
// as through Receive: the typed error, the close frame with its code.
func TestReceiveBufferedViolation(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	bad := wireFrame(protocol.RoleClient, frame.OpText, true, []byte{0xff})
	err := receiveBuffered(t, c, bad, len(bad), 64)
	if !errors.Is(err, frame.ErrInvalidUTF8) {
		t.Fatalf("err = %v, want ErrInvalidUTF8", err)
	}
	out, _ := drain(c)
	want := wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseInvalidPayload, "text is not valid UTF-8"))
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("close frame (-want +got):\n%s", diff)
	}
}

// The opening handshake can be read through the buffer too, with a frame
// glued to the request.
func TestReceiveBufferedHandshake(t *testing.T) {
	server, err := protocol.NewServer(testConfig(), protocol.ServerOptions{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	in := concat([]byte(req), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("first")))
	if err := receiveBuffered(t, server, in, 10, 10); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(server)
	if !strings.HasPrefix(string(out), "HTTP/1.1 101 Switching Protocols\r\n") ||
		!strings.Contains(string(out), "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
		t.Fatalf("response:\n%s", out)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Kind.String()+":"+string(ev.Data))
	}
	if diff := cmp.Diff([]string{"request:", "open:", "data:first"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Steady-state receive through the buffer allocates nothing.
func TestReceiveBufferedZeroAllocs(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	f := protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 0, true, []byte(strings.Repeat("a", 1000)))
	read := func() {
		buf := s.ReadBuffer(4 << 10)
		s.ReceiveBuffered(t0, copy(buf, f))
		for ev := s.NextEvent(); ev.Kind != protocol.EventNone; ev = s.NextEvent() {
		}
	}
	read()
	if allocs := testing.AllocsPerRun(100, read); allocs != 0 {
		t.Errorf("%v allocs per read", allocs)
	}
}

// Bytes read into ReadBuffer are parsed where they lie: the event's data is
// the very memory the driver read into, even when input consumed earlier
// could have been compacted away in between.
func TestReceiveBufferedDoesNotCopy(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	first := wireFrame(protocol.RoleClient, frame.OpText, true, []byte("first"))
	if err := c.ReceiveBuffered(t0, copy(c.ReadBuffer(4096), first)); err != nil {
		t.Fatal(err)
	}
	buf := c.ReadBuffer(64) // the first event is still pending here
	drain(c)
	f := wireFrame(protocol.RoleClient, frame.OpBinary, true, []byte("second"))
	if err := c.ReceiveBuffered(t0, copy(buf, f)); err != nil {
		t.Fatal(err)
	}
	ev := c.NextEvent()
	if string(ev.Data) != "second" {
		t.Fatalf("event %+v", ev)
	}
	if &ev.Data[0] != &buf[len(f)-len("second")] {
		t.Error("the payload was copied out of the read buffer")
	}
}

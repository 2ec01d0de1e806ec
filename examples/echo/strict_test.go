package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// The echo server is strict where Autobahn tests it (3.2, 4.1.3–4.2.4,
// 5.15): a valid message followed in the same segment by a violation is
// echoed first, then the connection is failed with 1002.
func TestEchoBeforeViolationClose(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) { testEchoBeforeViolationClose(t, strings.TrimPrefix(url, "http://")) })
	}
}

func testEchoBeforeViolationClose(t *testing.T, addr string) {
	key := [4]byte{5, 6, 7, 8}
	for _, bad := range []struct {
		name  string
		frame []byte
		want  *frame.ProtocolError
	}{
		{"reserved bits (3.2)", protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 2, true, []byte("x")), protocol.ErrReservedBits},
		{"reserved opcode (4.1.3)", []byte{0x83, 0x80, 5, 6, 7, 8}, frame.ErrReservedOpcode},
		{"continuation after a whole message (5.15)", protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpContinuation, 0, true, []byte("x")), protocol.ErrUnexpectedCont},
	} {
		t.Run(bad.name, func(t *testing.T) {
			nc, br, _ := rawOpen(t, addr, "")
			nc.Write(append(protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 0, true, []byte("hello")), bad.frame...))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(br)
			reason, _ := frame.AppendClose(nil, bad.want.Code, bad.want.Reason)
			want := append(protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpText, 0, true, []byte("hello")),
				protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpClose, 0, true, reason)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
		})
	}
}

// rawOpen opens a WebSocket to addr's /echo on a raw socket, offering the
// extensions line ext ("" for none), and returns the socket, its reader
// past the 101, and the 101's Sec-WebSocket-Extensions.
func rawOpen(t *testing.T, addr, ext string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if ext != "" {
		ext = "Sec-WebSocket-Extensions: " + ext + "\r\n"
	}
	br, resp, err := echotest.Upgrade(nc, "/echo", ext)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return nc, br, resp.Header.Get("Sec-WebSocket-Extensions")
}

// Ten pings in one segment each get their pong, in order, before the close
// reply (Autobahn 2.10; 2.11 sends them a byte at a time): the engine
// replaces a waiting pong only past 16 of them.
func TestEveryPingOfABurstAnswered(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			nc, br, _ := rawOpen(t, strings.TrimPrefix(url, "http://"), "")
			key := [4]byte{1, 2, 3, 4}
			var in, want []byte
			for i := range 10 {
				p := []byte("payload-" + string(rune('0'+i)))
				in = append(in, protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpPing, 0, true, p)...)
				want = append(want, protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpPong, 0, true, p)...)
			}
			body, _ := frame.AppendClose(nil, frame.CloseNormal, "")
			in = append(in, protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpClose, 0, true, body)...)
			want = append(want, protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpClose, 0, true, body)...)
			nc.Write(in)
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(br)
			if !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
		})
	}
}

// A client that limits the server's window (Autobahn 13.3 and 13.5:
// server_max_window_bits=9) is accepted with that limit, and its messages
// come back compressed (Huffman codes only, which any window decodes).
func TestWindowLimitAccepted(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			nc, br, ext := rawOpen(t, strings.TrimPrefix(url, "http://"), "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9")
			if want := "permessage-deflate; client_no_context_takeover; server_max_window_bits=9"; ext != want {
				t.Fatalf("extensions %q, want %q", ext, want)
			}
			msg := strings.Repeat("echo me ", 512) // 4 KiB, sent as it is
			nc.Write(protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpText, 0, true, []byte(msg)))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, p, err := echotest.ReadServerFrame(br)
			if err != nil {
				t.Fatal(err)
			}
			if !h.Fin || h.Opcode != frame.OpText || h.Rsv != frame.Rsv1 {
				t.Fatalf("frame %+v: want a whole text message, compressed", h)
			}
			got, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))))
			if err != nil || string(got) != msg {
				t.Fatalf("inflated %d bytes (%v), want the message", len(got), err)
			}
			if n := len(p); n < len(msg)/8 || n >= len(msg) {
				t.Fatalf("%d bytes compressed: want Huffman codes only, %d to %d", n, len(msg)/8, len(msg)-1)
			}
		})
	}
}

package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
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
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			io.WriteString(nc, "GET /echo HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			br := bufio.NewReader(nc)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
				t.Fatalf("handshake: %v", err)
			}
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

// Package echotest drives echo servers from tests: the scenarios that both
// drivers' tests (package adapters and adapters/loop) run the same way.
// Only tests use it.
package echotest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// UnreadEchoes is a client that sends faster than it reads: from another
// goroutine it writes n binary messages of size bytes (at least 2),
// numbered in their first two bytes, while it reads nothing for pause;
// then it reads the echoes. It returns how many came back whole and in
// order before the first that did not, or the error that ended the reading
// (nil once all n came back).
func UnreadEchoes(ctx context.Context, client *adapters.Conn, n, size int, pause time.Duration) (int, error) {
	go func() {
		msg := make([]byte, size)
		for i := range n {
			msg[0], msg[1] = byte(i), byte(i>>8)
			if client.Write(ctx, frame.OpBinary, msg) != nil {
				return
			}
		}
	}()
	select {
	case <-time.After(pause):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	for i := range n {
		_, p, err := client.Read(ctx)
		if err != nil {
			return i, err
		}
		if len(p) != size || int(p[0])|int(p[1])<<8 != i&0xffff {
			return i, fmt.Errorf("echo %d: %d bytes, numbered %d", i, len(p), int(p[0])|int(p[1])<<8)
		}
	}
	return n, nil
}

// SendUntilFull sends binary messages of 4 KiB with send until it fails,
// as it does once a peer that reads nothing has the send limit queued, and
// says how much was sent and how much the process allocated meanwhile. It
// fails when that is more than 16 MiB (output that grows by doubling
// allocates a few MiB on the way to a 1 MiB limit) or when 64 MiB went out
// without reaching the limit.
func SendUntilFull(send func(frame.Opcode, []byte) error) (string, error) {
	msg := make([]byte, 4<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sent := 0
	for ; send(frame.OpBinary, msg) == nil; sent += len(msg) {
		if sent > 64<<20 {
			return "", fmt.Errorf("%d MiB sent and the send limit not reached", sent>>20)
		}
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	if allocated > 16<<20 {
		return "", fmt.Errorf("%d MiB allocated to queue %d KiB for a peer that reads nothing", allocated>>20, sent>>10)
	}
	return fmt.Sprintf("%d KiB sent until the limit failed the peer, %d KiB allocated", sent>>10, allocated>>10), nil
}

// ControlBehindMessage is a client that sends a binary message of size
// bytes and a control frame (a ping, or a close with 1000) in one write, on
// nc (the handshake done; r reads what the server sends, from its first
// frame), and waits up to limit for the echo and then the answer: the pong,
// or the close frame. With a message past the server's output high water
// mark the control frame comes in the read that ends the message and
// waits, unread, while the echo is held: it must be answered once the echo
// is out, not at the server's next deadline.
func ControlBehindMessage(nc net.Conn, r io.Reader, size int, op frame.Opcode, limit time.Duration) error {
	key := [4]byte{1, 2, 3, 4}
	msg := bytes.Repeat([]byte{'x'}, size)
	payload, answer := []byte("p"), frame.OpPong
	if op == frame.OpClose {
		payload, _ = frame.AppendClose(nil, frame.CloseNormal, "")
		answer = frame.OpClose
	}
	out := protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpBinary, 0, true, msg)
	out = append(out, protocoltest.EncodeFrame(protocol.RoleClient, key, op, 0, true, payload)...)
	if _, err := nc.Write(out); err != nil {
		return err
	}
	nc.SetReadDeadline(time.Now().Add(limit))
	defer nc.SetReadDeadline(time.Time{})
	for _, want := range []struct {
		op frame.Opcode
		p  []byte
	}{{frame.OpBinary, msg}, {answer, payload}} {
		h, p, err := ReadServerFrame(r)
		if err != nil {
			return fmt.Errorf("waiting for a frame of opcode %v: %w", want.op, err)
		}
		if h.Opcode != want.op || !bytes.Equal(p, want.p) {
			return fmt.Errorf("got opcode %v with %d bytes, want %v with %d", h.Opcode, len(p), want.op, len(want.p))
		}
	}
	return nil
}

// ReadServerFrame reads one frame a server sent (unmasked) from r, reading
// no byte past it.
func ReadServerFrame(r io.Reader) (frame.Header, []byte, error) {
	var hdr [frame.MaxHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return frame.Header{}, nil, err
	}
	need := frame.NeedHeader(hdr[:2])
	if _, err := io.ReadFull(r, hdr[2:need]); err != nil {
		return frame.Header{}, nil, err
	}
	h, _, err := frame.ParseHeader(hdr[:need])
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(r, p)
	return h, p, err
}

// Upgrade sends a WebSocket upgrade request for path on nc, a raw client
// whose every byte a test controls, with extra header lines (each ending
// in CRLF), and reads the answer. The reader goes on past the 101 with the
// frames; any other answer is an error.
func Upgrade(nc net.Conn, path, extra string) (*bufio.Reader, *http.Response, error) {
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n", path, nc.RemoteAddr(), extra)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err == nil && resp.StatusCode != http.StatusSwitchingProtocols {
		err = fmt.Errorf("upgrade answered %s", resp.Status)
	}
	return br, resp, err
}

package loop_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

const upgradeRequest = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// rawClient opens TCP to the server, sends the handshake and reads the
// 101: a peer whose every byte the test controls.
func rawClient(t *testing.T, url, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	br, _, err := echotest.Upgrade(nc, path, "")
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return nc, br
}

// readsUntilEOF reads frames until the server closes, within limit, and
// returns the last close code seen.
func readsUntilEOF(t *testing.T, nc net.Conn, br *bufio.Reader, limit time.Duration) frame.CloseCode {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(limit))
	var code frame.CloseCode
	for {
		h, p, err := echotest.ReadServerFrame(br)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return code
		}
		if err != nil {
			t.Fatalf("no EOF within %v: %v", limit, err)
		}
		if h.Opcode == frame.OpClose && len(p) >= 2 {
			code = frame.CloseCode(p[0])<<8 | frame.CloseCode(p[1])
		}
	}
}

// The stalled-peer suite against the loop: a peer that connects and never
// sends its request, one that stops inside it, one that goes silent after
// the handshake or in the middle of a frame, one that never reads what
// the server sends, and one that sends and never reads the echoes. Each
// ends within its bound, the loop goes on serving others, and nothing is
// left behind (serve checks goroutines and descriptors).
func TestStalledPeers(t *testing.T) {
	cfg := adapters.Config{OpenTimeout: 300 * time.Millisecond, PingInterval: 200 * time.Millisecond,
		PongTimeout: 200 * time.Millisecond, WriteTimeout: 400 * time.Millisecond, CloseTimeout: 300 * time.Millisecond}
	var flooding atomic.Int64
	_, url, closes := serve(t, loop.Options{
		Config:    &cfg,
		SendLimit: 256 << 10,
		OnOpen: func(c *loop.Conn) {
			if c.Request().URL.Path == "/flood" {
				// A producer that never blocks: Send is bounded.
				go func() {
					p := make([]byte, 32<<10)
					for c.Send(frame.OpBinary, p) == nil {
						flooding.Add(1)
					}
				}()
			}
		},
		OnMessage: echo,
	})
	addr := strings.TrimPrefix(url, "ws://")

	t.Run("never sends the request", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		start := time.Now()
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadAll(nc); err != nil {
			t.Fatalf("not closed: %v", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
			t.Fatalf("closed after %v, open timeout 300 ms", d)
		}
	})
	t.Run("stops inside the request", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		io.WriteString(nc, upgradeRequest[:40])
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadAll(nc); err != nil {
			t.Fatalf("not closed: %v", err)
		}
	})
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"silent after the handshake", nil},
		{"stops mid-frame", protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, 0, true, make([]byte, 100))[:30]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, br := rawClient(t, url, "/ws")
			nc.Write(tc.bytes)
			// Pings come, are not answered: 1011 after ping interval +
			// pong timeout.
			if code := readsUntilEOF(t, nc, br, 3*time.Second); code != frame.CloseInternalError {
				t.Fatalf("close code %v", code)
			}
			if e := waitEnd(t, closes); !errors.Is(e.err, adapters.ErrKeepaliveTimeout) {
				t.Fatalf("OnClose: %v", e.err)
			}
		})
	}
	t.Run("never reads a producer", func(t *testing.T) {
		nc, _ := rawClient(t, url, "/flood")
		_ = nc
		e := waitEnd(t, closes)
		if !errors.Is(e.err, adapters.ErrSendQueueFull) && !errors.Is(e.err, protocol.ErrWriteTimeout) {
			t.Fatalf("OnClose: %v", e.err)
		}
		// The producer's sends stopped at the bound: socket buffers plus
		// SendLimit, not what the producer wanted.
		if n := flooding.Load(); n <= 0 || n*(32<<10) > 64<<20 {
			t.Fatalf("%d sends of 32 KiB taken", n)
		}
	})
	t.Run("sends and never reads the echoes", func(t *testing.T) {
		nc, _ := rawClient(t, url, "/ws")
		// The server stops reading once its unsent echoes pass HighWater,
		// so this writer blocks; then the write watchdog ends it (1006).
		m := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, 0, true, make([]byte, 16<<10))
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		var written int
		for {
			if _, err := nc.Write(m); err != nil {
				break
			}
			written += len(m)
		}
		e := waitEnd(t, closes)
		if !errors.Is(e.err, protocol.ErrWriteTimeout) {
			t.Fatalf("OnClose: %v (%d MiB written)", e.err, written>>20)
		}
	})
	// The loop served the others all along.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := dial(t, ctx, url, false)
	c.Write(ctx, frame.OpText, []byte("still here"))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "still here" {
		t.Fatalf("%q %v", p, err)
	}
	c.Close(frame.CloseNormal, "")
}

// A Close to a peer that reads nothing, behind output it never takes:
// the close timeout ends the handshake, and the socket closes then too,
// unsent output or not (the write watchdog is far off here).
func TestCloseBehindUnreadOutput(t *testing.T) {
	cfg := protocol.DefaultConfig()
	cfg.CloseTimeout = 300 * time.Millisecond
	cfg.WriteTimeout = time.Hour
	srv, url, closes := serve(t, loop.Options{Config: &cfg, DisableCompression: true, SendLimit: 64 << 20,
		OnOpen: func(c *loop.Conn) {
			for range 256 {
				c.Send(frame.OpBinary, make([]byte, 32<<10)) // 8 MiB, past every socket buffer
			}
			c.Close(frame.CloseNormal, "bye")
		}})
	rawClient(t, url, "/ws") // reads nothing more
	start := time.Now()
	if e := waitEnd(t, closes); !errors.Is(e.err, protocol.ErrCloseTimeout) {
		t.Fatalf("OnClose: %v", e.err)
	}
	for srv.Len() != 0 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the socket is still open %v after the close timeout", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection the loop handed to net/http (its first request was a page)
// is bounded as the loop's own are: one that goes silent after its page,
// and one that stops inside its next request, are closed after the open
// timeout. net/http waited for them for ever (its server had no timeouts).
func TestStalledHTTPPeers(t *testing.T) {
	cfg := adapters.Config{OpenTimeout: 300 * time.Millisecond}
	_, url, _ := serve(t, loop.Options{
		Config:    &cfg,
		OnMessage: echo,
		HTTP:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the page") }),
	})
	for _, tc := range []struct {
		name string
		next string
	}{
		{"silent after a page", ""},
		{"stops inside the next request", upgradeRequest[:40]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now() // before the page: the server's wait starts after it
			nc, br := afterAPage(t, url)
			io.WriteString(nc, tc.next)
			nc.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.ReadAll(br); err != nil {
				t.Fatalf("not closed: %v", err)
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
				t.Fatalf("closed after %v, open timeout 300 ms", d)
			}
		})
	}
}

package adapters_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// checkLeaks fails the test if goroutines started during it are still
// running shortly after it ends. Register it first: cleanups run last-in
// first-out, so it runs after the servers are closed.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// server runs handler for each accepted WebSocket on a loopback httptest
// server and returns its ws:// URL. The handler's connection is closed when
// it returns.
func server(t *testing.T, opts *adapters.AcceptOptions, handler func(*adapters.Conn)) string {
	t.Helper()
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Counted before Accept hijacks the connection: httptest's Close
		// stops waiting for a handler once it has, and the cleanup's Wait
		// must not race with this Add.
		wg.Add(1)
		defer wg.Done()
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return
		}
		handler(c)
		c.Close(1000, "")
	}))
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// echo is a handler that echoes every message with its type.
func echo(c *adapters.Conn) {
	ctx := context.Background()
	for {
		op, p, err := c.Read(ctx)
		if err != nil {
			return
		}
		if c.Write(ctx, op, p) != nil {
			return
		}
	}
}

func bigConfig() *protocol.Config {
	cfg := protocol.DefaultConfig()
	cfg.MaxMessageSize = 16 << 20
	return &cfg
}

// fakeClock is a Clock whose time moves only when a test calls Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	created int // timers made by AfterFunc
}

type fakeTimer struct {
	clock   *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) adapters.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.created++
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	was := !t.stopped
	t.at, t.stopped = c.now.Add(d), false
	if !was {
		c.timers = append(c.timers, t)
	}
	return was
}

// Advance moves the clock and runs the timers that came due, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// echoSizes sends text and binary messages of 0 B, 125 B, 64 KiB and 4 MiB
// through an echo peer and checks every echo.
func echoSizes(t *testing.T, ctx context.Context, c *adapters.Conn) {
	t.Helper()
	for _, n := range []int{0, 125, 64 << 10, 4 << 20} {
		for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
			msg := bytes.Repeat([]byte("wsengine "), n/9+1)[:n]
			if err := c.Write(ctx, op, msg); err != nil {
				t.Fatal(err)
			}
			gop, got, err := c.Read(ctx)
			if err != nil || gop != op || !bytes.Equal(got, msg) {
				t.Fatalf("%v %d: got %v %d bytes, %v", op, n, gop, len(got), err)
			}
		}
	}
}

// write101 answers a handshake request by hand, for peers that misbehave
// after it; ext is the Sec-WebSocket-Extensions header ("" for none).
func write101(w io.Writer, key, ext string) error {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n"
	if ext != "" {
		resp += "Sec-WebSocket-Extensions: " + ext + "\r\n"
	}
	_, err := io.WriteString(w, resp+"\r\n")
	return err
}

func assemblerConfig(high, low int64) assembler.Config {
	return assembler.Config{HighWater: high, LowWater: low}
}

func (c *fakeClock) Created() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.created
}

// upgradeRequest is a minimal client handshake request for addr, with
// extra header lines (each ending in CRLF) before the blank line.
func upgradeRequest(addr, extra string) string {
	return "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + extra + "\r\n"
}

// dialTCP opens a raw TCP connection to addr, closed when the test ends.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

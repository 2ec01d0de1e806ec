package loop_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	testpeers "github.com/wsengine/ws/internal/peers"
)

var missingPeers testpeers.Missing

func TestMain(m *testing.M) { missingPeers.Run(m, "adapters/loop") }

// ended is what OnClose reported for one connection.
type ended struct {
	c   *loop.Conn
	err error
}

// serve starts a server with opts on a loopback port and returns its
// ws:// base URL and the OnClose reports; the test's end shuts it down and
// checks that it left no goroutine or descriptor behind.
func serve(t *testing.T, opts loop.Options) (*loop.Server, string, chan ended) {
	t.Helper()
	closes := reportCloses(&opts)
	before := snapshot()
	srv, err := loop.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != loop.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
		before.check(t)
	})
	return srv, "ws://" + ln.Addr().String(), closes
}

// serveBoth starts a server with opts for ws (on the loops, serve) or for
// wss (behind net/http's TLS, where the goroutine driver runs the
// connections), and returns its base URL, the OnClose reports and the
// options a client dials it with.
func serveBoth(t *testing.T, opts loop.Options, wss bool) (string, chan ended, *adapters.DialOptions) {
	t.Helper()
	if !wss {
		_, url, closes := serve(t, opts)
		return url, closes, &adapters.DialOptions{}
	}
	closes := reportCloses(&opts)
	srv, err := loop.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return "wss" + strings.TrimPrefix(hs.URL, "https"), closes, &adapters.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}}
}

// dialed dials url with dopts under a context of 10 s: the context and the
// client, dropped at the test's end.
func dialed(t *testing.T, url string, dopts *adapters.DialOptions) (context.Context, *adapters.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, _, err := adapters.Dial(ctx, url, dopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return ctx, c
}

// expect fails t unless the next string a callback reports on ch, before
// ctx ends, is want.
func expect(ctx context.Context, t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-ctx.Done():
		t.Fatalf("no %q", want)
	}
}

// reportCloses makes opts' OnClose also report each end on the returned
// channel (up to 1,024 waiting).
func reportCloses(opts *loop.Options) chan ended {
	closes := make(chan ended, 1024)
	inner := opts.OnClose
	opts.OnClose = func(c *loop.Conn, err error) {
		if inner != nil {
			inner(c, err)
		}
		select {
		case closes <- ended{c, err}:
		default:
		}
	}
	return closes
}

// echo is OnMessage for an echo server.
func echo(c *loop.Conn, op frame.Opcode, p []byte) { c.Send(op, p) }

// resources counts goroutines and open descriptors.
type resources struct{ goroutines, fds int }

func snapshot() resources {
	return resources{runtime.NumGoroutine(), countFDs()}
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// check waits a moment for the count to come back to r, and fails if it
// does not: a loop left a goroutine or a socket behind.
func (r resources) check(t *testing.T) {
	t.Helper()
	var now resources
	for range 100 {
		now = snapshot()
		if now.goroutines <= r.goroutines && now.fds <= r.fds {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Errorf("left behind: goroutines %d -> %d, descriptors %d -> %d\n%s", r.goroutines, now.goroutines, r.fds, now.fds,
		buf[:runtime.Stack(buf, true)])
}

// dial opens an adapters client with a 16 MiB limit.
func dial(t *testing.T, ctx context.Context, url string, compress bool) *adapters.Conn {
	t.Helper()
	cfg := adapters.Config{MaxMessageSize: 16 << 20}
	c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Options: adapters.Options{Config: &cfg, DisableCompression: !compress}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitEnd returns the next OnClose report, or fails after 10 s.
func waitEnd(t *testing.T, closes chan ended) ended {
	t.Helper()
	select {
	case e := <-closes:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose in 10 s")
		return ended{}
	}
}

// record keeps a test's observations for checks after the fact.
type record struct {
	mu  sync.Mutex
	log []string
}

func (r *record) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

func (r *record) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.log, ",")
}

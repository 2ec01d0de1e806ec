package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	testpeers "github.com/wsengine/ws/internal/peers"
	"github.com/wsengine/ws/protocol"
)

// waitHandlers wraps h so that the test, once it and its deferred calls
// have returned, waits for every handler h started. A WebSocket's handler
// runs on after the server forgets its hijacked connection (neither
// httptest's Close nor Shutdown waits for it), and one still running would
// log the connection's end to a test that has completed (a panic, and a
// data race on the test's state).
func waitHandlers(t *testing.T, h http.Handler) http.Handler {
	var handlers running
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if handlers.wait(ctx) != nil {
			t.Error("an echo handler still runs 10 s after its test")
		}
	})
	return handlers.track(h)
}

// servers starts the echo server both ways, as `echo` and as `echo -loop`
// do, each on a loopback port until the test ends, and returns their
// http:// base URLs by name.
func servers(t *testing.T) map[string]string {
	srv := httptest.NewServer(waitHandlers(t, Handler(t.Logf)))
	t.Cleanup(srv.Close)
	return map[string]string{"goroutines": srv.URL, "loop": serveLoop(t)}
}

// serveLoop serves LoopServer on a loopback port until the test ends.
func serveLoop(t *testing.T) string {
	t.Helper()
	srv, err := LoopServer(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

func TestEchoServer(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) { testEchoServer(t, url) })
	}
}

func testEchoServer(t *testing.T, url string) {
	srv := struct{ URL string }{url}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := protocol.DefaultConfig()
	cfg.MaxMessageSize = MaxMessageSize
	for _, path := range []string{"/", "/echo"} {
		c, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path, &adapters.DialOptions{Options: adapters.Options{Config: &cfg}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			op frame.Opcode
			p  []byte
		}{{frame.OpText, []byte("κόσμε")}, {frame.OpBinary, []byte{0, 1, 2}}, {frame.OpBinary, bytes.Repeat([]byte{7}, MaxMessageSize)}} {
			if err := c.Write(ctx, m.op, m.p); err != nil {
				t.Fatal(err)
			}
			op, p, err := c.Read(ctx)
			if err != nil || op != m.op || !bytes.Equal(p, m.p) {
				t.Fatalf("%s: echo of %v (%d bytes): %v %d bytes %v", path, m.op, len(m.p), op, len(p), err)
			}
		}
		if err := c.Close(frame.CloseNormal, ""); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`location.protocol === "https:" ? "wss:" : "ws:"`)) {
		t.Fatalf("page: %d %q", resp.StatusCode, body[:min(len(body), 200)])
	}
	// Other paths are not WebSocket endpoints.
	resp, err = http.Get(srv.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/elsewhere: %d", resp.StatusCode)
	}
	// A plain GET of the echo endpoint is refused with 426, and a
	// WebSocket elsewhere with 404.
	if _, resp, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/elsewhere", nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("WebSocket at /elsewhere: %v", err)
	}
	resp, err = http.Get(srv.URL + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" || !resp.Close ||
		resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("plain GET: %d %v close=%v", resp.StatusCode, resp.Header, resp.Close)
	}
}

func TestSelfSignedCertificate(t *testing.T) {
	cert, err := selfSigned()
	if err != nil || len(cert.Certificate) != 1 {
		t.Fatalf("%v", err)
	}
}

// Shutdown closes every WebSocket with 1001 and returns promptly, over
// HTTP/1.1 (hijacked connections, which Shutdown forgets) and over HTTP/2
// (streams, whose handlers it waits for). It runs in a process with
// GODEBUG=http2xconnect=1, started by the test itself if need be.
func TestShutdownClosesWebSockets(t *testing.T) {
	if !inHTTP2Process(t, "TestShutdownClosesWebSockets") {
		return
	}
	srv, err := NewServer(t.Logf, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h1, h2 := serveTLSBoth(t, ctx, srv)
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	for _, c := range []*adapters.Conn{h1, h2} {
		_, _, err := c.Read(ctx)
		if code := adapters.CloseCodeOf(err); code != adapters.CloseGoingAway || !strings.Contains(err.Error(), "server shutting down") {
			t.Fatalf("client saw %v", err)
		}
	}
}

// With -loop, shutdown closes every WebSocket with 1001 as well, and
// wss runs on goroutines behind net/http's TLS.
func TestLoopShutdown(t *testing.T) {
	srv, err := LoopServer(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var conns []*adapters.Conn
	for range 3 {
		c, _, err := adapters.Dial(ctx, "ws://"+ln.Addr().String()+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Serve returned %v", err)
	}
	for _, c := range conns {
		_, _, err := c.Read(ctx)
		if code := adapters.CloseCodeOf(err); code != adapters.CloseGoingAway || !strings.Contains(err.Error(), "server shutting down") {
			t.Fatalf("client saw %v", err)
		}
	}
}

// serveTLSBoth serves srv (made by NewServer with TLS) on a loopback port
// until the test ends, and dials its echo twice: over HTTP/1.1 and over
// HTTP/2.
func serveTLSBoth(t *testing.T, ctx context.Context, srv *http.Server) (h1, h2 *adapters.Conn) {
	t.Helper()
	srv.Handler = waitHandlers(t, srv.Handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go Serve(srv, ln)
	t.Cleanup(func() { srv.Close() })
	tlsConfig := &tls.Config{InsecureSkipVerify: true} // the server's self-signed certificate
	url := "wss://" + ln.Addr().String() + "/echo"
	h1, resp1, err := adapters.Dial(ctx, url, &adapters.DialOptions{TLSConfig: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	h2, resp2, err := adapters.Dial(ctx, url, &adapters.DialOptions{
		HTTP2: adapters.NewHTTP2Client(&http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true})})
	if err != nil {
		t.Fatal(err)
	}
	if resp1.ProtoMajor != 1 || resp2.ProtoMajor != 2 {
		t.Fatalf("protocols %s and %s", resp1.Proto, resp2.Proto)
	}
	return h1, h2
}

// inHTTP2Process returns true in a process whose HTTP/2 server takes
// WebSockets (GODEBUG=http2xconnect=1, read once at start). Elsewhere it
// runs the test named name in a child process of this test binary with the
// variable set, fails if the child fails, and returns false.
func inHTTP2Process(t *testing.T, name string) bool {
	if HTTP2WebSockets() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v", "-test.timeout=150s")
	cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1", testpeers.ChildEnv)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("child with GODEBUG=http2xconnect=1: %v\n%s", err, out)
	}
	return false
}

// A client that leaves without a close frame is not a shutdown: over HTTP/2
// its request's context ends with its stream, and the server must not
// answer that with 1001 "server shutting down". The log says 1006 and what
// was seen; over HTTP/1.1 alike.
func TestClientLeavingIsNotShutdown(t *testing.T) {
	if !inHTTP2Process(t, "TestClientLeavingIsNotShutdown") {
		return
	}
	var mu sync.Mutex
	var lines []string
	logged := make(chan struct{}, 2)
	srv, err := NewServer(func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
		logged <- struct{}{}
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h1, h2 := serveTLSBoth(t, ctx, srv)
	h1.CloseNow()
	h2.CloseNow()
	for range 2 {
		select {
		case <-logged:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server did not log both ends: %q", lines)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		if strings.Contains(l, "shutting down") || strings.Contains(l, "1001") || !strings.Contains(l, "1006") {
			t.Errorf("a client that left was logged as %q", l)
		}
	}
}

package adapters_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	testpeers "github.com/wsengine/ws/internal/peers"
	"github.com/wsengine/ws/protocol"
)

// xconnectOn reports whether net/http's HTTP/2 server advertises extended
// CONNECT in this process: it reads GODEBUG once, at init.
func xconnectOn() bool { return strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") }

// inChild makes sure the test named name runs in a process whose
// http2xconnect setting is on: it returns true if this one is, else it
// runs the test in a child process of this test binary with GODEBUG set
// so, fails if the child fails, and returns false.
func inChild(t *testing.T, name string, on bool) bool {
	if xconnectOn() == on {
		return true
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	setting := "http2xconnect=0"
	if on {
		setting = "http2xconnect=1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v", "-test.timeout=150s")
	cmd.Env = append(env, "GODEBUG="+setting, testpeers.ChildEnv)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+name)) {
		t.Fatalf("child with GODEBUG=%s: %v\n%s", setting, err, out)
	}
	t.Logf("child with GODEBUG=%s passed:\n%s", setting, lastLines(out, 25))
	return false
}

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return bytes.Join(lines[max(0, len(lines)-n):], []byte("\n"))
}

// h2Server is a TLS httptest server with HTTP/2 whose handler accepts
// WebSockets (over HTTP/2 and HTTP/1.1 alike) and runs handler on them,
// keeping the handler running until the connection is done. It counts the
// TCP connections it accepted and the protocol of each WebSocket.
type h2Server struct {
	srv    *httptest.Server
	url    string
	conns  atomic.Int32 // TCP connections
	h2, h1 atomic.Int32 // WebSockets by HTTP version
}

func newH2Server(t *testing.T, opts *adapters.AcceptOptions, handler func(*adapters.Conn)) *h2Server {
	t.Helper()
	s := &h2Server{}
	var wg sync.WaitGroup
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1) // before the hijack: see server
		defer wg.Done()
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return
		}
		if r.ProtoMajor == 2 {
			s.h2.Add(1)
		} else {
			s.h1.Add(1)
		}
		handler(c)
	}))
	s.srv.EnableHTTP2 = true
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.StartTLS()
	t.Cleanup(func() { s.srv.Close(); wg.Wait() })
	s.url = "wss" + strings.TrimPrefix(s.srv.URL, "https")
	return s
}

// client returns an HTTP2Client over a transport that trusts the server.
func (s *h2Server) client() *adapters.HTTP2Client {
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	return adapters.NewHTTP2Client(tr)
}

// WebSockets over HTTP/2 (RFC 8441) with GODEBUG=http2xconnect=1.
func TestHTTP2(t *testing.T) {
	if !inChild(t, "TestHTTP2", true) {
		return
	}
	t.Run("Echo", testHTTP2Echo)
	t.Run("Multiplexed", testHTTP2Multiplexed)
	t.Run("BadRequests", testHTTP2BadRequests)
	t.Run("NetConn", testHTTP2NetConn)
	t.Run("Keepalive", testHTTP2Keepalive)
	t.Run("StalledPeer", testHTTP2StalledPeer)
	t.Run("Limit", testHTTP2Limit)
	t.Run("NeverAnswers", testHTTP2NeverAnswers)
	t.Run("SilentClient", testHTTP2SilentClient)
	t.Run("BurstThenSilence", testHTTP2BurstThenSilence)
}

// A client that opens the stream and then neither reads nor writes: the
// server's keepalive fails the connection with 1011, the handler's Read
// returns ErrKeepaliveTimeout, and the handler returns (the stream
// released) within the bounds.
func testHTTP2SilentClient(t *testing.T) {
	checkLeaks(t)
	cfg := protocol.DefaultConfig()
	cfg.PingInterval, cfg.PongTimeout, cfg.CloseTimeout = 100*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	ended := make(chan error, 1)
	s := newH2Server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: &cfg}}, func(c *adapters.Conn) {
		_, _, err := c.Read(context.Background())
		ended <- err
	})
	quiet := make(chan struct{})
	req, _ := http.NewRequestWithContext(ctxT(t), "CONNECT", s.srv.URL+"/", io.NopCloser(blockingReader(quiet)))
	req.Header = http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}}
	resp, err := s.client().RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		close(quiet)
		t.Fatalf("%v %v", resp, err)
	}
	defer resp.Body.Close()
	defer close(quiet) // first: closing the body waits for the request body's writer
	select {
	case err := <-ended:
		if !errors.Is(err, protocol.ErrKeepaliveTimeout) || protocol.CloseCodeOf(err) != frame.CloseInternalError {
			t.Fatalf("server's Read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not give up on a silent client")
	}
}

// blockingReader is a request body that yields no byte until it is closed.
type blockingReader chan struct{}

func (b blockingReader) Read([]byte) (int, error) {
	<-b
	return 0, io.EOF
}

// A server that takes the extended CONNECT and never answers: Dial returns
// at the open timeout with ErrOpenTimeout, and the stream is reset.
func testHTTP2NeverAnswers(t *testing.T) {
	checkLeaks(t)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done(): // the client gave up: its stream was reset
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer close(release)
	cfg := protocol.DefaultConfig()
	cfg.OpenTimeout = 200 * time.Millisecond
	h2 := adapters.NewHTTP2Client(srv.Client().Transport.(*http.Transport).Clone())
	start := time.Now()
	c, _, err := adapters.Dial(context.Background(), "wss"+strings.TrimPrefix(srv.URL, "https"),
		&adapters.DialOptions{HTTP2: h2, Options: adapters.Options{Config: &cfg}})
	if c != nil || !errors.Is(err, protocol.ErrOpenTimeout) {
		t.Fatalf("conn %v err %v", c, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial returned after %v", d)
	}
}

// A message over the server's limit fails the connection with 1009 on both
// sides, over the stream as over TCP.
func testHTTP2Limit(t *testing.T) {
	checkLeaks(t)
	cfg := protocol.DefaultConfig()
	cfg.MaxMessageSize = 1 << 10
	status := make(chan protocol.CloseStatus, 1)
	s := newH2Server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: &cfg}}, func(c *adapters.Conn) {
		echo(c)
		status <- c.CloseStatus()
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, s.url, &adapters.DialOptions{HTTP2: s.client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, frame.OpBinary, make([]byte, 2<<10)); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	if code := protocol.CloseCodeOf(err); code != frame.CloseTooBig {
		t.Fatalf("client: %v", err)
	}
	if st := <-status; st.SentCode != frame.CloseTooBig {
		t.Fatalf("server: %+v", st)
	}
}

// Messages of every size go both ways over an HTTP/2 stream, with and
// without compression; the close handshake ends clean with the code both
// sides see; HTTP/1.1 works on the same handler.
func testHTTP2Echo(t *testing.T) {
	checkLeaks(t)
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			serverStatus := make(chan protocol.CloseStatus, 1)
			s := newH2Server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: bigConfig(), DisableCompression: !compress}},
				func(c *adapters.Conn) {
					echo(c) // returns at the close error: the stream is released by then
					serverStatus <- c.CloseStatus()
				})
			ctx := ctxT(t)
			c, resp, err := adapters.Dial(ctx, s.url, &adapters.DialOptions{HTTP2: s.client(),
				Options: adapters.Options{Config: bigConfig(), DisableCompression: !compress}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 || c.Compressed() != compress {
				t.Fatalf("response %d %s, compressed %v", resp.StatusCode, resp.Proto, c.Compressed())
			}
			echoSizes(t, ctx, c)
			if err := c.Close(frame.CloseNormal, "bye"); err != nil {
				t.Fatalf("Close: %v", err)
			}
			st := <-serverStatus
			if !st.Clean || st.Code != frame.CloseNormal || st.Reason != "bye" || !c.CloseStatus().Clean {
				t.Fatalf("server saw %+v, client %+v", st, c.CloseStatus())
			}
			// The same handler over HTTP/1.1.
			c1, resp, err := adapters.Dial(ctx, s.url, &adapters.DialOptions{TLSConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig})
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("HTTP/1.1: %v %v", resp, err)
			}
			if err := c1.Write(ctx, frame.OpText, []byte("one")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c1.Read(ctx); err != nil || string(p) != "one" {
				t.Fatalf("HTTP/1.1 echo %q %v", p, err)
			}
			c1.Close(frame.CloseNormal, "")
			<-serverStatus
			if s.h2.Load() != 1 || s.h1.Load() != 1 {
				t.Fatalf("WebSockets over HTTP/2 %d, HTTP/1.1 %d", s.h2.Load(), s.h1.Load())
			}
		})
	}
}

// 100 WebSockets share one TCP connection; closing one leaves the others
// running.
func testHTTP2Multiplexed(t *testing.T) {
	checkLeaks(t)
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			s := newH2Server(t, &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: !compress}}, echo)
			h2 := s.client()
			ctx := ctxT(t)
			const n = 100
			conns := make([]*adapters.Conn, n)
			for i := range conns {
				c, _, err := adapters.Dial(ctx, s.url, &adapters.DialOptions{HTTP2: h2, Options: adapters.Options{DisableCompression: !compress}})
				if err != nil {
					t.Fatalf("dial %d: %v", i, err)
				}
				conns[i] = c
			}
			if got := s.conns.Load(); got != 1 {
				t.Fatalf("%d TCP connections for %d WebSockets, want 1", got, n)
			}
			round := func(from int) {
				t.Helper()
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for i := from; i < n; i++ {
					wg.Add(1)
					go func(i int, c *adapters.Conn) {
						defer wg.Done()
						msg := fmt.Sprintf("stream %d: %s", i, strings.Repeat("x", i*50))
						if err := c.Write(ctx, frame.OpText, []byte(msg)); err != nil {
							errs <- err
							return
						}
						if _, p, err := c.Read(ctx); err != nil || string(p) != msg {
							errs <- fmt.Errorf("stream %d: %q %v", i, p, err)
						}
					}(i, conns[i])
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
			}
			round(0)
			if err := conns[0].Close(frame.CloseNormal, ""); err != nil {
				t.Fatal(err)
			}
			round(1)
			for _, c := range conns[1:] {
				if err := c.Close(frame.CloseNormal, ""); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.conns.Load(); got != 1 {
				t.Fatalf("%d TCP connections after the closes", got)
			}
		})
	}
}

// Requests RFC 8441 refuses get clear HTTP errors, and nothing hangs.
func testHTTP2BadRequests(t *testing.T) {
	checkLeaks(t)
	s := newH2Server(t, nil, echo)
	tr := s.srv.Client().Transport.(*http.Transport)
	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		status int
		body   string
	}{
		{"GET", "GET", nil, 405, "extended CONNECT"},
		{"POST", "POST", nil, 405, "extended CONNECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctxT(t), tc.method, s.srv.URL+"/", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
				t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
			}
		})
	}
	// Extended CONNECTs with a :protocol other than websocket, without a
	// version, with a key, from another origin: sent through the
	// HTTP2Client as a RoundTripper.
	h2 := s.client()
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		reason string
	}{
		{"other protocol", http.Header{":protocol": {"webtransport"}, "Sec-Websocket-Version": {"13"}}, 400, "unsupported :protocol"},
		{"missing version", http.Header{":protocol": {"websocket"}}, 426, "Sec-WebSocket-Version"},
		{"with a key", http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, 400, "Sec-WebSocket-Key is not used"},
		{"other origin", http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Origin": {"https://evil.example"}}, 403, "origin not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctxT(t), "CONNECT", s.srv.URL+"/", nil)
			req.Header = tc.header
			resp, err := h2.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.reason)
			}
		})
	}
	// A refusal reaches Dial's caller as a *HandshakeError with the
	// response.
	_, resp, err := adapters.Dial(ctxT(t), s.url, &adapters.DialOptions{HTTP2: h2, Origin: "https://evil.example"})
	var he *protocol.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 || resp == nil || resp.StatusCode != 403 || resp.ProtoMajor != 2 {
		t.Fatalf("resp %v err %v", resp, err)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "origin not allowed") {
		t.Fatalf("body %q", body)
	}
	// ws:// cannot go over HTTP/2.
	if _, _, err := adapters.Dial(ctxT(t), "ws"+strings.TrimPrefix(s.url, "wss"), &adapters.DialOptions{HTTP2: s.client()}); !errors.Is(err, adapters.ErrNoHTTP2) {
		t.Fatalf("ws:// over HTTP/2: %v", err)
	}
}

// NetConn over HTTP/2 passes the net.Conn conformance suite: deadlines
// move and come back without ending the stream.
func testHTTP2NetConn(t *testing.T) {
	checkLeaks(t)
	accepted := make(chan *adapters.Conn, 1)
	cfg := protocol.DefaultConfig()
	cfg.CloseTimeout = time.Second
	opts := adapters.Options{Config: &cfg, DisableCompression: true}
	s := newH2Server(t, &adapters.AcceptOptions{Options: opts}, func(c *adapters.Conn) {
		accepted <- c
		<-c.Done() // the handler holds the stream until the end
	})
	h2 := s.client()
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		ca, _, err := adapters.Dial(context.Background(), s.url, &adapters.DialOptions{HTTP2: h2, Options: opts})
		if err != nil {
			return nil, nil, nil, err
		}
		cb := <-accepted
		ctx := context.Background()
		stop = func() {
			ca.Close(frame.CloseNormal, "")
			cb.Close(frame.CloseNormal, "")
		}
		return ca.NetConn(ctx, frame.OpBinary), cb.NetConn(ctx, frame.OpBinary), stop, nil
	})
}

// Keepalive works over a stream: a push-only server's pings are answered
// by a client that never calls Read, and a peer whose stream stalls is
// failed with 1011.
func testHTTP2Keepalive(t *testing.T) {
	checkLeaks(t)
	cfg := protocol.DefaultConfig()
	cfg.PingInterval = 50 * time.Millisecond
	cfg.PongTimeout = 200 * time.Millisecond
	status := make(chan protocol.CloseStatus, 1)
	s := newH2Server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: &cfg}}, func(c *adapters.Conn) {
		ctx := ctxT(t)
		for i := 0; i < 10; i++ {
			if _, err := c.Ping(ctx); err != nil {
				status <- c.CloseStatus()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Close(frame.CloseNormal, "done")
		<-c.Done()
		status <- c.CloseStatus()
	})
	c, _, err := adapters.Dial(ctxT(t), s.url, &adapters.DialOptions{HTTP2: s.client(), Options: adapters.Options{Config: &cfg}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the server's close never arrived")
	}
	if st := <-status; !st.Clean || st.Code != frame.CloseNormal {
		t.Fatalf("server %+v", st)
	}
	if st := c.CloseStatus(); !st.Clean || st.Reason != "done" {
		t.Fatalf("client %+v", st)
	}
}

// Against a peer whose stream stops moving (it never reads), a Write is
// bounded by its ctx, keepalive fails the connection with 1011, and Close
// returns within the close timeout: the stream is reset, the TCP
// connection and its other streams live on.
func testHTTP2StalledPeer(t *testing.T) {
	checkLeaks(t)
	cfg := protocol.DefaultConfig()
	cfg.PingInterval = 100 * time.Millisecond
	cfg.PongTimeout = 300 * time.Millisecond
	cfg.CloseTimeout = 300 * time.Millisecond
	stall := make(chan struct{})
	s := newH2Server(t, nil, func(c *adapters.Conn) {
		if c.Subprotocol() == "stall" {
			<-stall // never reads: the stream's window fills
			return
		}
		echo(c)
	})
	defer close(stall)
	h2 := s.client()
	ctx := ctxT(t)
	healthy, _, err := adapters.Dial(ctx, s.url, &adapters.DialOptions{HTTP2: h2})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := adapters.Dial(ctx, s.url, &adapters.DialOptions{HTTP2: h2, Subprotocols: []string{"stall"},
		Options: adapters.Options{Config: &cfg, DisableCompression: true}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	var werr error
	for werr == nil {
		werr = c.Write(wctx, frame.OpBinary, make([]byte, 1<<20))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("writes against a stalled stream took %v", d)
	}
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the connection did not end")
	}
	if code := protocol.CloseCodeOf(c.CloseStatus().Err); code != frame.CloseInternalError && code != frame.CloseAbnormal {
		t.Fatalf("status %+v (write error %v)", c.CloseStatus(), werr)
	}
	if err := healthy.Write(ctx, frame.OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := healthy.Read(ctx); err != nil || string(p) != "still here" {
		t.Fatalf("the other stream: %q %v", p, err)
	}
	healthy.Close(frame.CloseNormal, "")
	if s.conns.Load() != 1 {
		t.Fatalf("%d TCP connections", s.conns.Load())
	}
}

// Without GODEBUG=http2xconnect=1 a Go server does not advertise extended
// CONNECT: Dial over HTTP/2 says so, and HTTP/1.1 still works.
func TestHTTP2SettingOff(t *testing.T) {
	if !inChild(t, "TestHTTP2SettingOff", false) {
		return
	}
	checkLeaks(t)
	s := newH2Server(t, nil, echo)
	_, _, err := adapters.Dial(ctxT(t), s.url, &adapters.DialOptions{HTTP2: s.client()})
	if !errors.Is(err, adapters.ErrExtendedConnectOff) {
		t.Fatalf("err %v, want ErrExtendedConnectOff", err)
	}
	c, resp, err := adapters.Dial(ctxT(t), s.url, &adapters.DialOptions{TLSConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig})
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("HTTP/1.1 fallback: %v", err)
	}
	c.Close(frame.CloseNormal, "")
	// A server that speaks only HTTP/1.1.
	s1 := httptest.NewTLSServer(http.NotFoundHandler())
	defer s1.Close()
	tr := s1.Client().Transport.(*http.Transport).Clone()
	_, _, err = adapters.Dial(ctxT(t), "wss"+strings.TrimPrefix(s1.URL, "https"), &adapters.DialOptions{HTTP2: adapters.NewHTTP2Client(tr)})
	if !errors.Is(err, adapters.ErrNoHTTP2) {
		t.Fatalf("err %v, want ErrNoHTTP2", err)
	}
}

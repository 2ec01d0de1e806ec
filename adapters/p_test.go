package adapters_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// silentListener accepts TCP connections and never writes a byte; it
// returns its address.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// P1: the server sends a message and closes at once; the client reads the
// message, then the close (1000).
func TestP1MessageThenCloseDelivered(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, func(c *adapters.Conn) {
		c.Write(context.Background(), frame.OpText, []byte("the last message"))
		c.Close(frame.CloseNormal, "done")
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done() // the whole close has happened before the first Read
	op, p, err := c.Read(ctx)
	if err != nil || op != frame.OpText || string(p) != "the last message" {
		t.Fatalf("got %v %q %v", op, p, err)
	}
	_, _, err = c.Read(ctx)
	if !errors.Is(err, &protocol.CloseError{Code: frame.CloseNormal}) {
		t.Fatalf("second read: %v", err)
	}
}

// rawUpgrade makes a raw TCP connection to url's server, performs the
// client handshake by hand, and returns the socket and the response bytes.
func rawUpgrade(t *testing.T, addr, request string) (net.Conn, string) {
	nc := dialTCP(t, addr)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, request)
	br := bufio.NewReader(nc)
	var resp strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v (%q)", err, resp.String())
		}
		resp.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	nc.SetDeadline(time.Time{})
	return nc, resp.String()
}

const firefoxRequest = "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0\r\n" +
	"Sec-WebSocket-Version: 13\r\nOrigin: http://%s\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"

// P2 with a fake clock: a peer that completes the handshake and then never
// answers is detected by keepalive, and the connection fails with 1011
// exactly at interval + timeout.
func TestP2KeepaliveFakeClock(t *testing.T) {
	checkLeaks(t)
	clock := newFakeClock()
	accepted := make(chan *adapters.Conn, 1)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{Clock: clock}}, func(c *adapters.Conn) {
		accepted <- c
		<-c.Done()
	})
	addr := strings.TrimPrefix(url, "ws://")
	_, resp := rawUpgrade(t, addr, strings.ReplaceAll(firefoxRequest, "%s", addr))
	if !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
		t.Fatalf("response %q", resp)
	}
	c := <-accepted
	clock.Advance(protocol.DefaultPingInterval - time.Millisecond)
	if c.CloseStatus().Err != nil {
		t.Fatal("failed before the ping")
	}
	clock.Advance(time.Millisecond) // ping goes out
	clock.Advance(protocol.DefaultPongTimeout - time.Millisecond)
	if c.CloseStatus().Err != nil {
		t.Fatal("failed before the pong timeout")
	}
	clock.Advance(time.Millisecond)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not failed at interval + timeout")
	}
	st := c.CloseStatus()
	if st.Code != frame.CloseInternalError || !errors.Is(st.Err, protocol.ErrKeepaliveTimeout) {
		t.Fatalf("status %+v", st)
	}
}

// P2 in real time, with short durations.
func TestP2KeepaliveRealTime(t *testing.T) {
	checkLeaks(t)
	cfg := protocol.DefaultConfig()
	cfg.PingInterval, cfg.PongTimeout = 50*time.Millisecond, 100*time.Millisecond
	addr := silentPeerAfterHandshake(t)
	start := time.Now()
	c, _, err := adapters.Dial(ctxT(t), "ws://"+addr+"/", &adapters.DialOptions{Options: adapters.Options{Config: &cfg}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctxT(t))
	elapsed := time.Since(start)
	if !errors.Is(err, protocol.ErrKeepaliveTimeout) || protocol.CloseCodeOf(err) != frame.CloseInternalError {
		t.Fatalf("got %v", err)
	}
	if elapsed < 150*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("detected after %v", elapsed)
	}
	<-c.Done()
}

// silentPeerAfterHandshake is a server that answers the handshake with a
// valid 101 (for the key wsengine sent) and then reads and ignores all. It
// returns its address.
func silentPeerAfterHandshake(t *testing.T) string {
	url := scriptServer(t, "", func(_ net.Conn, br *bufio.Reader) { io.Copy(io.Discard, br) })
	return strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
}

// P3: a clean close, a keepalive timeout and an abrupt end are told apart
// with errors.Is.
func TestP3StatusesDistinguishable(t *testing.T) {
	checkLeaks(t)
	ctx := ctxT(t)
	// Clean.
	url := server(t, nil, func(c *adapters.Conn) { c.Close(frame.CloseNormal, "") })
	c, _, _ := adapters.Dial(ctx, url, nil)
	_, _, clean := c.Read(ctx)
	// Keepalive.
	cfg := protocol.DefaultConfig()
	cfg.PingInterval, cfg.PongTimeout = 20*time.Millisecond, 40*time.Millisecond
	c2, _, _ := adapters.Dial(ctx, "ws://"+silentPeerAfterHandshake(t)+"/", &adapters.DialOptions{Options: adapters.Options{Config: &cfg}})
	_, _, timeout := c2.Read(ctx)
	// Abrupt: the server's socket is closed without a close frame.
	url3 := abruptServer(t)
	c3, _, err := adapters.Dial(ctx, url3, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, abrupt := c3.Read(ctx)

	normal := &protocol.CloseError{Code: frame.CloseNormal}
	for _, tc := range []struct {
		name                  string
		err                   error
		isNormal, isKeepalive bool
		code                  frame.CloseCode
	}{
		{"clean", clean, true, false, frame.CloseNormal},
		{"keepalive", timeout, false, true, frame.CloseInternalError},
		{"abrupt", abrupt, false, false, frame.CloseAbnormal},
	} {
		if errors.Is(tc.err, normal) != tc.isNormal || errors.Is(tc.err, protocol.ErrKeepaliveTimeout) != tc.isKeepalive || protocol.CloseCodeOf(tc.err) != tc.code {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	if !errors.Is(abrupt, protocol.ErrTransportClosed) || !strings.Contains(abrupt.Error(), "no close frame received or sent") {
		t.Errorf("abrupt: %v", abrupt)
	}
	<-c.Done()
	<-c2.Done()
	<-c3.Done()
}

// abruptServer upgrades and then closes the TCP connection at once.
func abruptServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		write101(brw, r.Header.Get("Sec-WebSocket-Key"), "")
		brw.Flush()
		nc.Close()
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// P4: the raw 101 has one Connection header; a Firefox request is
// accepted; an application header that would repeat it is refused.
func TestP4SingleConnectionHeader(t *testing.T) {
	checkLeaks(t)
	url := server(t, &adapters.AcceptOptions{Server: protocol.ServerOptions{Header: http.Header{"X-Served-By": {"wsengine"}}}}, echo)
	addr := strings.TrimPrefix(url, "ws://")
	nc, resp := rawUpgrade(t, addr, strings.ReplaceAll(firefoxRequest, "%s", addr))
	if !strings.HasPrefix(resp, "HTTP/1.1 101 ") || strings.Count(strings.ToLower(resp), "\r\nconnection:") != 1 ||
		strings.Count(strings.ToLower(resp), "\r\nupgrade:") != 1 || !strings.Contains(resp, "X-Served-By: wsengine") {
		t.Fatalf("response %q", resp)
	}
	nc.Close()

	bad := server(t, &adapters.AcceptOptions{Server: protocol.ServerOptions{Header: http.Header{"Connection": {"Upgrade"}}}}, echo)
	_, r2, err := adapters.Dial(ctxT(t), bad, nil)
	if err == nil || r2 == nil || r2.StatusCode != http.StatusInternalServerError {
		t.Fatalf("a duplicated Connection header was not refused: %v %v", r2, err)
	}
}

// P5: wss works with a test CA; a wrong scheme is a clear error.
func TestP5SchemesAndTLS(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, nil)
		if err != nil {
			return
		}
		echo(c)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	ctx := ctxT(t)
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(ctx, frame.OpText, []byte("over TLS"))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "over TLS" {
		t.Fatalf("%q %v", p, err)
	}
	c.Close(1000, "")
	// Without the CA the certificate is refused.
	if _, _, err := adapters.Dial(ctx, url, nil); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	for raw, want := range map[string]string{
		"ftp://127.0.0.1/":   "scheme ftp",
		"127.0.0.1:9001/":    "ws://",
		"ws://host/path#frg": "fragment",
	} {
		_, _, err := adapters.Dial(ctx, raw, nil)
		if !errors.Is(err, protocol.ErrBadURL) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

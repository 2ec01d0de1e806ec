package adapters_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
)

// Accept holds a request net/http parsed to the engine's header limits:
// 40 KB of headers (net/http allows 1 MB) get 431, not 101.
func TestAcceptHeaderLimits(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, echo)
	addr := strings.TrimPrefix(url, "ws://")
	nc := dialTCP(t, addr)
	big := strings.Repeat("X-Big: "+strings.Repeat("a", 4000)+"\r\n", 10)
	io.WriteString(nc, upgradeRequest(addr, big))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// Accept's errors are what its documentation says: a refused request is a
// *protocol.HandshakeError itself, and a ResponseWriter that cannot be
// hijacked (middleware without Unwrap) gives a 500 and ErrHijack, each on
// one line.
func TestAcceptErrors(t *testing.T) {
	checkLeaks(t)
	errs := make(chan error, 1)
	type plainWrapper struct{ http.ResponseWriter } // hides Hijack, no Unwrap
	wrap := func(kind string, w http.ResponseWriter) http.ResponseWriter {
		switch kind {
		case "plain":
			return plainWrapper{w}
		case "unwrap":
			return &unwrapWriter{w}
		}
		return w
	}
	for _, kind := range []string{"plain", "unwrap"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := adapters.Accept(wrap(kind, w), r, nil)
			if err == nil {
				c.CloseNow()
			}
			errs <- err
		}))
		_, resp, _ := adapters.Dial(ctxT(t), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		err := <-errs
		srv.Close()
		switch kind {
		case "plain":
			if !errors.Is(err, adapters.ErrHijack) || strings.Contains(err.Error(), "\n") || resp == nil || resp.StatusCode != 500 {
				t.Fatalf("plain wrapper: %v, %v", err, resp)
			}
		case "unwrap":
			if err != nil {
				t.Fatalf("wrapper with Unwrap: %v", err)
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := adapters.Accept(w, r, nil)
		errs <- err
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	if he, ok := (<-errs).(*protocol.HandshakeError); !ok || he.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("refusal: %T %v", he, he)
	}
}

type unwrapWriter struct{ w http.ResponseWriter }

func (u *unwrapWriter) Header() http.Header         { return u.w.Header() }
func (u *unwrapWriter) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u *unwrapWriter) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u *unwrapWriter) Unwrap() http.ResponseWriter { return u.w }

// Frames that come in the same write as the request land in net/http's
// read buffer before Accept runs; Accept hands them to the connection (and
// drops net/http's buffers after), so the handler reads every one and the
// echo comes back in order.
func TestAcceptFramesBehindRequest(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, echo)
	addr := strings.TrimPrefix(url, "ws://")
	nc := dialTCP(t, addr)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	out := []byte(upgradeRequest(addr, ""))
	want := []string{"one", strings.Repeat("two", 100), "three"}
	for i, msg := range want {
		key := [4]byte{byte(i), 0x5a, 0xa5, 0x3c}
		out = frame.AppendHeader(out, frame.Header{Fin: true, Opcode: frame.OpText, Masked: true, Mask: key, Length: uint64(len(msg))})
		start := len(out)
		out = append(out, msg...)
		frame.Mask(out[start:], key, 0)
	}
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, msg := range want {
		h, got, err := echotest.ReadServerFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if h.Opcode != frame.OpText || string(got) != msg {
			t.Fatalf("echo %v %q, want text %q", h.Opcode, got, msg)
		}
	}
}

// hijackNoWriter is middleware with a Hijack of its own that hands over the
// read buffer only (a nil Writer is allowed by bufio.ReadWriter's shape).
type hijackNoWriter struct{ http.ResponseWriter }

func (h hijackNoWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return nc, bufio.NewReadWriter(brw.Reader, nil), nil
}

// Accept works through a middleware's own Hijacker, whatever buffers it
// hands over.
func TestAcceptOwnHijacker(t *testing.T) {
	checkLeaks(t)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(hijackNoWriter{w}, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer close(done)
		echo(c)
		c.Close(1000, "")
	}))
	defer srv.Close()
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, adapters.OpText, []byte("through middleware")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || string(p) != "through middleware" {
		t.Fatalf("echo %q, %v", p, err)
	}
	c.Close(1000, "")
	<-done
}

// hijackPanics is middleware whose Hijack panics.
type hijackPanics struct{ http.ResponseWriter }

func (hijackPanics) Hijack() (net.Conn, *bufio.ReadWriter, error) { panic("middleware bug") }

// A panic inside Accept reaches the handler's goroutine, where net/http (or
// the handler) recovers it, instead of ending the process from the
// goroutine Accept runs the handshake on.
func TestAcceptPanicReachesHandler(t *testing.T) {
	checkLeaks(t)
	got := make(chan any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { got <- recover() }()
		adapters.Accept(hijackPanics{w}, r, nil)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil); err == nil {
		t.Fatal("Dial succeeded against a handler that panicked")
	}
	if p := <-got; p != "middleware bug" {
		t.Fatalf("handler recovered %v", p)
	}
}

// Headers set on w before Accept (a cookie, CORS and a request id from
// middleware) reach the client in the 101, beside ServerOptions.Header's
// (w's value wins for a name both set); one the handshake writes itself is
// refused with an error that names it, and the client gets a 500 without
// it, never a 101 with a second Connection header (design P4).
func TestAcceptMergesResponseHeaders(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name      string
		set       func(h http.Header)
		want      map[string][]string // in the response, exactly
		refused   string              // the header named by the error, if refused
		wantCode  int
		wantNoHdr string // a header the response must not carry
	}{
		{"middleware headers", func(h http.Header) {
			http.SetCookie(headerWriter(h), &http.Cookie{Name: "session", Value: "abc"})
			h.Set("Access-Control-Allow-Origin", "https://example.com")
			h.Set("X-Request-Id", "r-42")
			h.Set("X-Both", "from w")
		}, map[string][]string{
			"Set-Cookie":                  {"session=abc"},
			"Access-Control-Allow-Origin": {"https://example.com"},
			"X-Request-Id":                {"r-42"},
			"X-Both":                      {"from w"},
			"X-Option":                    {"from options"},
			"Connection":                  {"Upgrade"},
			"Upgrade":                     {"websocket"},
		}, "", http.StatusSwitchingProtocols, ""},
		{"a second Connection", func(h http.Header) { h.Set("Connection", "upgrade") },
			nil, "Connection", http.StatusInternalServerError, "Upgrade"},
		{"a Sec-WebSocket-Accept", func(h http.Header) { h.Set("Sec-WebSocket-Accept", "x") },
			nil, "Sec-Websocket-Accept", http.StatusInternalServerError, "Sec-Websocket-Accept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := make(chan error, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.set(w.Header())
				c, err := adapters.Accept(w, r, &adapters.AcceptOptions{Server: adapters.ServerOptions{
					Header: http.Header{"X-Option": {"from options"}, "X-Both": {"from options"}}}})
				errs <- err
				if err == nil {
					c.CloseNow()
				}
			}))
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")
			nc := dialTCP(t, addr)
			io.WriteString(nc, upgradeRequest(addr, ""))
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			aerr := <-errs
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (Accept: %v)", resp.StatusCode, tt.wantCode, aerr)
			}
			for k, v := range tt.want {
				if got := resp.Header.Values(k); !slices.Equal(got, v) {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.wantNoHdr != "" && resp.Header.Get(tt.wantNoHdr) != "" {
				t.Errorf("the response carries %s: %q", tt.wantNoHdr, resp.Header.Get(tt.wantNoHdr))
			}
			if tt.refused == "" {
				if aerr != nil {
					t.Fatal(aerr)
				}
				return
			}
			if !errors.Is(aerr, protocol.ErrReservedHeader) || !strings.Contains(aerr.Error(), tt.refused) {
				t.Fatalf("Accept: %v, want ErrReservedHeader naming %s", aerr, tt.refused)
			}
		})
	}
}

// headerWriter lets http.SetCookie write into a header.
type headerWriter http.Header

func (h headerWriter) Header() http.Header       { return http.Header(h) }
func (h headerWriter) Write([]byte) (int, error) { return 0, nil }
func (h headerWriter) WriteHeader(int)           {}

// AcceptOptions.Subprotocols and Header read as DialOptions' do; the older
// spelling through Server keeps working, after them.
func TestAcceptOptionsSpellings(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name   string
		opts   adapters.AcceptOptions
		offer  []string
		wantSP string
		wantH  map[string]string
	}{
		{"top level", adapters.AcceptOptions{Subprotocols: []string{"v2", "v1"}, Header: http.Header{"X-A": {"a"}}},
			[]string{"v1", "v2"}, "v2", map[string]string{"X-A": "a"}},
		{"through Server", adapters.AcceptOptions{Server: adapters.ServerOptions{Subprotocols: []string{"v1"}, Header: http.Header{"X-B": {"b"}}}},
			[]string{"v1", "v2"}, "v1", map[string]string{"X-B": "b"}},
		{"both: top level first", adapters.AcceptOptions{Subprotocols: []string{"v2"}, Header: http.Header{"X-A": {"top"}},
			Server: adapters.ServerOptions{Subprotocols: []string{"v1"}, Header: http.Header{"X-A": {"server"}, "X-B": {"b"}}}},
			[]string{"v1", "v2"}, "v2", map[string]string{"X-A": "top", "X-B": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := server(t, &tt.opts, func(c *adapters.Conn) {})
			c, resp, err := adapters.Dial(ctxT(t), url, &adapters.DialOptions{Subprotocols: tt.offer})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if c.Subprotocol() != tt.wantSP {
				t.Errorf("subprotocol %q, want %q", c.Subprotocol(), tt.wantSP)
			}
			for k, v := range tt.wantH {
				if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

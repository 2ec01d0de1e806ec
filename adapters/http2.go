package adapters

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"

	"github.com/wsengine/ws/protocol"
)

// Errors of Dial over HTTP/2.
var (
	// ErrNoHTTP2: the server did not negotiate HTTP/2 (ALPN "h2").
	ErrNoHTTP2 = errors.New("adapters: the server does not speak HTTP/2 (ALPN h2 not negotiated)")
	// ErrExtendedConnectOff: the server speaks HTTP/2 but did not advertise
	// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), so it cannot take a
	// WebSocket over HTTP/2. A Go server advertises it only when started
	// with GODEBUG=http2xconnect=1.
	ErrExtendedConnectOff = errors.New("adapters: the server did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL); it takes no WebSockets over HTTP/2")
)

// HTTP2Client opens WebSockets over HTTP/2 (RFC 8441) through an
// http.Transport's HTTP/2 connections: set it as DialOptions.HTTP2. Share
// one among Dials: WebSockets to one server then share a TCP connection,
// each on a stream of its own, as browsers do.
//
// net/http's Transport.RoundTrip refuses the :protocol pseudo-header an
// extended CONNECT needs (as an invalid header name), although its HTTP/2
// client sends it. HTTP2Client goes around that through the Transport's
// documented hook: it dials the first TLS connection itself and hands it to
// TLSNextProto["h2"], which adds it to the Transport's HTTP/2 pool and
// returns the HTTP/2 RoundTripper, which it keeps for the later Dials.
type HTTP2Client struct {
	t *http.Transport

	mu sync.Mutex
	rt http.RoundTripper // the transport's HTTP/2 client, once known
}

// NewHTTP2Client returns an HTTP2Client over t's HTTP/2 (nil: a new
// http.Transport). t's TLSClientConfig, DialContext and DialTLSContext
// open the connections; its Proxy is not used.
func NewHTTP2Client(t *http.Transport) *HTTP2Client {
	if t == nil {
		t = &http.Transport{}
	}
	t.Clone() // makes t configure its HTTP/2 (TLSNextProto["h2"]) now
	return &HTTP2Client{t: t}
}

// RoundTrip sends req over HTTP/2 (https:// only): on a connection of the
// Transport's pool if one is there, else on a new one. Unlike the
// Transport's own RoundTrip it sends extended CONNECTs (a ":protocol" key
// in req.Header, RFC 8441), for WebSockets or other protocols; it fails
// with ErrExtendedConnectOff if the server did not enable them.
func (h *HTTP2Client) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.roundTrip(req)
	if err != nil && strings.Contains(err.Error(), "extended connect not supported") {
		err = fmt.Errorf("%w (%w)", ErrExtendedConnectOff, err)
	}
	return resp, err
}

func (h *HTTP2Client) roundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "https" {
		return nil, fmt.Errorf("%w: HTTP2Client sends https:// requests only", ErrNoHTTP2)
	}
	h.mu.Lock()
	rt := h.rt
	h.mu.Unlock()
	if rt != nil {
		resp, err := rt.RoundTrip(req)
		var nc interface{ IsHTTP2NoCachedConnError() }
		if !errors.As(err, &nc) {
			return resp, err
		}
	}
	next := h.t.TLSNextProto["h2"]
	if next == nil {
		return nil, fmt.Errorf("%w: the Transport has HTTP/2 turned off", ErrNoHTTP2)
	}
	tc, err := h.dialTLS(req.Context(), req.URL.Host)
	if err != nil {
		return nil, err
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		tc.Close()
		return nil, ErrNoHTTP2
	}
	rt = next(req.URL.Host, tc)
	h.mu.Lock()
	h.rt = rt
	h.mu.Unlock()
	return rt.RoundTrip(req)
}

func (h *HTTP2Client) dialTLS(ctx context.Context, host string) (*tls.Conn, error) {
	addr := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		addr = net.JoinHostPort(strings.Trim(host, "[]"), "443")
	}
	if h.t.DialTLSContext != nil {
		nc, err := h.t.DialTLSContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tc, ok := nc.(*tls.Conn)
		if !ok {
			nc.Close()
			return nil, fmt.Errorf("%w: DialTLSContext returned a %T, not a *tls.Conn", ErrNoHTTP2, nc)
		}
		return tc, nil
	}
	dial := h.t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	serverName, _, _ := net.SplitHostPort(addr) // without the brackets of an IPv6 literal
	tc := tls.Client(nc, tlsConfig(h.t.TLSClientConfig, serverName, "h2"))
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// dialStream opens the WebSocket as an HTTP/2 stream. ctx bounds the
// handshake only: the stream lives on its own context, ended with the
// connection.
func dialStream(ctx context.Context, target protocol.Target, eng *protocol.Conn, opts *DialOptions, cfg protocol.Config, clock Clock) (*Conn, *http.Response, error) {
	if !target.TLS {
		return nil, nil, fmt.Errorf("%w: WebSockets over HTTP/2 need wss:// (HTTP/2 over TLS)", ErrNoHTTP2)
	}
	var laddr, raddr net.Addr
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		laddr, raddr = info.Conn.LocalAddr(), info.Conn.RemoteAddr()
	}}
	streamCtx, cancel := context.WithCancel(httptrace.WithClientTrace(context.WithoutCancel(ctx), trace))
	stop := context.AfterFunc(ctx, cancel)
	pr, pw := io.Pipe()
	req := eng.Request().WithContext(streamCtx)
	req.Body = pr
	resp, err := opts.HTTP2.RoundTrip(req)
	if !stop() {
		err = joinCtx(ctx, err)
	}
	if err != nil {
		cancel()
		pw.Close()
		if resp != nil {
			resp.Body.Close()
		}
		return nil, nil, err
	}
	var body []byte
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	}
	if err := eng.ReceiveResponse(clock.Now(), resp, body); err != nil {
		cancel()
		pw.Close()
		resp.Body.Close()
		var he *protocol.HandshakeError
		if errors.As(err, &he) {
			return nil, rejectedStreamResponse(he), he
		}
		return nil, nil, err
	}
	in := &streamBody{ReadCloser: resp.Body, cancel: cancel}
	sc := newStreamConn(in, pw, laddr, raddr)
	sc.endWrite = pw.Close
	sc.abort = func() { pw.CloseWithError(net.ErrClosed) }
	sc.start()
	resp = eng.Response() // before newConn: from then on the engine is the Conn's, under its lock
	return newConn(clientStream{sc}, eng, &opts.Options, cfg), resp, nil
}

// streamBody is a client's response body: closing it also ends the
// stream's context.
type streamBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *streamBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func rejectedStreamResponse(he *protocol.HandshakeError) *http.Response {
	resp := rejectedResponse(he)
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/2.0", 2, 0
	return resp
}

package adapters

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wsengine/ws/protocol"
)

// Dial opens a WebSocket connection to rawURL (ws://, wss://, http:// or
// https://) and returns it with the server's 101 response (its headers and
// cookies; the body is empty). The earlier of ctx and the configuration's
// OpenTimeout bounds the TCP, TLS and WebSocket handshakes together; when
// the open timeout ends it, the error wraps protocol.ErrOpenTimeout. If the
// server answers the handshake with something other than a valid 101, the
// error is a *protocol.HandshakeError and the response (status, headers,
// up to 4 KiB of body) is returned too. Redirects are not followed: a 3xx
// is such an error, with its Location header in the response.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	target, err := protocol.ParseURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	cfg := opts.engineConfig()
	clock := opts.clock()
	exts := opts.Extensions
	if d, ok := opts.deflateConfig(); ok {
		exts = append([]protocol.ClientExtension{d.Client()}, exts...)
	}
	header := opts.Header
	var jarURL *url.URL
	if opts.Jar != nil {
		jarURL = httpURL(target)
		if cookies := opts.Jar.Cookies(jarURL); len(cookies) > 0 {
			header = header.Clone()
			if header == nil {
				header = http.Header{}
			}
			req := &http.Request{Header: header}
			for _, ck := range cookies {
				req.AddCookie(ck)
			}
		}
	}
	eng, err := protocol.NewClient(cfg, protocol.ClientOptions{
		URL: rawURL, Origin: opts.Origin, Subprotocols: opts.Subprotocols,
		Extensions: exts, Header: header, HTTP2: opts.HTTP2 != nil,
	}, clock.Now())
	if err != nil {
		return nil, nil, err
	}
	stopAfterMessages(eng) // frames may come glued to the 101
	if d := cfg.OpenTimeoutOrDefault(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, protocol.ErrOpenTimeout)
		defer cancel()
	}
	open := dial
	if opts.HTTP2 != nil {
		open = dialStream
	}
	c, resp, err := open(ctx, target, eng, opts, cfg, clock)
	if opts.Jar != nil && resp != nil {
		if cookies := resp.Cookies(); len(cookies) > 0 {
			opts.Jar.SetCookies(jarURL, cookies)
		}
	}
	if err != nil && errors.Is(context.Cause(ctx), protocol.ErrOpenTimeout) && !errors.Is(err, protocol.ErrOpenTimeout) {
		err = fmt.Errorf("websocket: dial %s: %w after %v", rawURL, protocol.ErrOpenTimeout, cfg.OpenTimeoutOrDefault())
	}
	return c, resp, err
}

func dial(ctx context.Context, target protocol.Target, eng *protocol.Conn, opts *DialOptions, cfg protocol.Config, clock Clock) (*Conn, *http.Response, error) {
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	proxy := opts.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	proxyURL, err := proxy(&http.Request{Method: http.MethodGet, URL: httpURL(target), Header: http.Header{}})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrProxy, err)
	}
	var nc net.Conn
	if proxyURL != nil {
		var resp *http.Response
		nc, resp, err = dialProxy(ctx, dial, proxyURL, target.Addr)
		if err != nil {
			return nil, resp, err
		}
	} else if nc, err = dial(ctx, "tcp", target.Addr); err != nil {
		return nil, nil, err
	}
	if target.TLS {
		tc := tls.Client(nc, tlsConfig(opts.TLSConfig, target.ServerName, "http/1.1"))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			var rh tls.RecordHeaderError
			if errors.As(err, &rh) && bytes.HasPrefix(rh.RecordHeader[:], []byte("HTTP/")) {
				// The wss:// URL names a server that speaks plain HTTP.
				err = fmt.Errorf("websocket: %s answered in plain HTTP, not TLS: use ws://, not wss:// (%w)", target.Addr, err)
			}
			return nil, nil, err
		}
		nc = tc
	}
	resp, err := clientHandshake(ctx, nc, eng, clock)
	if err != nil {
		nc.Close()
		return nil, resp, err
	}
	return newConn(nc, eng, &opts.Options, cfg), resp, nil
}

// tlsConfig is base (or the defaults) for serverName, offering only proto
// by ALPN: "http/1.1" for the upgrade, "h2" for HTTP/2.
func tlsConfig(base *tls.Config, serverName, proto string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	cfg.NextProtos = []string{proto}
	return cfg
}

// clientHandshake writes the request and reads until the engine has left
// StateConnecting. The engine keeps its events (the response, and frames
// glued to it) for newConn.
func clientHandshake(ctx context.Context, nc net.Conn, eng *protocol.Conn, clock Clock) (*http.Response, error) {
	// Only ctx ends the handshake, so a read that fails for it fails after
	// ctx.Err() is set.
	stop := deadlineOnDone(ctx, nc)
	defer stop()
	if _, err := nc.Write(eng.Outgoing()); err != nil {
		return nil, joinCtx(ctx, err)
	}
	eng.Advance(len(eng.Outgoing()))
	var herr error
	for eng.State() == protocol.StateConnecting {
		n, err := nc.Read(eng.ReadBuffer(minReadBuffer))
		if n > 0 {
			if e := eng.ReceiveBuffered(clock.Now(), n); e != nil {
				herr = e
			}
		}
		if err != nil && eng.State() == protocol.StateConnecting {
			eng.ReceiveEOF(clock.Now())
			if herr == nil {
				herr = joinCtx(ctx, err)
			}
		}
	}
	if !stop() {
		return nil, joinCtx(ctx, herr)
	}
	nc.SetDeadline(time.Time{})
	if eng.Opened() {
		return eng.Response(), nil
	}
	var he *protocol.HandshakeError
	if errors.As(eng.CloseStatus().Err, &he) {
		return rejectedResponse(he), he
	}
	if herr == nil {
		herr = eng.CloseStatus().Err
	}
	return nil, herr
}

func rejectedResponse(he *protocol.HandshakeError) *http.Response {
	if he.StatusCode == 0 {
		return nil
	}
	return &http.Response{
		Status: strconv.Itoa(he.StatusCode) + " " + http.StatusText(he.StatusCode), StatusCode: he.StatusCode,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: he.Header, Body: io.NopCloser(bytes.NewReader(he.Body)), ContentLength: int64(len(he.Body)),
	}
}

// joinCtx reports err with ctx's error first when ctx ended (both match
// errors.Is), on one line.
func joinCtx(ctx context.Context, err error) error {
	switch {
	case ctx.Err() == nil:
		return err
	case err == nil:
		return ctx.Err()
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// httpURL is the http(s) URL a cookie jar knows a ws(s) target by.
func httpURL(t protocol.Target) *url.URL {
	u := &url.URL{Scheme: "http", Host: t.Host, Path: "/"}
	if t.TLS {
		u.Scheme = "https"
	}
	if pu, err := url.ParseRequestURI(t.RequestURI); err == nil {
		u.Path, u.RawQuery = pu.Path, pu.RawQuery
	}
	return u
}

// ErrProxy: the HTTP proxy refused the tunnel or could not be used. A
// refusal (407 Proxy Authentication Required, 403, 502...) comes with the
// proxy's response.
var ErrProxy = errors.New("websocket: proxy")

// dialProxy opens a tunnel to addr through an HTTP proxy with CONNECT (RFC
// 9110 §9.3.6), authenticating with the proxy URL's userinfo (Basic). TLS
// for wss:// then runs inside the tunnel. ctx bounds it all.
func dialProxy(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), proxy *url.URL, addr string) (net.Conn, *http.Response, error) {
	if proxy.Scheme != "http" {
		return nil, nil, fmt.Errorf("%w: scheme %q not supported (http:// proxies only)", ErrProxy, proxy.Scheme)
	}
	host := proxy.Host
	if proxy.Port() == "" {
		host = net.JoinHostPort(proxy.Hostname(), "80")
	}
	nc, err := dial(ctx, "tcp", host)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %s: %w", ErrProxy, proxy.Redacted(), err)
	}
	stop := deadlineOnDone(ctx, nc)
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if u := proxy.User; u != nil {
		pass, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass)))
	}
	err = req.Write(nc)
	var resp *http.Response
	br := bufio.NewReader(nc)
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() {
		err = joinCtx(ctx, err)
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%w %s: %w", ErrProxy, proxy.Redacted(), err)
	}
	nc.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		nc.Close()
		return nil, resp, fmt.Errorf("%w %s refused the tunnel: %s", ErrProxy, proxy.Redacted(), resp.Status)
	}
	if br.Buffered() > 0 { // the server spoke first, through the tunnel
		return &bufferedConn{nc, br}, nil, nil
	}
	return nc, nil, nil
}

// bufferedConn is a net.Conn whose first bytes were read into a bufio.Reader.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// deadlineOnDone makes every call on nc fail at once when ctx ends, for the
// handshakes, where the connection belongs to the dialing call alone. The
// returned stop reports false if ctx already ended (its deadline may be
// set).
func deadlineOnDone(ctx context.Context, nc net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { nc.SetDeadline(pastTime) })
}

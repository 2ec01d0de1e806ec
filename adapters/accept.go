package adapters

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wsengine/ws/protocol"
)

// ErrHijack: Accept could not take the connection over from net/http. The
// usual cause is middleware whose http.ResponseWriter wrapper hides the
// original: the wrapper needs an Unwrap() http.ResponseWriter method (what
// http.ResponseController looks for) or a Hijack method of its own.
var ErrHijack = errors.New("adapters: cannot hijack the connection: a ResponseWriter wrapper must have Unwrap() http.ResponseWriter")

// Accept upgrades a net/http request to a WebSocket connection. The engine
// validates the request and applies opts.Server's policies; a rejection is
// written through w as a real HTTP response (status, text body) and
// returned as a *protocol.HandshakeError. On success the connection is
// hijacked (http.ResponseController) and the 101 response written by the
// engine, with exactly one Upgrade and one Connection header. If the
// ResponseWriter cannot be hijacked (a middleware wrapper without Unwrap),
// the client gets a 500 and the error wraps ErrHijack.
//
// Headers set on w before Accept (http.SetCookie, CORS, request ids from
// middleware) go into the response, with opts.Header's (then
// opts.Server.Header's) for the names w does not set. One that the handshake writes itself (Upgrade,
// Connection, Sec-WebSocket-*, Content-Length, Transfer-Encoding) is
// refused, never sent twice: the client gets a 500 and the error wraps
// protocol.ErrReservedHeader and names it.
//
// An HTTP/2 extended CONNECT (RFC 8441; see the package documentation for
// the GODEBUG switch) is served on the request's stream instead: the
// engine's answer (200, or a rejection) is written through w, and the
// WebSocket runs over the request body and the flushed response. The
// stream ends when the handler returns: return only after the connection
// is over (after Done, Close, or the close error from Read or Write, which
// wait for the stream's release).
//
// The handshake runs on a goroutine of its own; a panic there (in a
// middleware's Hijack, say) is raised again in the caller's goroutine,
// where net/http recovers a handler's panics.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	// The handshake runs on a goroutine of its own while this one waits:
	// it is deep enough (header checks, negotiation, the hijack, the first
	// write) to grow the calling goroutine's stack from 4 to 8 KiB, and the
	// handler's goroutine usually lives on, blocked in a Read loop, for the
	// connection's life. Measured with 1,000 connections: 8.1 KiB of stack
	// each without this, 4.4 with it; it costs a goroutine start per Accept.
	type result struct {
		c     *Conn
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		// A panic (in a middleware's Hijack, say) goes back to the
		// handler's goroutine, where net/http recovers it as it does any
		// handler's, instead of ending the process from this one.
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p}
			}
		}()
		c, err := accept(w, r, opts)
		done <- result{c: c, err: err}
	}()
	res := <-done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.c, res.err
}

func accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	cfg := opts.engineConfig()
	clock := opts.clock()
	so := opts.serverOptions()
	so.Header = responseHeader(w.Header(), so.Header)
	eng, err := protocol.NewServerFromRequest(cfg, so, r, clock.Now())
	if err != nil {
		clear(w.Header()) // the 500 is ours: without the headers meant for the 101
		http.Error(w, "websocket: server misconfigured", http.StatusInternalServerError)
		return nil, err
	}
	if r.ProtoMajor == 2 { // the engine answered by RFC 8441 (an extended CONNECT, or a refusal)
		return acceptStream(w, r, eng, opts, cfg)
	}
	if eng.State() == protocol.StateClosed {
		writeRejection(w, r, eng.Outgoing())
		return nil, handshakeErr(eng)
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: cannot take over this connection", http.StatusInternalServerError)
		return nil, fmt.Errorf("%w (%T): %w", ErrHijack, w, err)
	}
	// The server's read and write timeouts were for HTTP, not for a
	// long-lived WebSocket.
	nc.SetDeadline(time.Time{})
	stopAfterMessages(eng) // frames may come right behind the request
	if brw != nil && brw.Reader != nil {
		if n := brw.Reader.Buffered(); n > 0 {
			early, _ := brw.Reader.Peek(n)
			eng.Receive(clock.Now(), early)
		}
	}
	dropBuffers(brw)
	return newConn(nc, eng, &opts.Options, cfg), nil
}

// responseHeader joins two sets of headers for the 101: first's, then
// second's for the names first does not set (w's before the options',
// AcceptOptions.Header before Server.Header). The engine refuses the
// handshake's own (Upgrade, Connection, Sec-WebSocket-*, framing) from
// any, so that the response never carries one twice.
func responseHeader(first, second http.Header) http.Header {
	if len(first) == 0 {
		return second
	}
	h := first.Clone()
	for k, vs := range second {
		if _, ok := h[k]; !ok {
			h[k] = vs
		}
	}
	return h
}

// dropBuffers lets the garbage collector have net/http's 4 KiB read and
// write buffers of a hijacked connection. net/http no longer uses them, but
// its connection keeps them referenced until the handler returns, which
// for a WebSocket read in the handler is the connection's life: 8 KiB of
// the idle connection's cost. The Conn reads and writes the socket with
// buffers of its own, so it zeroes the two (they are net/http's own, handed
// over by Hijack) once their buffered bytes were taken.
// (A Hijacker of a middleware's own may hand over fewer of them.)
func dropBuffers(brw *bufio.ReadWriter) {
	if brw == nil {
		return
	}
	if brw.Reader != nil {
		*brw.Reader = bufio.Reader{}
	}
	if brw.Writer != nil {
		*brw.Writer = bufio.Writer{}
	}
}

// acceptStream answers an HTTP/2 request with the engine's decision and,
// after a 200, runs the WebSocket over the request's stream (RFC 8441).
func acceptStream(w http.ResponseWriter, r *http.Request, eng *protocol.Conn, opts *AcceptOptions, cfg protocol.Config) (*Conn, error) {
	ans := eng.Response()
	for k, v := range ans.Header {
		w.Header()[k] = v
	}
	if eng.State() == protocol.StateClosed {
		w.WriteHeader(ans.StatusCode)
		io.Copy(w, ans.Body)
		return nil, handshakeErr(eng)
	}
	rc := http.NewResponseController(w)
	// The server's read and write timeouts were for HTTP, not for a
	// long-lived WebSocket; over HTTP/2 one that passes resets the stream.
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(ans.StatusCode)
	if err := rc.Flush(); err != nil {
		return nil, fmt.Errorf("adapters: cannot send the HTTP/2 response (%T): %w", w, err)
	}
	laddr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	sc := newStreamConn(r.Body, w, laddr, stringAddr(r.RemoteAddr))
	sc.server = true
	sc.flush = rc.Flush
	sc.abort = func() { rc.SetWriteDeadline(pastTime) } // net/http resets the stream
	sc.start()
	return newConn(sc, eng, &opts.Options, cfg), nil
}

// handshakeErr is the error of a refused request: the *HandshakeError the
// documentation promises, not the close status around it.
func handshakeErr(eng *protocol.Conn) error {
	err := eng.CloseStatus().Err
	var he *protocol.HandshakeError
	if errors.As(err, &he) {
		return he
	}
	return err
}

// stringAddr is a peer's address as net/http gives it to handlers.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// writeRejection copies the engine's rejection onto w, so net/http frames
// it (and closes the connection, as the response says).
func writeRejection(w http.ResponseWriter, r *http.Request, raw []byte) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), r)
	if err != nil {
		http.Error(w, "websocket: bad handshake", http.StatusBadRequest)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if resp.Close { // ReadResponse moved the header into Close
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// NewConn runs a WebSocket connection over nc, whose opening handshake was
// done elsewhere (an application's own upgrade, a custom listener, a test).
// cfg.Extensions in opts must hold what was negotiated.
func NewConn(nc net.Conn, role protocol.Role, opts *Options) (*Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	cfg := opts.engineConfig()
	eng, err := protocol.NewEstablished(role, cfg, opts.clock().Now())
	if err != nil {
		return nil, err
	}
	stopAfterMessages(eng)
	return newConn(nc, eng, opts, cfg), nil
}

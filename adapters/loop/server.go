package loop

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// ErrServerClosed is returned by Serve after Shutdown or Close, and is the
// cause of the connections Close dropped.
var ErrServerClosed = errors.New("loop: server closed")

// Server runs WebSocket connections: on Linux in a few event loops that
// own them (see the package documentation), elsewhere and for wss on a
// goroutine each, with the same callbacks.
type Server struct {
	opts Options
	cfg  protocol.Config        // opts' engine configuration
	so   protocol.ServerOptions // opts' handshake policies
	sys  system                 // the loops (Linux) or nothing
	// epoch is when the server started: the loops' times are instants
	// since it.
	epoch time.Time

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	adapted   map[*Conn]struct{} // goroutine-driven connections
	adaptedWG sync.WaitGroup
	http      *http.Server  // serves the requests that are not upgrades
	handoff   *connListener // the connections the loops give to http

	// Done's channels of the loop-driven connections that asked for one,
	// until they end: a connection that never asks pays nothing.
	doneMu sync.Mutex
	dones  map[*Conn]chan struct{}
}

// closedChan is what Done returns once a connection has ended.
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// doneOf returns c's Done channel, made at the first call, or a closed
// one once c has ended. c.mu held.
func (s *Server) doneOf(c *Conn, ended bool) <-chan struct{} {
	if ended {
		return closedChan
	}
	s.doneMu.Lock()
	defer s.doneMu.Unlock()
	ch, ok := s.dones[c]
	if !ok {
		if s.dones == nil {
			s.dones = make(map[*Conn]chan struct{})
		}
		ch = make(chan struct{})
		s.dones[c] = ch
	}
	return ch
}

// endDone closes c's Done channel, if it has one: c has ended. c.mu held.
func (s *Server) endDone(c *Conn) {
	s.doneMu.Lock()
	if ch, ok := s.dones[c]; ok {
		close(ch)
		delete(s.dones, c)
	}
	s.doneMu.Unlock()
}

// NewServer starts a server's loops.
func NewServer(opts Options) (*Server, error) {
	s := &Server{opts: opts, epoch: time.Now(), listeners: map[net.Listener]struct{}{}, adapted: map[*Conn]struct{}{}}
	if err := s.sys.start(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Serve accepts connections from ln until Shutdown or Close (then it
// returns ErrServerClosed) or an Accept error. Plain TCP connections go to
// a loop, which reads the handshake itself; others (a TLS listener's) are
// served by net/http, and their WebSockets run on the goroutine driver.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !s.sys.adopt(nc, nil) {
			s.toHTTP(nc)
		}
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeHTTP upgrades a net/http request: an HTTP/1.1 connection over
// plain TCP is hijacked and given to a loop; one over TLS or HTTP/2 runs
// on the goroutine driver (adapters.Accept), and for HTTP/2 ServeHTTP
// returns when the connection ends, as net/http requires.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && r.TLS == nil && s.sys.upgrade(w, r) {
		return
	}
	if check := s.opts.CheckRequest; check != nil {
		if status := check(r); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	c := s.newAdapted(r)
	ac, err := adapters.Accept(w, r, s.adaptedOptions(c))
	if err != nil {
		return // the rejection was written
	}
	s.runAdapted(c, ac)
	if r.ProtoMajor == 2 {
		<-ac.Done()
	}
}

// Dial opens a client connection on the server's loops and returns once
// it is open (OnOpen has run): a ws:// URL on a loop, wss:// (and a
// proxy or HTTP/2 in opts) on the goroutine driver. opts' Header, Origin,
// Subprotocols, Extensions and DialContext are used; its Options are not
// (the server's are).
func (s *Server) Dial(ctx context.Context, rawURL string, opts *adapters.DialOptions) (*Conn, error) {
	if s.isClosed() {
		return nil, ErrServerClosed
	}
	if c, ok, err := s.sys.dial(ctx, rawURL, opts); ok {
		return c, err
	}
	return s.dialAdapted(ctx, rawURL, opts)
}

// NewConn runs on the server a WebSocket connection whose opening
// handshake was done elsewhere (a proxy's own upgrade, a custom listener,
// a test): on a loop for a *net.TCPConn where epoll exists, on the
// goroutine driver otherwise. exts are what that handshake negotiated,
// this connection's own (none for an uncompressed one); the rest of the
// engine's configuration is the server's. OnOpen runs before NewConn
// returns, on the caller's goroutine (nothing else of the connection's
// runs yet); from then on the connection is the server's like any other.
// Its handshake's request is not known: Request returns nil.
func (s *Server) NewConn(nc net.Conn, role protocol.Role, exts ...protocol.Extension) (*Conn, error) {
	if s.isClosed() {
		nc.Close()
		return nil, ErrServerClosed
	}
	cfg := s.cfg
	cfg.Extensions = exts
	if s.sys.runs(nc) {
		eng, err := protocol.NewEstablished(role, cfg, time.Now())
		if err != nil {
			nc.Close()
			return nil, err
		}
		if c := s.sys.established(nc, eng); c != nil {
			return c, nil
		}
		return nil, ErrClosed // the socket could not be taken
	}
	c := s.newAdapted(nil)
	o := s.adaptedOptions(c).Options
	o.Config = &cfg
	ac, err := adapters.NewConn(nc, role, &o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.runAdapted(c, ac)
	return c, nil
}

// Len reports how many connections the server runs.
func (s *Server) Len() int {
	s.mu.Lock()
	n := len(s.adapted)
	s.mu.Unlock()
	return n + s.sys.len()
}

// Shutdown stops accepting, closes every connection with 1001 (going away)
// and waits until they have ended or ctx is done; then it is Close. Loops
// and their goroutines are gone when it returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	s.mu.Lock()
	adapted := make([]*Conn, 0, len(s.adapted))
	for c := range s.adapted {
		adapted = append(adapted, c)
	}
	s.mu.Unlock()
	for _, c := range adapted {
		c.Close(frame.CloseGoingAway, "server shutting down")
	}
	s.sys.closeAll(frame.CloseGoingAway, "server shutting down")
	done := make(chan struct{})
	go func() {
		s.adaptedWG.Wait()
		s.sys.waitEmpty()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	<-done
	return err
}

// Close drops every connection at once (no close handshake: their close
// error wraps ErrServerClosed), stops the loops and closes the listeners.
// No goroutine or file descriptor of the server's is left when it returns.
func (s *Server) Close() error {
	s.stopAccepting()
	s.mu.Lock()
	adapted := make([]*adapters.Conn, 0, len(s.adapted))
	for c := range s.adapted {
		adapted = append(adapted, c.x.adapted.ac)
	}
	s.mu.Unlock()
	for _, ac := range adapted {
		ac.CloseNow()
	}
	s.sys.stop()
	s.adaptedWG.Wait()
	return nil
}

func (s *Server) stopAccepting() {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	hs, ho := s.http, s.handoff
	s.mu.Unlock()
	if ho != nil {
		ho.Close()
	}
	if hs != nil {
		hs.Close() // its hijacked connections are the loops' or the adapters'
	}
}

// toHTTP serves a connection with net/http: one that is not a WebSocket
// upgrade, or whose transport a loop cannot drive (TLS). Upgrades among
// its requests come back through ServeHTTP.
func (s *Server) toHTTP(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.http == nil {
		s.handoff = newConnListener(nc.LocalAddr())
		// Its connections are bounded as the loop's are before they
		// become WebSockets: a request's header block, and the wait for
		// the next one, get the open timeout.
		open := s.cfg.OpenTimeoutOrDefault()
		s.http = &http.Server{Handler: http.HandlerFunc(s.route), ReadHeaderTimeout: open, IdleTimeout: open}
		go s.http.Serve(s.handoff)
	}
	ho := s.handoff
	s.mu.Unlock()
	ho.push(nc)
}

// decide answers a request that the engine holds for CheckRequest
// (ManualAccept) with CheckRequest's status: 0 accepts it, any other
// refuses it with that status.
func (s *Server) decide(eng *protocol.Conn, status int, now time.Time) {
	if status == 0 {
		eng.AcceptHandshake(now, nil)
	} else {
		eng.RejectHandshake(now, status, http.StatusText(status))
	}
}

// route sends upgrades to ServeHTTP and other requests to Options.HTTP.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if protocol.IsUpgradeRequest(r) || s.opts.HTTP == nil {
		s.ServeHTTP(w, r)
		return
	}
	s.opts.HTTP.ServeHTTP(w, r)
}

// connListener is a net.Listener whose connections are pushed to it.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(nc net.Conn) {
	select {
	case l.conns <- nc:
	case <-l.done:
		nc.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// prefixConn is a net.Conn whose first reads return bytes read before.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

//go:build linux

package loop

import (
	"context"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/bufpool"
	"github.com/wsengine/ws/protocol"
)

// system is the server's loops.
type system struct {
	loops []*loop
	next  atomic.Uint32
	// bufs pools the loops' read, write and gathering buffers.
	bufs bufpool.Pool
	wg   sync.WaitGroup
	once sync.Once
}

func (y *system) start(s *Server) error {
	s.cfg = s.opts.engineConfig()
	s.so = s.opts.serverOptions()
	n := s.opts.Loops
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for range n {
		l, err := newLoop(s)
		if err != nil {
			for _, l := range y.loops {
				syscall.Close(l.epfd)
				syscall.Close(l.wakefd)
			}
			y.loops = nil
			return err
		}
		y.loops = append(y.loops, l)
	}
	for _, l := range y.loops {
		y.wg.Add(1)
		go func() {
			defer y.wg.Done()
			l.run()
		}()
	}
	return nil
}

func (y *system) pick() *loop {
	return y.loops[int(y.next.Add(1))%len(y.loops)]
}

// adopt gives a freshly accepted connection to a loop, which reads its
// request; eng, when set, is an engine whose handshake another driver
// began (a dialed client, a hijacked request). It reports false for a
// connection that is not plain TCP.
func (y *system) adopt(nc net.Conn, eng *protocol.Conn) bool {
	c, ok := y.newConn(nc, eng)
	if ok && c != nil {
		c.mu.Lock()
		c.l.post(c)
		c.mu.Unlock()
	}
	return ok
}

// runs reports whether a loop runs nc (newConn takes it): a plain TCP
// connection.
func (y *system) runs(nc net.Conn) bool {
	_, ok := nc.(*net.TCPConn)
	return ok
}

// established runs an open engine over nc, which a loop runs (see runs),
// on a loop (Server.NewConn); nil when the socket could not be taken.
// OnOpen runs here, before the loop sees the connection.
func (y *system) established(nc net.Conn, eng *protocol.Conn) *Conn {
	c, _ := y.newConn(nc, eng)
	if c == nil {
		return nil
	}
	c.srv.prepare(eng)
	if cb := c.srv.opts.OnOpen; cb != nil {
		cb(c)
	}
	c.mu.Lock()
	c.l.post(c)
	c.mu.Unlock()
	return c
}

// newConn makes a loop's Conn for nc: ok false when no loop runs nc (see
// runs), a nil Conn when its socket could not be taken (it is closed).
func (y *system) newConn(nc net.Conn, eng *protocol.Conn) (*Conn, bool) {
	if !y.runs(nc) {
		return nil, false
	}
	fd, err := takeFD(nc.(*net.TCPConn))
	if err != nil {
		return nil, true // closed
	}
	l := y.pick()
	c := &Conn{srv: l.srv, l: l, fd: fd, eng: eng, hidx: -1}
	l.count.Add(1)
	return c, true
}

// takeFD takes a TCP connection's socket from Go's poller: a duplicate
// descriptor (non-blocking already: the flag is the open file's), and the
// original closed.
func takeFD(tc *net.TCPConn) (int, error) {
	raw, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return -1, err
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			err = errno
			return
		}
		fd = int(r)
	})
	tc.Close()
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// fileConn makes a net.Conn of a duplicate of fd, for net/http.
func fileConn(fd int) (net.Conn, error) {
	nfd, err := syscall.Dup(fd)
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(nfd)
	f := os.NewFile(uintptr(nfd), "ws")
	defer f.Close()
	return net.FileConn(f)
}

// upgrade hijacks an HTTP/1.1 request's TCP connection for a loop; the
// engine answers the request (101 or a rejection). A connection no loop
// runs (a wrapped one) goes to the goroutine driver from here. It reports
// whether it took the request, which it always does where loops exist.
func (y *system) upgrade(w http.ResponseWriter, r *http.Request) bool {
	s := y.loops[0].srv
	rc := http.NewResponseController(w)
	nc, brw, err := rc.Hijack()
	if err != nil {
		http.Error(w, "websocket: cannot hijack the connection", http.StatusInternalServerError)
		return true
	}
	now := time.Now()
	eng, err := protocol.NewServerFromRequest(s.cfg, s.so, r, now)
	if err != nil {
		nc.Close()
		return true
	}
	s.prepare(eng)
	if n := brw.Reader.Buffered(); n > 0 {
		rest, _ := brw.Reader.Peek(n)
		eng.Receive(now, rest)
	}
	if pc, ok := nc.(*prefixConn); ok {
		// A connection net/http served for the loop (its first request
		// was not an upgrade): the bytes the loop had read and net/http
		// had not come before the socket's, and the socket is a loop's
		// again.
		if len(pc.prefix) > 0 {
			eng.Receive(now, pc.prefix)
		}
		nc = pc.Conn
	}
	if !y.adopt(nc, eng) {
		// A wrapped connection: the engine's answer is written here and
		// the goroutine driver runs the WebSocket.
		go y.adaptHijacked(s, nc, eng, r)
	}
	return true
}

// adaptHijacked runs on the goroutine driver a hijacked connection that no
// loop runs: CheckRequest decides the request the engine holds, and the
// engine's answer is written here.
func (y *system) adaptHijacked(s *Server, nc net.Conn, eng *protocol.Conn, r *http.Request) {
	for ev := eng.NextEvent(); ev.Kind != protocol.EventNone; ev = eng.NextEvent() {
		if check := s.opts.CheckRequest; check != nil && ev.Kind == protocol.EventRequest {
			s.decide(eng, check(ev.Request), time.Now())
		}
	}
	nc.SetWriteDeadline(time.Now().Add(s.cfg.OpenTimeoutOrDefault()))
	_, err := nc.Write(eng.Outgoing())
	nc.SetWriteDeadline(time.Time{})
	if err != nil || !eng.Opened() {
		nc.Close()
		return
	}
	c := s.newAdapted(r)
	ao := s.adaptedOptions(c)
	cfg := s.cfg
	cfg.Extensions = eng.Extensions()
	o := ao.Options
	o.Config = &cfg
	ac, err := adapters.NewConn(nc, protocol.RoleServer, &o)
	if err != nil {
		nc.Close()
		return
	}
	s.runAdapted(c, ac)
}

// dial connects a ws:// URL on a loop: the engine writes the request and
// reads the response there. Other URLs are the goroutine driver's.
func (y *system) dial(ctx context.Context, rawURL string, opts *adapters.DialOptions) (*Conn, bool, error) {
	s := y.loops[0].srv
	t, err := protocol.ParseURL(rawURL)
	if err != nil {
		return nil, true, err
	}
	if t.TLS || opts != nil && (opts.HTTP2 != nil || opts.Proxy != nil) {
		return nil, false, nil
	}
	var co protocol.ClientOptions
	co.URL = rawURL
	var dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	if opts != nil {
		co.Origin, co.Subprotocols, co.Header = opts.Origin, opts.Subprotocols, opts.Header
		co.Extensions = opts.Extensions
		dialer = opts.DialContext
	}
	if !s.opts.DisableCompression {
		d := deflateConfig(&s.opts)
		co.Extensions = append([]protocol.ClientExtension{d.Client()}, co.Extensions...)
	}
	if dialer == nil {
		dialer = (&net.Dialer{}).DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpenTimeoutOrDefault())
	defer cancel()
	nc, err := dialer(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, true, err
	}
	eng, err := protocol.NewClient(s.cfg, co, time.Now())
	if err != nil {
		nc.Close()
		return nil, true, err
	}
	s.prepare(eng)
	c, ok := y.newConn(nc, eng)
	if !ok {
		nc.Close()
		return nil, true, errNotTCP
	}
	if c == nil {
		return nil, true, net.ErrClosed
	}
	opened := make(chan error, 1)
	c.x = &extra{opening: opening{opened: opened}}
	c.mu.Lock()
	c.l.post(c)
	c.mu.Unlock()
	select {
	case err := <-opened:
		if err != nil {
			return nil, true, err
		}
		return c, true, nil
	case <-ctx.Done():
		c.Close(frame.CloseGoingAway, "")
		c.abort(ErrServerClosed)
		return nil, true, ctx.Err()
	}
}

func (y *system) len() int {
	n := 0
	for _, l := range y.loops {
		n += int(l.count.Load())
	}
	return n
}

// closeAll starts the close handshake of every open connection.
func (y *system) closeAll(code frame.CloseCode, reason string) {
	for _, l := range y.loops {
		l.mu.Lock()
		l.closing, l.closeMsg = true, reason
		l.mu.Unlock()
		l.checkEmpty()
		l.wake()
	}
}

// waitEmpty waits until closing loops have no connection left.
func (y *system) waitEmpty() {
	for _, l := range y.loops {
		<-l.empty
	}
}

// stop drops every connection and ends the loops.
func (y *system) stop() {
	y.once.Do(func() {
		for _, l := range y.loops {
			l.mu.Lock()
			l.stopping = true
			l.mu.Unlock()
			l.wake()
		}
		y.wg.Wait()
		for _, l := range y.loops {
			l.checkEmpty()
		}
	})
}

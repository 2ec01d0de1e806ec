//go:build linux

package loop

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

const (
	// readSize is a loop's scratch read buffer, lent to the connection it
	// reads: a read that fills it is followed by another in the next round.
	readSize = 64 << 10
	// maxRequest bounds a request read before the loop decides between a
	// WebSocket and net/http (protocol's default header limit).
	maxRequest = 16 << 10
	// maxLentEvents bounds the event slice a loop keeps to lend (a read of
	// many small messages grows it; protocol stops at 256 pending).
	maxLentEvents = 64
	// spinPolls is how many times a loop polls before it sleeps.
	spinPolls = 4
	// coalesceLimit is the unsent output per connection up to which
	// Broadcast leaves the write to the loop (see Conn.send).
	coalesceLimit = 16 << 10
	// epollET etc.: syscall's constants are int, EpollEvent.Events uint32.
	epollIn    = uint32(syscall.EPOLLIN)
	epollOut   = uint32(syscall.EPOLLOUT)
	epollRDHup = uint32(syscall.EPOLLRDHUP)
	epollET    = uint32(1) << 31
)

// loop is one event loop: an epoll instance, the connections it owns, a
// timer heap over their deadlines and a scratch read buffer. Its goroutine
// alone reads and closes their sockets and runs their callbacks; other
// goroutines write (under Conn.mu) and leave it requests in its inbox.
type loop struct {
	srv    *Server
	epfd   int
	wakefd int
	conns  []*Conn // by file descriptor
	count  atomic.Int64
	timers timerHeap
	rbuf   []byte
	evbuf  []protocol.Event // lent to the engine being read, as rbuf is
	events []syscall.EpollEvent
	ready  []*Conn // read again this round: their last read filled the buffer
	spare  []*Conn

	mu       sync.Mutex
	inbox    []*Conn // connections with work from other goroutines, or new
	work     []*Conn
	woken    atomic.Bool
	closing  bool   // Shutdown: close every connection, then stop when empty
	closeMsg string // its reason
	stopping bool   // Close: drop everything and stop
	empty    chan struct{}
	exited   chan struct{}

	// now is the time of the round (see Conn.now).
	now time.Time
}

func newLoop(s *Server) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	l := &loop{srv: s, epfd: epfd, wakefd: int(r), events: make([]syscall.EpollEvent, 256),
		empty: make(chan struct{}), exited: make(chan struct{})}
	ev := syscall.EpollEvent{Events: epollIn, Fd: int32(l.wakefd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.wakefd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// post asks the loop to look at c (a new connection, or one another
// goroutine left output or a state change in). c.mu held.
func (l *loop) post(c *Conn) {
	if c.st.queued {
		return
	}
	c.st.queued = true
	l.mu.Lock()
	l.inbox = append(l.inbox, c)
	l.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	if l.woken.Swap(true) {
		return
	}
	one := uint64(1)
	rawWrite(l.wakefd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// spin polls a few times before the loop sleeps: under load the next
// event is microseconds away, and a sleep and a wake-up cost the thread
// more than a poll (measured: half the context switches per message at
// 1,000 busy connections). An idle loop sleeps after the last poll.
func (l *loop) spin() (int, error) {
	for range spinPolls {
		runtime.Gosched()
		if n, err := epollWait(l.epfd, l.events, 0); n != 0 || err != nil {
			return n, err
		}
	}
	return 0, nil
}

func (l *loop) run() {
	defer close(l.exited)
	var now time.Time
	for {
		timeout := -1
		if len(l.ready) > 0 {
			timeout = 0
		} else if d, ok := l.timers.next(); ok {
			wait := time.Until(l.srv.timeOf(d))
			timeout = int((wait + time.Millisecond - 1) / time.Millisecond)
			timeout = max(timeout, 0)
		}
		n, err := 0, error(nil)
		if timeout != 0 {
			n, err = l.spin()
		}
		if n == 0 && err == nil {
			n, err = epollWait(l.epfd, l.events, timeout)
		}
		if err != nil && err != syscall.EINTR {
			n = 0
		}
		now = time.Now()
		l.now = now
		for _, ev := range l.events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == l.wakefd {
				var b [8]byte
				rawRead(l.wakefd, b[:])
				l.woken.Store(false)
				if l.takeInbox(now) {
					return
				}
				continue
			}
			c := l.conn(fd)
			if c == nil {
				continue
			}
			// An event that is not only EPOLLOUT reads, and every read
			// settles: it writes what waited for the socket too.
			if ev.Events&^epollOut != 0 {
				l.readable(c, now, ev.Events&(epollRDHup|uint32(syscall.EPOLLHUP|syscall.EPOLLERR)) != 0)
			} else {
				l.writable(c, now)
			}
		}
		ready := l.ready
		l.ready = l.spare[:0]
		for i, c := range ready {
			l.readable(c, now, false)
			ready[i] = nil
		}
		l.spare = ready[:0]
		l.expire(now)
	}
}

func (l *loop) conn(fd int) *Conn {
	if fd < 0 || fd >= len(l.conns) {
		return nil
	}
	return l.conns[fd]
}

// takeInbox handles other goroutines' requests; it reports whether the
// loop is to stop.
func (l *loop) takeInbox(now time.Time) bool {
	l.mu.Lock()
	work := l.inbox
	l.inbox = l.work[:0]
	closing, reason, stopping := l.closing, l.closeMsg, l.stopping
	l.mu.Unlock()
	for i, c := range work {
		work[i] = nil
		// Writes are raw system calls, which the scheduler counts as
		// running: a long inbox (a broadcast to thousands) would keep the
		// loop's P from the goroutines queueing more (the broadcaster),
		// and what they queue while the loop writes is what it can
		// coalesce.
		if i%64 == 63 {
			runtime.Gosched()
		}
		c.mu.Lock()
		c.st.queued = false
		if c.st.closed {
			c.mu.Unlock()
			continue
		}
		if l.conn(c.fd) != c {
			l.register(c, now)
		} else {
			l.dispatch(c, now) // what another goroutine's command caused (a failure's EventClosed)
			l.settle(c, now)
		}
		c.mu.Unlock()
	}
	l.work = work[:0]
	if stopping {
		l.dropAll(now)
		return true
	}
	if closing {
		for _, c := range l.conns {
			if c == nil {
				continue
			}
			c.mu.Lock()
			if c.eng != nil && c.eng.State() == protocol.StateOpen {
				c.eng.Close(now, frame.CloseGoingAway, reason)
				l.dispatch(c, now)
			} else if c.eng == nil || !c.eng.Opened() {
				l.closeFD(c, now) // a handshake under way: refused by the shutdown
			}
			if !c.st.closed {
				l.settle(c, now)
			}
			c.mu.Unlock()
		}
		l.checkEmpty()
	}
	return false
}

// register adds a new connection: to the table, to epoll (edge-triggered,
// every interest once, so no epoll_ctl follows), and its first deadline.
// c.mu held.
func (l *loop) register(c *Conn, now time.Time) {
	for c.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*Conn, len(l.conns)+64)...)
	}
	ev := syscall.EpollEvent{Events: epollIn | epollOut | epollRDHup | epollET, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		syscall.Close(c.fd)
		c.st.closed = true
		c.reportOpen(os.NewSyscallError("epoll_ctl", err))
		l.count.Add(-1)
		l.checkEmpty()
		return
	}
	l.conns[c.fd] = c
	if c.eng == nil { // a server reading the request for net/http's sake
		l.timers.set(c, l.srv.instant(now.Add(l.srv.cfg.OpenTimeoutOrDefault())))
		return
	}
	l.dispatch(c, now)
	l.settle(c, now)
}

// readable reads what the socket has and runs the engine on it. With
// edge-triggered epoll a read that does not fill the buffer took all there
// was, and new bytes make a new event, except the peer's EOF when it came
// with the last bytes: hup (the event said the peer closed) reads again.
func (l *loop) readable(c *Conn, now time.Time, hup bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.closed {
		return
	}
	if c.eng == nil {
		l.readRequest(c, now, hup)
		return
	}
	if c.eng.Lingering() {
		l.drain(c, now)
		return
	}
	if c.eng.HoldInput(now) {
		c.st.readLater = true
		l.settle(c, now) // the socket may take the output that held it
		return
	}
	c.st.readLater = false
	// The loop's scratch buffer is lent to an engine that holds no input;
	// one with part of a frame keeps its own until the frame is whole.
	if l.rbuf == nil {
		l.rbuf = l.srv.sys.bufs.Get(readSize)
	}
	if old, ok := c.eng.SwapReadBuffer(l.rbuf); ok {
		l.rbuf = nil
		l.srv.sys.bufs.Put(old) // nil, or too small, is not pooled
	}
	l.lendEvents(c)
	// A frame larger than the buffer it started in grows it through the
	// pool, as the goroutine adapter's does: dispatch has run, so no
	// callback's p points into it.
	buf := c.eng.ReadBufferFrom(&l.srv.sys.bufs, 4<<10)
	c.mu.Unlock()
	n, err := readFD(c.fd, buf)
	c.mu.Lock()
	switch {
	case n > 0:
		c.eng.ReceiveBuffered(now, n)
	case err == syscall.EAGAIN:
	case err == 0:
		c.eng.ReceiveEOF(now)
	default:
		c.st.writeErr = true // a reset: nothing more goes out either
		c.eng.Abort(now, err)
	}
	l.dispatch(c, now)
	if b, ok := c.eng.SwapReadBuffer(nil); ok && cap(b) > 0 {
		if l.rbuf == nil {
			l.rbuf = b
		} else {
			l.srv.sys.bufs.Put(b)
		}
	}
	l.settle(c, now)
	if (n == len(buf) || hup && n > 0) && !c.st.closed {
		l.ready = append(l.ready, c)
	}
}

// lendEvents lends the loop's event slice to c's engine, which queues the
// events of the input it is about to get in it; dispatch takes it back.
// c.mu held.
func (l *loop) lendEvents(c *Conn) {
	if l.evbuf != nil {
		if _, ok := c.eng.SwapEventBuffer(l.evbuf); ok {
			l.evbuf = nil
		}
	}
}

// reclaimEvents takes the event slice back from c's engine when no event
// is pending: it is the loop's (lendEvents) or goes, so an idle connection
// keeps none. c.mu held.
func (l *loop) reclaimEvents(c *Conn) {
	if b, ok := c.eng.SwapEventBuffer(nil); ok && l.evbuf == nil && cap(b) <= maxLentEvents {
		l.evbuf = b
	}
}

func readFD(fd int, p []byte) (int, syscall.Errno) {
	for {
		n, err := rawRead(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != 0 {
			return 0, err
		}
		return n, 0
	}
}

// drain reads and drops what a lingering connection's peer still sends,
// until its EOF. c.mu held.
func (l *loop) drain(c *Conn, now time.Time) {
	if l.rbuf == nil {
		l.rbuf = l.srv.sys.bufs.Get(readSize)
	}
	for range 4 {
		n, err := readFD(c.fd, l.rbuf[:cap(l.rbuf)])
		if err == syscall.EAGAIN {
			return
		}
		if n == 0 || err != 0 {
			c.eng.ReceiveEOF(now)
			l.settle(c, now)
			return
		}
	}
	l.ready = append(l.ready, c)
}

// writable writes the output that waited for the socket.
func (l *loop) writable(c *Conn, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Without unsent output the last settle left nothing for the socket
	// (the kernel reports writable space after output it took too).
	if c.st.closed || c.eng == nil || c.eng.UnsentOutput() == 0 {
		return
	}
	l.settle(c, now)
}

// expire runs the engines whose deadline has passed.
func (l *loop) expire(now time.Time) {
	for {
		d, ok := l.timers.next()
		if !ok || d > l.srv.instant(now) {
			return
		}
		c := l.timers.pop()
		c.mu.Lock()
		switch {
		case c.st.closed:
		case c.eng == nil: // the request did not come in time
			l.closeFD(c, now)
		default:
			c.lendWriteBuffer(64, false) // for a keepalive ping; settle takes it back
			c.eng.HandleTimeout(now)
			l.dispatch(c, now)
			l.settle(c, now)
		}
		c.mu.Unlock()
	}
}

// dispatch takes the engine's events and runs the callbacks for them,
// without c.mu (so that they may Send and Close): held on entry and exit.
//
// Every dispatch is followed by settle under the same hold of c.mu, so
// commands issued meanwhile (from the callbacks, or other goroutines while
// they run) leave their output to it: busy says so. A read of many
// messages then answers them in one write, and no command wakes the loop
// for what it is about to do.
func (l *loop) dispatch(c *Conn, now time.Time) {
	opts := &l.srv.opts
	c.st.busy = true
	for {
		ev := c.eng.NextEvent()
		switch ev.Kind {
		case protocol.EventNone:
			if c.eng.InputPending() {
				if !c.eng.HoldInput(now) {
					c.eng.Receive(now, nil)
					continue
				}
				// Held (a reply passed HighWater): settle's write may
				// end the hold at once, and then this input, which no
				// socket event will announce again, is read.
				c.st.readLater = true
			}
			l.reclaimEvents(c)
			c.st.busy = false
			return
		case protocol.EventRequest:
			if check := opts.CheckRequest; check != nil {
				r := ev.Request
				c.mu.Unlock()
				status := check(r)
				c.mu.Lock()
				l.srv.decide(c.eng, status, now)
			}
		case protocol.EventOpen:
			if opts.OnOpen != nil {
				c.mu.Unlock()
				opts.OnOpen(c)
				c.mu.Lock()
			}
			c.eng.ReleaseHandshake()
			c.reportOpen(nil) // Dial returns after OnOpen
			c.x = nil
		case protocol.EventData:
			// A message in one event is the engine's bytes; one in several
			// is gathered in pooled buffers (growing through the pool's
			// classes), back in the pool once OnMessage returned.
			op, p, gathered, done := c.join.Add(&ev, &l.srv.sys.bufs)
			if !done {
				continue
			}
			if opts.OnMessage != nil {
				c.mu.Unlock()
				opts.OnMessage(c, op, p)
				c.mu.Lock()
			}
			if gathered {
				l.srv.sys.bufs.Put(p)
			}
		case protocol.EventPing:
			if opts.OnPing != nil {
				c.mu.Unlock()
				opts.OnPing(c, ev.Data)
				c.mu.Lock()
			}
		case protocol.EventPong:
			if opts.OnPong != nil {
				c.mu.Unlock()
				opts.OnPong(c, ev.Data, ev.Latency)
				c.mu.Lock()
			}
		case protocol.EventClosed:
			err := c.eng.CloseStatus().Err
			c.reportOpen(err)
			if c.eng.Opened() && !c.ended {
				c.ended = true
				l.srv.endDone(c)
				if opts.OnClose != nil {
					c.mu.Unlock()
					opts.OnClose(c, err)
					c.mu.Lock()
				}
			}
		}
	}
}

// settle is what follows every input or command: write the output the
// socket takes, apply the output bound to reading, end the transport when
// the engine asks, and move the connection in the timer heap. c.mu held.
func (l *loop) settle(c *Conn, now time.Time) {
	c.flush()
	if c.st.closed {
		return
	}
	if c.eng.ShouldCloseTransport() {
		switch c.eng.EndTransport(now, true) {
		case protocol.CloseTransportNow:
			l.closeFD(c, now)
			return
		case protocol.HalfCloseTransport:
			syscall.Shutdown(c.fd, syscall.SHUT_WR)
			l.ready = append(l.ready, c) // the EOF may be in already
		}
		l.timers.set(c, l.srv.instant(c.eng.Deadline()))
		return
	}
	// The output bound applies to reading (Options.HighWater, applied by
	// the engine): input left unread while output was high is read once it
	// is low again.
	if c.eng.HoldInput(now) {
		c.st.readLater = true // in the engine (dispatch stopped) or the socket
	} else if c.st.readLater {
		l.ready = append(l.ready, c)
	}
	l.timers.set(c, l.srv.instant(c.eng.Deadline()))
}

// flush writes the engine's output while the socket takes it, from any
// goroutine; the rest waits for EPOLLOUT. The engine borrows a pooled
// write buffer while it holds output, and gives it back once all is
// written. c.mu held.
func (c *Conn) flush() {
	for !c.st.closed && !c.st.writeErr {
		out := c.eng.Outgoing()
		if len(out) == 0 {
			break
		}
		n, err := rawWrite(c.fd, out)
		if err == 0 && n > 0 {
			c.eng.Advance(n)
		}
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return // the loop goes on at EPOLLOUT
		}
		if err != 0 {
			c.st.writeErr = true
			c.eng.Abort(time.Now(), err)
			return
		}
	}
	c.srv.sys.bufs.Put(c.eng.SwapWriteBuffer(nil))
}

// lendWriteBuffer gives the engine a pooled buffer to frame size more
// bytes into, when it has none (it keeps one only while output waits), or
// the output waiting (coalesced, behind a full socket, or a prepared
// message's shared frame, which has no room) leaves too little room: it
// then moves into a larger pooled buffer rather than let the append
// allocate (bufpool.MakeRoom, the goroutine adapter's rule too). A
// prepared message the engine sends from its shared frame needs none.
// c.mu held.
func (c *Conn) lendWriteBuffer(size int, prepared bool) {
	y := &c.srv.sys
	if c.eng.UnsentOutput() > 0 {
		y.bufs.MakeRoom(c.eng, size)
	} else if !prepared || !c.eng.SharesPrepared() {
		y.bufs.Put(c.eng.SwapWriteBuffer(y.bufs.Get(size)))
	}
}

// closeFD closes the socket and forgets the connection; its engine ends
// first if it had not (the server's Close). c.mu held.
func (l *loop) closeFD(c *Conn, now time.Time) {
	if c.st.closed {
		return
	}
	if c.eng != nil && c.eng.State() != protocol.StateClosed {
		c.eng.Abort(now, ErrServerClosed)
		l.dispatch(c, now)
	}
	c.st.closed = true
	if !c.ended {
		l.srv.endDone(c) // one that never opened: no EventClosed ended it
	}
	syscall.Close(c.fd)
	if l.conn(c.fd) == c {
		l.conns[c.fd] = nil
	}
	l.timers.remove(c)
	if c.eng != nil {
		c.eng.Release()
	}
	if b := c.join.Reset(); b != nil {
		l.srv.sys.bufs.Put(b)
	}
	c.reportOpen(ErrServerClosed)
	c.x = nil
	l.count.Add(-1)
	l.checkEmpty()
}

// checkEmpty closes empty once a closing loop has no connection left.
func (l *loop) checkEmpty() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.closing || l.stopping) && l.count.Load() == 0 {
		select {
		case <-l.empty:
		default:
			close(l.empty)
		}
	}
}

// dropAll ends every connection at once and the loop's own descriptors.
func (l *loop) dropAll(now time.Time) {
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		c.mu.Lock()
		l.closeFD(c, now)
		c.mu.Unlock()
	}
	// Connections posted but never registered.
	l.mu.Lock()
	pending := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, c := range pending {
		c.mu.Lock()
		if !c.st.closed {
			l.closeFD(c, now)
		}
		c.mu.Unlock()
	}
	syscall.Close(l.epfd)
	syscall.Close(l.wakefd)
}

// readRequest reads a server's request until its header block is in, to
// decide between the engine and net/http (Options.HTTP). c.mu held.
func (l *loop) readRequest(c *Conn, now time.Time, hup bool) {
	if l.rbuf == nil {
		l.rbuf = l.srv.sys.bufs.Get(readSize)
	}
	buf := l.rbuf[:cap(l.rbuf)]
	n, err := readFD(c.fd, buf)
	if err == syscall.EAGAIN {
		return
	}
	if n == 0 || err != 0 {
		l.closeFD(c, now)
		return
	}
	// A request that came in one read is looked at in the scratch buffer,
	// and copied only to wait for the rest: the engine does not keep it.
	in := buf[:n]
	if c.x != nil {
		c.x.pre = append(c.x.pre, in...)
		in = c.x.pre
	}
	keep := func() {
		if c.x == nil {
			c.x = &extra{opening: opening{pre: bytes.Clone(in)}}
		}
	}
	end := bytes.Index(in, []byte("\r\n\r\n"))
	if end < 0 && len(in) < maxRequest {
		keep()
		if n == len(buf) || hup {
			l.ready = append(l.ready, c)
		}
		return
	}
	if end >= 0 && !looksLikeUpgrade(in[:end]) {
		keep()
		l.toHTTP(c, now)
		return
	}
	// A WebSocket request (or one too large, which the engine refuses).
	eng, nerr := protocol.NewServer(l.srv.cfg, l.srv.so, now)
	if nerr != nil {
		l.closeFD(c, now)
		return
	}
	l.srv.prepare(eng)
	c.eng = eng
	c.x = nil
	c.lendWriteBuffer(512, false) // for the 101: pooled, given back once written
	l.lendEvents(c)
	eng.Receive(now, in)
	l.dispatch(c, now)
	l.settle(c, now)
}

// prepare sets an engine up for the loop: it stops after each message, so
// that a reply sent from OnMessage goes out before what the next bytes
// cause (a close frame for a violation), and it holds input while its
// output is above Options.HighWater (protocol.Conn.HoldInput).
func (s *Server) prepare(eng *protocol.Conn) {
	eng.SetStopAfterMessage(true)
	eng.SetOutputHighWater(int(s.opts.highWater()))
}

// toHTTP gives a connection whose first request is not an upgrade to
// net/http, with the bytes read so far. c.mu held.
func (l *loop) toHTTP(c *Conn, now time.Time) {
	pre := c.x.pre
	c.x = nil
	nc, err := fileConn(c.fd)
	l.closeFD(c, now) // ours; net/http has a duplicate
	if err != nil {
		return
	}
	go l.srv.toHTTP(&prefixConn{Conn: nc, prefix: pre})
}

// looksLikeUpgrade reports whether a request's header block asks for a
// WebSocket: an Upgrade header naming websocket. The engine checks the
// rest; this only routes.
func looksLikeUpgrade(block []byte) bool {
	for line := range bytes.SplitSeq(block, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Upgrade")) {
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				if bytes.EqualFold(bytes.TrimSpace(tok), []byte("websocket")) {
					return true
				}
			}
		}
	}
	return false
}

var errNotTCP = errors.New("loop: not a TCP connection")

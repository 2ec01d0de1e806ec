package adapters

import (
	"context"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Read buffer sizes: small while idle, grown when reads fill it, so a
// thousand idle connections hold little and a busy one reads in large
// pieces.
const (
	minReadBuffer = 4 << 10
	maxReadBuffer = 64 << 10
	maxWriteBuf   = 256 << 10
)

// readGrace is how long the transport may go unread after an application
// call stopped reading before the background reader takes over (to answer
// pings and see the peer's close). An application that calls Read again
// within it reads the socket itself, with no goroutine in between. While
// messages flow the timer fires once per grace to look: a quarter second
// keeps that negligible and a peer's close or ping unanswered no longer.
const readGrace = 250 * time.Millisecond

// parkAfter is how long a read may wait for the peer before it is parked:
// the engine's read buffer is released and the read goes on into a few
// bytes of the Conn's own, so an idle connection holds no read buffer. The
// first bytes after it cost one more read and the buffer again.
const parkAfter = time.Second

// Conn is a WebSocket connection over a net.Conn. All its methods may be
// called from any goroutine; see the package documentation for how they
// share the connection.
//
// Its state is grouped by who may touch it, one type a group (embedded, so
// the code names the fields directly): what is set when the Conn is made,
// what is read without the lock, the send gate's holder's, the read token
// holder's during a socket read, and, under c.mu, the engine, the end, the
// timer, the read token, the write token, asynchronous sends, pings and
// OnMessage.
type Conn struct {
	settings  // set when the Conn is made, never changed
	lockFree  // read without the lock
	gateState // the send gate's holder's, without the lock

	// The read token holder's, during its socket read without the lock.
	parkBuf [64]byte // what a parked read reads into

	mu sync.Mutex // guards everything below; never held during I/O

	eng *protocol.Conn
	endState
	timerState
	readToken
	writeToken
	asyncSends
	pingState
	callbackState
}

// settings is what is set when the Conn is made and never changed (q and
// the channels are safe to use from any goroutine).
type settings struct {
	nc          net.Conn
	clock       Clock
	mono        monoClock        // the clock unless Options.Clock is set
	q           *assembler.Queue // nil with OnMessage: messages go to the callback
	subprotocol string
	onMessage   func(*Conn, frame.Opcode, []byte)
	onPing      func(*Conn, []byte)
	onPong      func(*Conn, []byte, time.Duration)
	sendLimit   int64
	sendFull    SendFullPolicy
	outHigh     bool          // Options.OutputHighWater is set
	done        chan struct{} // closed when the engine reached StateClosed
	// released is set for a server's WebSocket over HTTP/2, whose stream
	// dies with the handler: the end is told to the application (Done,
	// the queue's close error, closeErr) only once the transport is closed
	// too, so a handler that returns then leaves nothing writing to its
	// ResponseWriter. It is closed then.
	released chan struct{}
}

// lockFree is read without c.mu.
type lockFree struct {
	hasDeferred atomic.Bool                   // deferred has messages (Write looks on every call)
	curWriter   atomic.Pointer[messageWriter] // the open Writer
}

// gateState is the send gate's holder's: one outgoing message at a time;
// a Writer and its writes hold it without c.mu (gate.go, conn_write.go).
type gateState struct {
	gate       sendGate
	msgBuf     []byte          // the current Writer's gathered bytes
	msgCtx     context.Context // the current Writer's context
	msgNextOp  frame.Opcode    // the opcode of its next frame
	writers    []messageWriter
	writerSlab int
}

// endState is the end, told once (conn.go, conn_close.go). c.mu.
type endState struct {
	closed     bool // the engine reached StateClosed
	toldEnd    bool // the end was told (with released)
	sockClosed bool
	// wake is closed (and cleared) when the read token is released, events
	// were taken from the engine, or the connection ended; nil while
	// nobody waits for that.
	wake chan struct{}
}

// timerState is the one timer over the deadline table (conn_timer.go). c.mu.
type timerState struct {
	timer   Timer
	timerAt time.Time // when it is set to fire; zero when not set
}

// readToken is who reads the transport, and the state of its reads
// (conn_read.go). c.mu.
type readToken struct {
	readGen    uint64    // bumped when the token is taken; stale interrupts check it
	releasedAt time.Time // when an application call last gave the token back
	// roundAt is when the last read round fed the engine; during a socket
	// read (phase reading), when the read (roughly) began, as only the
	// token's holder sets it.
	roundAt    time.Time
	want       int       // next read size
	needReader int       // calls waiting for what only reading brings (Ping, Close)
	takeover   bool      // an application call wants the token from the background reader
	rdlSet     bool      // the socket has a read deadline (an interrupt) to clear
	paused     bool      // Pause was called: nothing is read until Resume
	rearm      bool      // the timer may fire after a deadline a step adds: the engine's moved earlier, or it is far (covered, timerFar)
	inCallback bool      // OnMessage is running
	phase      readPhase // where the socket reads are in the park cycle
	reader     owner     // who holds the token
}

// readPhase is where the socket reads are in the park cycle (conn_read.go):
// a read that waits parkAfter for the peer is interrupted, and the next
// one reads into parkBuf with the engine's buffer released, until a
// message comes.
type readPhase uint8

const (
	notReading    readPhase = iota // no socket read in progress
	parkNext                       // none; the next one parks (the connection is idle)
	reading                        // a read into the engine's buffer
	readingToPark                  // that read was interrupted to park: the next one parks
	readParked                     // a read into parkBuf
)

// writeToken is who writes the transport, and what was taken and written
// (conn_write.go). c.mu.
type writeToken struct {
	writeGen    uint64
	writeIdle   chan struct{} // closed when writing turns false; nil while nobody waits
	taken       int64         // bytes taken from the engine for writing
	written     int64         // of those, bytes written
	rest        []byte        // the unwritten end of a frame whose write was cut (NetConn)
	wbuf        []byte        // written output, for the engine to reuse
	writeErr    error         // the transport's write side failed
	writing     bool
	sweepHolds  bool // the token is held for a Broadcast's sweep, which has not written yet
	shutStarted bool // the engine asked to close and its last bytes were written
}

// asyncSends is Send's and SendPrepared's (conn_send.go). c.mu.
type asyncSends struct {
	deferred    *deferredSends // sent while the gate was held, made at the first
	asyncWriter func()         // c.writeAsync, made at the first asynchronous write
	raw         *rawWriter     // non-blocking writes on a TCP socket, made at the first
	outPooled   bool           // the output buffers went to the pool while idle
	noRaw       bool           // the transport has none
}

// pingState is Ping's waiters and the OnPing and OnPong calls (hooks.go).
// c.mu.
type pingState struct {
	pings []pingWaiter
	hooks *hookState // OnPing and OnPong calls, made at the first
}

// callbackState is OnMessage's (callbacks.go). c.mu.
type callbackState struct {
	join  assembler.Joiner // a fragmented message being gathered
	ready []readyMsg       // complete messages to deliver
}

// afterUnlock is what a helper leaves for its caller to do once c.mu is let go:
// the lock rule is that a helper documented "c.mu held" is entered and
// left with it (it may let go around a socket call or a wait), and only
// the methods that took c.mu let go of it, then finish.
type afterUnlock uint8

const (
	closeTransport afterUnlock = 1 << iota // close the socket (closeSocket)
	shutTransport                          // the engine's last bytes are written: end the transport (shutdownTransport)
	reportClose                            // the call returns the close error (closeErr)
)

// finish does what helpers left, in that order, and returns err or the
// close error. c.mu not held.
func (c *Conn) finish(t afterUnlock, err error) error {
	if t&closeTransport != 0 {
		c.closeSocket()
	}
	if t&shutTransport != 0 {
		c.shutdownTransport()
	}
	if t&reportClose != 0 {
		return c.closeErr()
	}
	return err
}

type owner uint8

const (
	ownerNone       owner = iota
	ownerApp              // an application call (Read, Reader, Ping, Close) reads
	ownerBackground       // the background reader goroutine reads
)

// pingWaiter is a Ping call waiting for the pong of its ping, the num-th
// the engine sent (protocol.Conn.PingsSent).
type pingWaiter struct {
	num uint64
	ch  chan time.Duration
}

// stopAfterMessages is set on every engine as it is made (Dial, Accept,
// NewConn), before it parses a byte: a reply to a message goes out before
// what the bytes after it cause (a close for a violation), because the
// engine stops after each message and the reader goes on once the message
// was handed over.
func stopAfterMessages(eng *protocol.Conn) { eng.SetStopAfterMessage(true) }

// newConn starts a Conn around an engine that is open (or closing).
func newConn(nc net.Conn, eng *protocol.Conn, opts *Options, cfg protocol.Config) *Conn {
	c := &Conn{eng: eng, settings: settings{
		nc: nc, clock: opts.Clock,
		done:        make(chan struct{}),
		subprotocol: eng.Subprotocol(),
		onMessage:   opts.OnMessage,
		onPing:      opts.OnPing,
		onPong:      opts.OnPong,
		sendLimit:   opts.SendLimit,
		sendFull:    opts.SendFull,
	}}
	// The handshake's request (or response) and its header block, about a
	// kilobyte: the Conn never reads them, and a server's handler that
	// returned after Accept no longer holds the request either.
	eng.ReleaseHandshake()
	c.want = minReadBuffer
	if c.sendLimit <= 0 {
		c.sendLimit = DefaultSendLimit
	}
	if opts.OutputHighWater > 0 {
		eng.SetOutputHighWater(int(min(opts.OutputHighWater, math.MaxInt32)))
		c.outHigh = true
	}
	if c.clock == nil {
		c.mono.base = time.Now()
		c.clock = &c.mono // in c: no allocation of its own
	}
	if sc, ok := nc.(*streamConn); ok && sc.server {
		c.released = make(chan struct{})
	}
	if c.onMessage == nil {
		c.q = assembler.New(opts.queueConfig(cfg))
		c.q.SetFill(c.fill)
	}
	c.mu.Lock()
	c.releasedAt = c.clock.Now()
	c.roundAt = c.releasedAt
	pending := c.afterEngine()
	c.maybeStartBackground()
	c.mu.Unlock()
	if pending {
		c.flushBackground(nil)
	}
	return c
}

// afterEngine takes the engine's events, re-arms the timer, and reports
// whether there is output to write or a transport to close. c.mu held.
func (c *Conn) afterEngine() bool {
	pending := c.takeEvents()
	c.armTimer()
	return pending
}

// takeEvents is afterEngine for the read paths, which arm the timer
// themselves once the round's state is final (the reader released, or the
// next read begun): once a round instead of twice. c.mu held.
func (c *Conn) takeEvents() bool {
	for {
		ev := c.nextEvent()
		if ev.Kind == protocol.EventData {
			c.notIdle()
		}
		switch {
		case ev.Kind == protocol.EventNone:
			c.signal()
			return c.outputPending()
		case ev.Kind == protocol.EventData && c.onMessage == nil:
			if err := c.q.PushEvent(ev); err != nil && !c.closed {
				c.eng.Fail(c.clock.Now(), frame.CloseInternalError, "")
			}
		default:
			c.otherEvent(&ev)
		}
	}
}

// nextEvent is the engine's NextEvent, not inlined: inlined, its
// temporaries made takeEvents' frame 432 bytes instead of 280, and that
// frame is on the deepest path of a Read loop (a message's allocation under
// it may take the allocator's slow path): with it a Read loop's goroutine
// stack grew from 4 to 8 KiB after a 16 KiB message, and kept it (see
// TestIdleMemoryAfterMessages).
//
//go:noinline
func (c *Conn) nextEvent() protocol.Event { return c.eng.NextEvent() }

// otherEvent is takeEvents for every event but a message's data for the
// queue. A function of its own so that takeEvents, on every read's path,
// keeps a small stack frame (432 bytes; about 1 KiB with these cases
// inline): the depth of that path, where a message's allocation may take
// the allocator's slow path, decides whether a Read loop's goroutine stack
// grows from 4 to 8 KiB, which it then keeps for the connection's life
// (see fill). c.mu held.
func (c *Conn) otherEvent(ev *protocol.Event) {
	if ev.Kind != protocol.EventData {
		c.rearm = true // a pong to write, a close handshake's wait, the end
	}
	switch ev.Kind {
	case protocol.EventData:
		c.gather(ev)
	case protocol.EventPing:
		if c.onPing != nil {
			c.queueHook(true, ev.Data, 0)
		}
	case protocol.EventPong:
		c.answerPings(ev.Answered, ev.Latency)
		if c.onPong != nil {
			c.queueHook(false, ev.Data, ev.Latency)
		}
	case protocol.EventClosed:
		c.ended()
	}
}

// ended runs once, when the engine reached StateClosed: every waiting call
// returns now with the close error. c.mu held.
func (c *Conn) ended() {
	c.closed = true
	close(c.done)
	c.tellEnd()
	if c.reader == ownerApp {
		c.interruptRead() // a Read blocked in the socket returns the close error
	}
	// What is not written yet has the close timeout from now on (the
	// engine's Deadline, which the timer follows). A write in progress
	// with nothing left unsent was dropped (Abort, which empties the
	// output): it returns at once. (EndTransport is for the writer to ask,
	// once it is done: asked here, it could tell to linger, and nobody
	// would half-close.)
	if c.writing && c.eng.UnsentOutput() == 0 {
		c.nc.SetWriteDeadline(pastTime)
	}
}

// tellEnd tells the application that the connection ended: the queue
// closes with the close error, and Read and Reader return it. That is at
// once when the engine ends, or, with released (a server's HTTP/2
// stream), once the transport is closed too. c.mu held.
func (c *Conn) tellEnd() {
	if c.toldEnd || !c.closed || c.released != nil && !c.sockClosed {
		return
	}
	c.toldEnd = true
	if c.q != nil {
		c.q.Close(c.eng.CloseStatus().Err)
	}
	if c.released != nil {
		close(c.released)
	}
}

// endChan is closed when the application has been told of the end.
func (c *Conn) endChan() <-chan struct{} {
	if c.released != nil {
		return c.released
	}
	return c.done
}

// signal wakes the calls waiting for the read token or for events. c.mu
// held.
func (c *Conn) signal() {
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
}

// waitChan returns a channel closed at the next signal. c.mu held.
func (c *Conn) waitChan() chan struct{} {
	if c.wake == nil {
		c.wake = make(chan struct{})
	}
	return c.wake
}

// answerPings wakes the Ping calls whose ping a pong answered: the engine
// matched the pong (protocol.Event.Answered), which answers that ping and
// every earlier one. c.mu held.
func (c *Conn) answerPings(answered uint64, rtt time.Duration) {
	n := 0
	for _, p := range c.pings {
		if p.num > answered {
			break
		}
		p.ch <- rtt
		n++
	}
	c.pings = append(c.pings[:0], c.pings[n:]...)
}

// closeErr returns the close status's error, or protocol.ErrClosed while
// the connection has not ended. It waits until the end is told (see
// tellEnd), except inside OnMessage, whose return that may need.
func (c *Conn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed && !c.toldEnd && !c.inCallback {
		c.mu.Unlock()
		<-c.endChan()
		c.mu.Lock()
	}
	if err := c.eng.CloseStatus().Err; err != nil {
		return err
	}
	return protocol.ErrClosed
}

// CloseStatus returns how the connection ended (Err is nil while open).
// Safe from any goroutine.
func (c *Conn) CloseStatus() protocol.CloseStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.CloseStatus()
}

// Done returns a channel closed when the connection has ended: every call
// waiting on it has returned or is returning the close error. For a
// server's WebSocket over HTTP/2 it also waits for the stream's release:
// after it the handler may return (which ends the stream), and not before.
// Safe from any goroutine.
func (c *Conn) Done() <-chan struct{} { return c.endChan() }

// Compressed reports whether permessage-deflate was negotiated. Safe from
// any goroutine.
func (c *Conn) Compressed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return deflate.Negotiated(c.eng.Extensions())
}

// SetReadLimit sets the largest message this connection accepts from now
// on (the default is Config.MaxMessageSize, 1 MiB when unset), like
// gorilla's and coder's SetReadLimit. A larger message fails the connection
// with 1009 (message too big), decided from the frame header when it can
// be. Safe from any goroutine.
func (c *Conn) SetReadLimit(n int64) {
	c.mu.Lock()
	c.eng.SetMaxMessageSize(n)
	if c.q != nil {
		c.q.SetMaxMessageSize(n)
	}
	c.mu.Unlock()
}

// Subprotocol returns the negotiated subprotocol ("" if none). Safe from
// any goroutine.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Latency returns the last ping's round-trip time (keepalive included).
// Safe from any goroutine.
func (c *Conn) Latency() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.Latency()
}

// LocalAddr returns the local network address of the transport. Safe from
// any goroutine.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address. Safe from any goroutine.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

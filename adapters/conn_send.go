package adapters

import (
	"context"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/bufpool"
	"github.com/wsengine/ws/protocol"
)

// Asynchronous sends. Send and SendPrepared append a message to the
// engine's output and return; a writer goroutine, started when none is
// writing and gone when the output is written, takes it to the socket. The
// bound is the engine's own count of unsent output (protocol's output
// bound: what waits in the engine and what the writer holds, pongs
// included), so there is one mechanism for what a peer's input and what the
// application's sends may queue. A message that would take it past
// Options.SendLimit is refused or fails the connection (SendFullPolicy).
//
// Order: a message goes into the engine's output at once when no other
// message is being written whole (the send gate is free); else (a Writer
// is open, or a Write is appending) it waits in c.deferred, which the next
// holder of the gate appends before its own message. So sends keep the
// order of their calls, synchronous and asynchronous alike.

// DefaultSendLimit is the unsent output a connection may hold when
// Options.SendLimit is zero.
const DefaultSendLimit = 1 << 20

// ErrSendQueueFull: a Send or SendPrepared would have taken the
// connection's unsent output past Options.SendLimit: the peer does not
// keep up. With FailSlowConsumer (the default) the connection is failed
// with 1008 and its close error wraps ErrSendQueueFull; with RefuseSend the
// message was not queued and the connection goes on. The engine applies
// the bound (protocol.Conn.AdmitSend).
var ErrSendQueueFull = protocol.ErrSendQueueFull

// SendFullPolicy says what happens to a message that would take a
// connection's unsent output past Options.SendLimit.
type SendFullPolicy uint8

const (
	// FailSlowConsumer fails the connection: the output not yet begun is
	// discarded, a close frame 1008 (policy violation, reason "send queue
	// full") follows what is being written, the transport closes, and
	// every call returns the close error, which wraps ErrSendQueueFull.
	// The call that hit the limit returns ErrSendQueueFull.
	FailSlowConsumer SendFullPolicy = iota
	// RefuseSend returns ErrSendQueueFull and queues nothing; the
	// connection goes on, and a later Send may fit.
	RefuseSend
)

// deferredSends are the messages queued while the send gate was held, in
// order, and their bytes.
type deferredSends struct {
	list  []deferredSend
	bytes int64
}

// deferredBytes returns the bytes of the deferred messages. c.mu held.
func (c *Conn) deferredBytes() int64 {
	if c.deferred == nil {
		return 0
	}
	return c.deferred.bytes
}

// deferredSend is a message queued while the send gate was held.
type deferredSend struct {
	op       frame.Opcode
	data     []byte // a copy, for a plain message
	prepared *PreparedMessage
}

func (d *deferredSend) size() int64 {
	if d.prepared != nil {
		return int64(d.prepared.Len())
	}
	return int64(len(d.data))
}

// Send queues a whole message (op is frame.OpText or frame.OpBinary) and
// returns without waiting for the socket: p is encoded (compressed, framed)
// into the connection's output at once, and a writer goroutine writes it.
// Messages go out in the order of the calls that sent them, Write's and
// Send's alike, and before a later close frame. If the unsent output would
// pass Options.SendLimit, Send applies Options.SendFull and returns
// ErrSendQueueFull. After the end it returns the close error.
//
// Send may be called from any goroutine, OnMessage included; it never
// blocks on the peer.
func (c *Conn) Send(op frame.Opcode, p []byte) error {
	if op != frame.OpText && op != frame.OpBinary {
		return protocol.ErrBadOpcode
	}
	_, err := c.send(deferredSend{op: op, data: p}, false)
	return err
}

// SendPrepared is Send for a prepared message: its encoding for this
// connection's wire form is made once and shared with every connection of
// that form (see protocol.PreparedMessage).
func (c *Conn) SendPrepared(m *PreparedMessage) error {
	_, err := c.send(deferredSend{op: m.Opcode(), prepared: m}, false)
	return err
}

// SendPing queues a ping with payload p (at most 125 bytes) and returns
// without waiting for the socket or the pong, as Send does for a message;
// OnPong sees the pong, with its round-trip time. Ping is the call that
// waits for it. After the end it returns the close error.
func (c *Conn) SendPing(p []byte) error {
	c.mu.Lock()
	if after, err := c.queuePing(p); after != 0 || err != nil {
		c.mu.Unlock()
		return c.finish(after, err)
	}
	c.startBackground(true, time.Time{}) // the pong must be read
	c.armTimer()
	inline := c.takeWriteToken()
	c.mu.Unlock()
	if inline {
		c.writeNowOrLater()
	}
	return nil
}

// send queues d and writes it at once, in this goroutine, if nobody else
// is writing. With later (Broadcast) it leaves the write to a sweep: it
// reports claimed when it took the write token for one (see sweep).
func (c *Conn) send(d deferredSend, later bool) (claimed bool, err error) {
	c.mu.Lock()
	if after, err := c.admit(d.size()); after != 0 || err != nil {
		c.mu.Unlock()
		return false, c.finish(after, err)
	}
	if !c.gate.tryAcquire() {
		if d.prepared == nil {
			d.data = append([]byte(nil), d.data...) // the caller's until it returns
		}
		if c.deferred == nil {
			c.deferred = new(deferredSends)
		}
		c.deferred.list = append(c.deferred.list, d)
		c.deferred.bytes += d.size()
		c.hasDeferred.Store(true)
		c.mu.Unlock()
		c.drainDeferred() // the holder may have gone meanwhile
		return false, nil
	}
	c.appendDeferred()
	after, err := c.appendSend(&d)
	inline := false
	switch {
	case !later || c.eng.UnsentOutput() > coalesceLimit:
		inline = c.takeWriteToken() // a sweep's claim too: it is behind
	case c.sweepHolds:
		// Coalesced: the sweep that holds the token writes this message
		// with the ones before it, in one system call.
	default:
		claimed = c.takeWriteToken()
		c.sweepHolds = claimed
	}
	c.mu.Unlock()
	c.gate.release()
	if inline {
		c.writeNowOrLater()
	}
	c.drainDeferred()
	return claimed, c.finish(after, err)
}

// admit checks a message of n bytes against the send limit and applies the
// policy: it is admitted if it fits, or if nothing is queued. After the end
// the call returns the close error. c.mu held.
func (c *Conn) admit(n int64) (afterUnlock, error) {
	if c.closed {
		return reportClose, nil
	}
	refuse := c.sendFull == RefuseSend
	err := c.eng.AdmitSend(c.roundAt, n, c.deferredBytes(), c.sendLimit, refuse)
	if err == nil || refuse {
		return 0, err
	}
	c.deferred = nil // the slow consumer was dropped: nothing more goes out
	c.hasDeferred.Store(false)
	if c.afterEngine() {
		c.kickWriter()
	}
	return 0, err
}

// appendSend puts one message into the engine's output; after the end the
// call returns the close error. The caller holds the gate and c.mu.
func (c *Conn) appendSend(d *deferredSend) (afterUnlock, error) {
	c.lendWriteBuffer(int(d.size())+frame.MaxHeaderSize, d.prepared != nil)
	var err error
	if d.prepared != nil {
		err = c.eng.SendPrepared(c.roundAt, d.prepared)
	} else {
		err = c.eng.SendWith(c.roundAt, d.op, d.data, true, protocol.SendOptions{})
	}
	if err != nil && c.closed {
		return reportClose, nil
	}
	return 0, err
}

// appendDeferred puts the deferred messages into the engine's output, in
// order. The caller holds the gate and c.mu.
func (c *Conn) appendDeferred() {
	d := c.deferred
	if d == nil {
		return
	}
	c.deferred = nil // rare: not kept for the next time
	c.hasDeferred.Store(false)
	for i := range d.list {
		c.appendSend(&d.list[i])
	}
}

// drainDeferred appends deferred messages if the gate is free, until none
// is left or someone else holds the gate (who then appends them).
func (c *Conn) drainDeferred() {
	for c.hasDeferred.Load() { // most calls: nothing deferred, no lock taken
		c.mu.Lock()
		if c.deferred == nil || !c.gate.tryAcquire() {
			c.mu.Unlock()
			return
		}
		c.appendDeferred()
		c.kickWriter()
		c.mu.Unlock()
		c.gate.release()
	}
}

// kickWriter starts a writer goroutine if output waits and nobody writes.
// c.mu held.
func (c *Conn) kickWriter() {
	if c.takeWriteToken() {
		c.startWriter()
	}
}

// takeWriteToken takes the write token if output waits and nobody writes.
// c.mu held.
func (c *Conn) takeWriteToken() bool {
	if !c.tokenFree() || c.sockClosed || !c.outputPending() {
		return false
	}
	c.holdToken()
	return true
}

// startWriter starts a goroutine that writes with the token taken. c.mu
// held.
func (c *Conn) startWriter() {
	if c.asyncWriter == nil {
		// Made once: "go c.writeAsync()" would allocate a closure per
		// start, one per member of every broadcast.
		c.asyncWriter = c.writeAsync
	}
	go c.asyncWriter()
}

// writeNowOrLater writes the output with one non-blocking write in the
// sender's goroutine, holding the write token, and hands what is left (the
// socket's buffer was full, or more output came) to a writer goroutine.
// A send so costs a member one write system call and neither a goroutine
// nor an output buffer of its own: the buffer goes back to the pool at
// once for the next member. Without a socket to write to without
// blocking (TLS, an HTTP/2 stream, a wrapper), the goroutine writes.
func (c *Conn) writeNowOrLater() {
	c.mu.Lock()
	c.writeHeld()
	c.mu.Unlock()
}

// writeHeld is writeNowOrLater. c.mu held; let go during the write.
func (c *Conn) writeHeld() {
	if !c.canWriteNow() || len(c.rest) > 0 || c.writeErr != nil {
		c.startWriter()
		return
	}
	w, reuse := c.takeOutput()
	if w == nil { // the engine dropped it (the connection was failed)
		c.releaseWrite()
		c.releaseIfDone()
		return
	}
	c.mu.Unlock()
	n, err := c.writeNonBlocking(w)
	c.mu.Lock()
	c.written += int64(n)
	c.wrote(n)
	switch {
	case err != nil:
		// The writer goroutine meets the error again and ends the
		// connection as writeLoop does.
		c.rest = w[n:]
		c.startWriter()
	case n < len(w):
		c.rest = w[n:] // the socket is full: the goroutine waits for it
		c.startWriter()
	default:
		c.keepWritten(w, reuse)
		if c.outputPending() {
			c.startWriter()
		} else {
			c.releaseWrite()
			c.poolWriteBuffers()
		}
	}
}

// rawWriter makes non-blocking writes on a TCP socket: its write callback
// reads its buffer from buf and leaves its result in n and err (a callback
// of its own per call would allocate per member of a broadcast). Used by
// the write token's holder only.
type rawWriter struct {
	rc    syscall.RawConn
	write func(fd uintptr) bool
	buf   []byte
	n     int
	err   error
}

// canWriteNow reports whether the socket takes non-blocking writes, and
// prepares them once. c.mu held.
func (c *Conn) canWriteNow() bool {
	if c.raw == nil && !c.noRaw {
		if tc, ok := c.nc.(*net.TCPConn); ok && rawWrites {
			if rc, err := tc.SyscallConn(); err == nil {
				r := &rawWriter{rc: rc}
				r.write = func(fd uintptr) bool {
					r.n, r.err = rawWrite(fd, r.buf)
					return true // one try: never wait for the socket
				}
				c.raw = r
			}
		}
		c.noRaw = c.raw == nil
	}
	return c.raw != nil
}

// writeNonBlocking makes one write system call with w, without waiting:
// it returns what the socket took (0 when its buffer is full, which is not
// an error).
func (c *Conn) writeNonBlocking(w []byte) (int, error) {
	r := c.raw
	r.buf = w
	err := r.rc.Write(r.write)
	n, werr := r.n, r.err
	r.buf, r.err = nil, nil
	if err != nil {
		return 0, err
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		return max(n, 0), nil
	}
	return max(n, 0), werr
}

// writeAsync writes the output until none is left, then ends, giving an
// idle connection's buffers to the pool. (Only the asynchronous path pools:
// a connection that Writes keeps its buffers while it writes, however long
// its read has been parked.)
func (c *Conn) writeAsync() {
	c.mu.Lock()
	after, _ := c.writeLoop(nil, true)
	if !c.writing {
		c.poolWriteBuffers()
	}
	c.mu.Unlock()
	c.finish(after&^reportClose, nil)
}

// WritePrepared is Write for a prepared message: it returns once the
// message is written to the socket, bounded by ctx.
func (c *Conn) WritePrepared(ctx context.Context, m *PreparedMessage) error {
	if err := c.acquireMessage(ctx); err != nil {
		return err
	}
	defer c.releaseMessage()
	c.mu.Lock()
	c.lendWriteBuffer(m.Len()+frame.MaxHeaderSize, false)
	after, err := c.flushQueued(ctx, c.eng.SendPrepared(c.roundAt, m), false)
	c.mu.Unlock()
	return c.finish(after, err)
}

// Broadcast sends m to every connection as SendPrepared does (bounded,
// encoded once per wire form among them), and returns how many took it;
// the others refused it or were failed by their SendFull policy, or had
// ended. It never waits on a socket, so a slow member delays no other.
//
// Unlike SendPrepared it does not write from the caller's goroutine: a
// room of sweepMin members or more is written by sweeps, a goroutine for
// each P's share of the room, and what is queued for a member before its
// sweep gets to it (a busy feed's next messages) goes out in the same
// system call. A member whose sweep is 16 KiB behind is written by the
// caller again, so Broadcast slows to the sockets' pace instead of
// queueing up to the send limit.
func Broadcast(m *PreparedMessage, conns ...*Conn) int {
	n := 0
	if len(conns) < sweepMin {
		for _, c := range conns {
			if c.SendPrepared(m) == nil {
				n++
			}
		}
		return n
	}
	var s *sweep
	procs := runtime.GOMAXPROCS(0)
	chunk := max(sweepChunk, (len(conns)+procs-1)/procs)
	for _, c := range conns {
		claimed, err := c.send(deferredSend{op: m.Opcode(), prepared: m}, true)
		if err == nil {
			n++
		}
		if !claimed {
			continue
		}
		if s == nil {
			s = getSweep()
		}
		s.conns = append(s.conns, c)
		if len(s.conns) == chunk {
			go s.run() // writes while the rest are queued
			s = nil
		}
	}
	if s != nil {
		go s.run()
	}
	return n
}

const (
	// sweepMin is the smallest room Broadcast leaves to sweeps: a smaller
	// one is written at once, member by member, for less than a
	// goroutine's start.
	sweepMin = 16
	// sweepChunk is the fewest members one sweep writes. A room is split
	// into one sweep per P (so that one broadcast is written in parallel),
	// each started once its members are queued. More sweeps than Ps would
	// take the broadcaster's turns: it would queue less behind each write.
	sweepChunk = 256
	// coalesceLimit is the unsent output up to which a member waits for
	// its sweep; past it the sender writes (protocol's send bound is far
	// higher: this one only paces a broadcaster to its sweeps).
	coalesceLimit = 16 << 10
)

// A sweep writes, in a goroutine of its own, the members whose write
// token a Broadcast took for it (c.sweepHolds): each with one
// non-blocking write of all its output, as Send's own write
// (writeNowOrLater). Whoever wants to write a member first takes the token
// from its sweep (tokenFree): a Write, a Send, the timer's ping, a
// Broadcast past coalesceLimit, an earlier sweep that lists the member too;
// the sweep then passes that member by.
type sweep struct {
	conns []*Conn
	run   func() // s.write, made once: "go s.write()" would allocate
}

// sweeps are reused: a broadcast to a warm room allocates none.
var sweeps sync.Pool

func getSweep() *sweep {
	if s, ok := sweeps.Get().(*sweep); ok {
		return s
	}
	s := new(sweep)
	s.run = s.write
	return s
}

func (s *sweep) write() {
	for i, c := range s.conns {
		s.conns[i] = nil
		if i%64 == 63 {
			// Writes are system calls, which the scheduler counts as
			// running: the broadcaster gets its turn to queue more, which
			// this sweep then writes with what it was going to.
			runtime.Gosched()
		}
		c.mu.Lock()
		if c.sweepHolds {
			c.sweepHolds = false
			c.writeHeld()
		}
		c.mu.Unlock()
	}
	s.conns = s.conns[:0]
	sweeps.Put(s)
}

// Output buffers of idle connections are pooled: a connection whose read
// is parked (idle) gives its written buffers back once its writer is done,
// and takes one again for its next send, so an idle member of a room holds
// no buffer and a broadcast to members allocates none. The pool is the
// package's because Conns share nothing else; it is a cache the garbage
// collector empties (package bufpool, which adapters/loop uses too), not
// state a Conn depends on. (What a read drops as it parks does not go to
// the pool: 15,000 connections parking at once would keep it all there
// until the collector empties the pool, 5 KiB of resident memory a
// connection in the idle benchmark.)
var buffers bufpool.Pool

// poolWriteBuffers gives the connection's empty output buffers to the pool
// when its read is parked. c.mu held, no write in progress.
func (c *Conn) poolWriteBuffers() {
	if c.phase != readParked || c.writing || len(c.rest) > 0 {
		return
	}
	buffers.Put(c.wbuf)
	c.wbuf = nil
	buffers.Put(c.eng.SwapWriteBuffer(nil))
	c.outPooled = true
}

// lendWriteBuffer makes room in the engine's output for size more bytes
// from the pool: a buffer when the connection's were pooled, unless a
// prepared message can be sent from its shared frame (then nothing is held
// while it waits for the socket), or a larger one when the output waiting
// leaves too little room (bufpool.MakeRoom, the loop's rule too). c.mu
// held.
func (c *Conn) lendWriteBuffer(size int, prepared bool) {
	if !c.outPooled {
		buffers.MakeRoom(c.eng, size)
		return
	}
	if prepared && c.eng.SharesPrepared() {
		return
	}
	c.outPooled = false
	buffers.Put(c.eng.SwapWriteBuffer(buffers.Get(len(c.eng.Outgoing()) + size)))
}

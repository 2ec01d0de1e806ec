package adapters

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// The read token. At most one goroutine reads the transport: an
// application call that needs bytes (Read, a stream Reader, NetConn's Read,
// all through the queue's fill) reads the socket itself, so a message
// reaches a waiting reader with no goroutine in between; when no call has
// read for readGrace, or a call waits for something only reading brings (a
// pong, the peer's close), or the connection is lingering for the peer's
// EOF, the background reader does it. An application call that finds the
// background reader at work interrupts its socket read and takes over: one
// hand-off when the application comes back, none per message.

var pastTime = time.Unix(1, 0)

// interruptRead makes a socket read in progress (or the next one) return at
// once with a timeout; whoever takes the token next clears it. c.mu held.
func (c *Conn) interruptRead() {
	c.nc.SetReadDeadline(pastTime)
	c.rdlSet = true
}

// fill is the queue's producer in the goroutine of an application call
// that found nothing to take (assembler.Queue.SetFill; seen is the queue's
// Version when the call looked): it reads the socket once if nobody else
// does, else waits until the reader made progress. It returns ctx's error
// if ctx ends first. The waiting is in await, so that this frame, under
// every read of a Read loop, stays small: with it and takeEvents' smaller,
// a 16 KiB message no longer grows the loop's goroutine stack from 4 to 8
// KiB (measured with debug.SetMaxStack), which it would keep for the
// connection's life.
func (c *Conn) fill(ctx context.Context, seen uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.q.Version() != seen {
		// A reader pushed after the caller looked (the background reader,
		// which then gave the token back because the queue paused): look
		// again rather than wait on the socket for more. Pushes are made
		// under c.mu, so none can slip in after this check.
		c.mu.Unlock()
		return nil
	}
	c.syncPause()
	if c.reader != ownerNone || c.closed || c.sockClosed || c.holdInput() {
		ch := c.progress()
		c.mu.Unlock()
		return await(ctx, ch)
	}
	pending, err := c.readAsApp(ctx) // the common case
	c.mu.Unlock()
	if pending {
		c.flushBackground(ctx)
	}
	return err
}

// progress returns what a call that cannot read waits for before it looks
// at the queue again: the reader's next round (a background reader is
// asked to hand the token over), or the end told to the application; nil
// once that was told. c.mu held.
func (c *Conn) progress() <-chan struct{} {
	if c.closed || c.sockClosed {
		if c.toldEnd {
			return nil
		}
		return c.endChan() // the end waits for the transport (see tellEnd)
	}
	if c.reader == ownerBackground && !c.takeover {
		c.takeover = true
		c.interruptRead()
	}
	return c.waitChan()
}

// endOnly is the read calls of a connection served by Options.OnMessage,
// which has no queue (messages go to the callback): they wait for the end
// and return the close error, or ctx's error first.
func (c *Conn) endOnly(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := await(ctx, c.endChan()); err != nil {
		return err
	}
	return c.closeErr()
}

// await waits until ch is closed (at once for nil), or ctx ends: then it
// returns ctx's error.
func await(ctx context.Context, ch <-chan struct{}) error {
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readAsApp takes the read token for one round and gives it back. It
// reports whether output is pending (for the caller to write once it let
// go of c.mu). c.mu held.
func (c *Conn) readAsApp(ctx context.Context) (pending bool, err error) {
	c.reader = ownerApp
	c.readGen++
	err = c.readRound(ctx, c.readGen)
	pending = c.takeEvents()
	c.syncPause()
	c.reader = ownerNone
	c.releasedAt = c.roundAt // the time of the round just read
	c.signal()
	c.startBackground(false, c.roundAt) // the round's time: no clock read
	if !c.covered(c.graceDeadline()) {  // the one deadline a round's end adds
		c.armTimer()
	}
	c.releaseIfDone()
	return pending, err
}

// readRound feeds the engine once: what it kept after the last message,
// or one socket read. Entered and left with c.mu held; the socket read is
// done without it. ctx, if not nil, bounds the read.
func (c *Conn) readRound(ctx context.Context, gen uint64) error {
	if c.eng.InputPending() {
		c.roundAt = c.clock.Now()
		c.eng.Receive(c.roundAt, nil)
		return nil
	}
	if c.rdlSet {
		c.nc.SetReadDeadline(time.Time{})
		c.rdlSet = false
	}
	var buf []byte
	parkNow := c.phase == parkNext
	if parkNow {
		c.poolReadBuffer() // before ReleaseReadBuffer drops it
	}
	parked := parkNow && c.eng.ReleaseReadBuffer() // a tiny buffer stays, for the next pong
	if parked {
		c.releaseIdleBuffers()
		buf = c.parkBuf[:]
	} else {
		// Room for a read of c.want bytes with the start of a frame the
		// last read cut: c.want on top of it would double a buffer that is
		// c.want large already (maxReadBuffer would be 128 KiB). It grows,
		// and comes back after a park, through the pool's classes.
		buf = c.eng.ReadBufferFrom(c.readBuffers(), max(c.want-c.eng.BufferedInput(), 1))
	}
	c.phase = reading
	if parked {
		c.phase = readParked
	}
	if !c.covered(c.parkDeadline()) { // the one deadline a read adds
		c.armTimer()
	}
	c.mu.Unlock()
	var stop func() bool
	if ctx != nil && ctx.Done() != nil {
		stop = c.interruptReadWhenDone(ctx, gen)
	}
	n, err := c.nc.Read(buf)
	if stop != nil {
		stop()
	}
	c.mu.Lock()
	if c.phase == readingToPark {
		c.phase = parkNext
	} else {
		c.phase = notReading
	}
	now := c.clock.Now()
	c.roundAt = now
	switch {
	case n > 0 && parked:
		c.eng.Receive(now, buf[:n]) // copied: the engine takes a buffer again
		c.want = minReadBuffer
		// Still idle unless a message came (takeEvents says so): a
		// keepalive pong, or a ping to answer, leaves the read parked, so
		// an idle connection takes no read buffer for each keepalive
		// round.
		c.phase = parkNext
	case n > 0:
		c.eng.ReceiveBuffered(now, n) // a violation shows in the state
		if n == len(buf) && c.want < maxReadBuffer {
			c.want *= 2 // the read filled its room
		}
	}
	if err == nil {
		return nil
	}
	if isTimeout(err) && !c.sockClosed {
		// One of our interrupts: a takeover, a ctx, the connection's end.
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	c.eng.ReceiveEOF(now)
	return nil
}

// notIdle is told of a message: the next read does not park (a read
// interrupted to park goes on as a read). c.mu held.
func (c *Conn) notIdle() {
	switch c.phase {
	case parkNext:
		c.phase = notReading
	case readingToPark:
		c.phase = reading
	}
}

// interruptReadWhenDone interrupts the read of token generation gen when
// ctx ends. (A function of its own, so that its closure's variables are
// allocated only for a ctx that can end.)
func (c *Conn) interruptReadWhenDone(ctx context.Context, gen uint64) func() bool {
	return context.AfterFunc(ctx, func() {
		c.mu.Lock()
		if c.readGen == gen && c.reader != ownerNone {
			c.interruptRead()
		}
		c.mu.Unlock()
	})
}

// poolReadBuffer gives the engine's read buffer back to the pool when the
// reads grew it past the smallest size (c.want) and nothing points into it
// (readBufferFree): the read is about to park, or the connection has
// ended. A connection that only had small messages keeps its read size at
// 4 KiB, and its buffer goes to ReleaseReadBuffer, which drops it (or
// keeps one a parked read's few bytes were copied into: the next keepalive
// pong takes no new one), as before the pool: 15,000 such buffers pooled
// at once stayed resident through the collection after (4 % more memory
// per idle connection). c.mu held.
func (c *Conn) poolReadBuffer() {
	if c.want <= minReadBuffer || !c.readBufferFree() {
		return
	}
	if old, ok := c.eng.SwapReadBuffer(nil); ok {
		buffers.Put(old)
	}
}

// readBufferFree reports whether no message waiting for OnMessage, or in
// it, points into the engine's read buffer (a message that came in one
// event is the engine's bytes), so that the buffer may go to the pool.
// The engine knows about its own events. c.mu held.
func (c *Conn) readBufferFree() bool { return len(c.ready) == 0 && !c.inCallback }

// readBuffers is the pool the engine's read buffer grows through
// (protocol.Conn.ReadBufferFrom), nil when it may not go back to it (see
// readBufferFree). c.mu held.
func (c *Conn) readBuffers() protocol.Buffers {
	if !c.readBufferFree() {
		return nil
	}
	return &buffers
}

// releaseIdleBuffers drops, as a read is parked, the buffers that only
// the next messages would reuse: the engine's output buffer and the
// written one kept for it, a Writer's gathering buffer and its handles
// not yet handed out, the queue's spare buffer and Readers (OnMessage's
// gathering buffers are back in the pool once delivered). After a large
// message each is as large as it was, so a connection idle after activity
// would otherwise hold tens of KiB where a fresh one holds none. Whatever
// is in use (a write in progress, an open Writer, a stream being read, a
// message being gathered) is left alone.
// c.mu held.
func (c *Conn) releaseIdleBuffers() {
	if !c.writing && len(c.rest) == 0 && len(c.eng.Outgoing()) == 0 {
		// The written buffer in place of the engine's (one is enough),
		// then dropped, not pooled (see buffers), unless it is as small as
		// the engine keeps (a keepalive ping's frame: the next ping then
		// allocates nothing). Nor does the next send take one from the
		// pool: a pooled buffer is 4 KiB at least, and a reply of a
		// kilobyte to each of 15,000 connections waking at once made 2 KiB
		// more resident memory a connection than the engine's buffer made
		// to measure.
		if c.wbuf != nil {
			c.eng.SwapWriteBuffer(c.wbuf)
			c.wbuf = nil
		}
		c.eng.ReleaseWriteBuffer()
	}
	c.releaseWriterBuffers()
	if c.q != nil {
		c.q.Trim()
	}
}

// isTimeout reports a timeout error, as a deadline makes a socket read
// return. A net.Conn's own errors are net.Errors themselves, so the type
// assertion decides without errors.As, whose reflection costs a read
// loop's goroutine about 1 KiB of stack on the parked read's path: enough
// to grow it from 4 to 8 KiB for the connection's life.
func isTimeout(err error) bool {
	if ne, ok := err.(net.Error); ok {
		return ne.Timeout()
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// maybeStartBackground starts the background reader if the token is free
// and reading is needed now. c.mu held.
func (c *Conn) maybeStartBackground() { c.startBackground(false, time.Time{}) }

// startBackground is maybeStartBackground; force starts it even within the
// read grace (the engine just sent a keepalive ping, whose pong must be
// read). now, if not zero, is the time the caller just read, to judge the
// grace by; else the clock is read if the grace decides.
func (c *Conn) startBackground(force bool, now time.Time) {
	if c.reader != ownerNone || c.sockClosed || c.eng.ReceivedEOF() {
		return
	}
	switch {
	case c.closed:
		if !c.eng.Lingering() {
			return // nothing to read for once the connection ended
		}
	case c.eng.State() == protocol.StateClosing: // Close waits for the peer's close frame
	case c.holdInput():
		return
	case c.onMessage != nil:
	case force || c.needReader > 0 || c.eng.AwaitingPong():
	case c.sinceRelease(now) >= readGrace:
	default:
		return
	}
	c.reader = ownerBackground
	c.readGen++
	go c.readBackground(false)
}

// sinceRelease returns how long the read token has been free at now (the
// clock's time if now is zero). c.mu held.
func (c *Conn) sinceRelease(now time.Time) time.Duration {
	if now.IsZero() {
		now = c.clock.Now()
	}
	return now.Sub(c.releasedAt)
}

// keepReading says whether the background reader goes on. c.mu held.
func (c *Conn) keepReading() bool {
	switch {
	case c.sockClosed || c.eng.ReceivedEOF():
		return false
	case c.closed:
		return c.eng.Lingering() // drain until the peer's EOF
	case c.takeover:
		return false
	}
	return !c.holdInput() // never held once Close was called: the peer's close must come in
}

// readBackground reads while keepReading says so, then gives the token
// back. With OnMessage it runs for the connection's life and calls the
// callback after each round.
//
// A read about to park goes on in a new goroutine, unless this one has
// done nothing but parked reads (parkedOnly): callbacks and full reads grow
// a goroutine's stack to 4 KiB and more, and the runtime shrinks a stack
// only while less than a quarter of it is in use, which a parked read
// (about 0.7 KiB, plus the runtime's 800-byte guard) never is. A new
// goroutine starts at the runtime's starting size, 2 KiB where most
// goroutines are parked reads, and an idle connection keeps that instead
// (TestParkedReadStackMemory). The token stays taken meanwhile: nothing
// belongs to the goroutine.
func (c *Conn) readBackground(parkedOnly bool) {
	c.mu.Lock()
	for c.keepReading() {
		if len(c.ready) > 0 { // messages that came with the handshake
			c.mu.Unlock()
			c.deliver()
			c.mu.Lock()
			parkedOnly = false
			continue
		}
		switch {
		case c.phase != parkNext:
			parkedOnly = false // a full read, then maybe a callback
		case !parkedOnly:
			c.mu.Unlock()
			go c.readBackground(true)
			return
		}
		c.readRound(nil, c.readGen)
		pending := c.takeEvents()
		c.syncPause()
		deliver := len(c.ready) > 0
		c.mu.Unlock()
		if pending {
			c.flushBackground(nil)
		}
		if deliver {
			c.deliver()
		}
		c.mu.Lock()
	}
	lingerDone := c.eng.Lingering() && c.eng.ReceivedEOF() && c.eng.EndTransport(c.clock.Now(), true) == protocol.CloseTransportNow
	c.reader = ownerNone
	c.takeover = false
	c.releasedAt = c.clock.Now()
	c.signal()
	c.armTimer()
	c.releaseIfDone()
	c.mu.Unlock()
	if lingerDone {
		c.closeSocket()
	}
}

// holdInput says whether the transport is left unread for now
// (protocol.Conn.HoldInput): the queue paused reading, or the unsent output
// passed Options.OutputHighWater; the writer ends a hold for the output
// (wrote). c.mu held.
func (c *Conn) holdInput() bool { return c.eng.HoldInput(c.roundAt) }

// syncPause tells the engine when reading pauses or resumes (Pause, or
// the queue at its high water mark), so that keepalive does not blame the
// peer for a slow reader. c.mu held.
func (c *Conn) syncPause() {
	if c.closed {
		return
	}
	p := c.paused || c.onMessage == nil && c.q.Paused()
	if p == c.eng.ReadingPaused() {
		return
	}
	if p {
		c.eng.PauseReading(c.clock.Now())
	} else {
		c.eng.ResumeReading(c.clock.Now())
	}
	c.rearm = true // keepalive stopped or started again
}

// Pause stops reading the connection until Resume: no message is read,
// queued or given to OnMessage meanwhile (one the engine had already
// parsed, or one a read in progress brings, may still come), and TCP holds
// the peer back. Keepalive is told, so a paused connection is not failed
// for the pongs it does not read. Close reads anyway: the peer's close
// frame must come in. It may be called from any goroutine, OnMessage
// included.
func (c *Conn) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	c.syncPause()
	if c.reader == ownerBackground {
		c.interruptRead() // it stops after its round
	}
}

// Resume reads the connection again after Pause.
func (c *Conn) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
	c.syncPause()
	c.signal() // a Read waiting for the pause's end reads
	c.maybeStartBackground()
	c.armTimer()
}

// Read returns the next whole message: its type (frame.OpText or
// frame.OpBinary) and its payload, which the caller owns (one allocation
// per message; a loop that does not keep messages can reuse one buffer
// with ReadAppend and allocate nothing). A Read that finds no message
// queued reads the socket itself. ctx bounds the call; when it ends Read
// returns ctx.Err() and the connection goes on.
//
// After the connection ends, Read returns every message received before the
// peer's close frame, then the *protocol.CloseError (errors.Is with
// protocol.ErrKeepaliveTimeout, &protocol.CloseError{Code: ...} and so on).
// With Options.OnMessage, messages go to the callback and Read returns only
// the close error.
//
// Read may be called from any goroutine; concurrent Reads get distinct
// messages.
func (c *Conn) Read(ctx context.Context) (frame.Opcode, []byte, error) {
	if c.q == nil {
		return 0, nil, c.endOnly(ctx)
	}
	m, err := c.q.Next(ctx)
	return m.Opcode, m.Data, err
}

// ReadAppend is Read for a caller that reuses its buffer: it appends the
// next message's payload to dst and returns the extended slice (dst
// unchanged on an error). Read allocates each message for the caller to
// keep; a loop that passes the returned slice back as dst[:0] instead
// reads messages of up to 256 KiB without allocating, once the buffer has
// grown to their size:
//
//	var buf []byte
//	for {
//		op, msg, err := c.ReadAppend(ctx, buf[:0])
//		if err != nil {
//			return err
//		}
//		buf = msg
//		// use msg until the next ReadAppend
//	}
//
// Everything else is as for Read.
func (c *Conn) ReadAppend(ctx context.Context, dst []byte) (frame.Opcode, []byte, error) {
	if c.q == nil {
		return 0, dst, c.endOnly(ctx)
	}
	m, err := c.q.NextAppend(ctx, dst)
	return m.Opcode, m.Data, err
}

// Reader returns the next message as a stream, readable as it arrives. Its
// reads are bounded by ctx. It is valid until the next Reader call; after
// that its Read returns assembler.ErrStaleReader and never touches another
// message. A message whose stream was not read to the end is continued by
// the next Reader call.
//
// Reader may be called from any goroutine, one stream at a time.
func (c *Conn) Reader(ctx context.Context) (frame.Opcode, io.Reader, error) {
	if c.q == nil {
		return 0, nil, c.endOnly(ctx)
	}
	op, r, err := c.q.NextReader(ctx)
	if err != nil {
		return 0, nil, err
	}
	return op, r, nil
}

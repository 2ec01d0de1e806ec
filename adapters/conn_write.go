package adapters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// The write token. At most one goroutine writes the socket (c.writing).
// The engine's output is taken, not copied, and written without the lock;
// whoever holds the token writes until no output is left, so bytes queued
// by others (pongs, close replies, keepalive pings) go out behind it.
// Background writers never wait for the token. An application call waits
// its turn bounded by its own ctx, and only the holder sets a write
// deadline on the socket, for its own ctx.

// ErrWriteCut is the cause in the close status of a connection whose write
// was cut short (by its call's ctx, or by the transport): no frame can
// follow a partial one, so the connection ends without a close frame.
var ErrWriteCut = errors.New("a write was cut short")

// ErrWriterClosed is returned by a message Writer used after its Close, or
// after a later Writer call replaced it; it never touches another message.
var ErrWriterClosed = errors.New("adapters: message writer already closed")

// outputPending reports bytes to write or a transport to close. c.mu held.
func (c *Conn) outputPending() bool {
	return len(c.rest) > 0 || len(c.eng.Outgoing()) > 0 || c.eng.ShouldCloseTransport() && !c.shutStarted
}

// mark returns the position, in all bytes ever taken from the engine, of
// the end of its current output. c.mu held.
func (c *Conn) mark() int64 { return c.taken + int64(len(c.eng.Outgoing())) }

// flushBackground writes pending output unless another goroutine is
// writing (it then writes these bytes too). It never waits for the token.
// ctx, when not nil, is an application call's and bounds the writes (a
// write it cuts leaves the rest of the frame for the next writer); with nil
// the writes have no deadline, but the socket closes under them a close
// timeout after the connection's end (the engine's Deadline, onTimer).
func (c *Conn) flushBackground(ctx context.Context) {
	c.mu.Lock()
	if !c.tokenFree() || ctx != nil && ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	c.holdToken()
	after, _ := c.writeLoop(ctx, true)
	c.mu.Unlock()
	c.finish(after&^reportClose, nil)
}

// flushTo returns once every byte up to mark was written, by this call or
// by the goroutine already writing. ctx bounds the wait and the writes.
// keepRest says what a write cut by ctx leaves: the rest of its frame for
// the next writer (true), or a failed connection (false). c.mu held; let
// go while it waits for the other writer.
func (c *Conn) flushTo(ctx context.Context, mark int64, keepRest bool) (afterUnlock, error) {
	var after afterUnlock
	for c.written < mark {
		switch {
		case c.writeErr != nil || c.tokenFree() && len(c.rest) == 0 && len(c.eng.Outgoing()) == 0:
			// The transport failed, or the engine dropped the bytes.
			return after | reportClose, nil
		case c.tokenFree():
			c.holdToken()
			t, err := c.writeLoop(ctx, keepRest)
			after |= t
			if err != nil || t&closeTransport != 0 {
				return after, err
			}
			continue
		}
		if c.writeIdle == nil {
			c.writeIdle = make(chan struct{})
		}
		ch := c.writeIdle
		c.mu.Unlock()
		err := await(ctx, ch)
		c.mu.Lock()
		if err != nil {
			return after, err
		}
	}
	return after, nil
}

// writeLoop writes until no output is left, then gives the token back and
// says whether the transport is to end. The token is taken on entry. c.mu
// held; let go during every write.
func (c *Conn) writeLoop(ctx context.Context, keepRest bool) (afterUnlock, error) {
	gen := c.writeGen
	for {
		w, reuse := c.rest, false
		c.rest = nil
		if w == nil && c.writeErr == nil {
			w, reuse = c.takeOutput()
		}
		if len(w) == 0 || ctx != nil && ctx.Err() != nil {
			c.rest = w // a done ctx writes nothing more
			c.releaseWrite()
			var after afterUnlock
			if c.eng.ShouldCloseTransport() && !c.shutStarted && len(c.rest) == 0 && len(c.eng.Outgoing()) == 0 {
				c.shutStarted = true
				after = shutTransport
			}
			c.releaseIfDone()
			if len(w) > 0 { // stopped by ctx with bytes left
				return after, ctx.Err()
			}
			return after, nil
		}
		if c.timerAt.IsZero() || c.rearm {
			// Output that began to wait started the engine's write
			// watchdog, whose first look may come before the timer (set
			// for a keepalive ping, when the connection was idle).
			c.armTimer()
		}
		c.mu.Unlock()
		var stop func() bool
		if ctx != nil && ctx.Done() != nil {
			stop = c.interruptWriteWhenDone(ctx, gen)
		}
		n, told, err := c.writeOut(w)
		fired := stop != nil && !stop()
		c.mu.Lock()
		c.written += int64(n)
		c.wrote(n - told)
		if fired {
			// The deadline may be set, or about to be: a new generation
			// makes a late callback a no-op, then it is cleared.
			c.writeGen++
			gen = c.writeGen
			c.nc.SetWriteDeadline(time.Time{})
		}
		if err != nil {
			cause := err
			if fired {
				cause = ctx.Err()
				if keepRest && !c.closed {
					c.rest = w[n:]
					c.releaseWrite()
					return 0, cause
				}
			}
			c.writeErr = err
			c.releaseWrite()
			// The cause is told, not wrapped: only this call reports its
			// ctx's error, the others a close error that is not a timeout.
			c.eng.Abort(c.clock.Now(), fmt.Errorf("%w after %d of %d bytes (%v)", ErrWriteCut, n, len(w), cause))
			c.afterEngine()
			if fired {
				return closeTransport, cause
			}
			return closeTransport | reportClose, nil
		}
		c.keepWritten(w, reuse)
	}
}

// takeOutput takes the engine's output for a write, and gives the engine
// the buffer written last for what comes next. reuse says whether w may
// be that buffer once written: not when it is a prepared message's shared
// frame, which is written as it is (no copy, and a parked member holds no
// buffer for it) and never written into. c.mu held.
func (c *Conn) takeOutput() (w []byte, reuse bool) {
	w, shared := c.eng.TakeOutgoingShared(c.wbuf)
	if w != nil {
		c.wbuf = nil
		c.taken += int64(len(w))
	}
	return w, !shared
}

// keepWritten keeps w, written whole, for the engine's next output (see
// takeOutput). c.mu held.
func (c *Conn) keepWritten(w []byte, reuse bool) {
	if reuse && cap(w) <= maxWriteBuf {
		c.wbuf = w[:0]
	}
}

// wrote tells the engine that n bytes of the output taken were written and,
// when that ends a hold of input for the output (Options.OutputHighWater),
// lets reading go on: only then, not after every write. c.mu held.
func (c *Conn) wrote(n int) {
	if !c.outHigh {
		c.eng.Wrote(n)
		return
	}
	held := c.holdInput()
	c.eng.Wrote(n)
	if held && !c.eng.HoldInput(c.clock.Now()) && !c.closed {
		c.signal()
		c.maybeStartBackground()
		c.armTimer() // keepalive starts again
	}
}

// writeChunk is the most one socket write is given: the engine's write
// watchdog sees a peer's progress only between writes, so a large message
// to a slow but live peer must show some within Config.WriteTimeout
// (128 KiB in 20 s: 6.4 KiB/s).
const writeChunk = 128 << 10

// writeOut writes w to the socket in pieces of at most writeChunk, without
// c.mu, and tells the engine of every piece but the last as it goes. It
// returns the bytes written and how many of them it told.
func (c *Conn) writeOut(w []byte) (n, told int, err error) {
	for {
		k := min(len(w)-n, writeChunk)
		m, err := c.nc.Write(w[n : n+k])
		n += m
		if err != nil || n == len(w) {
			return n, told, err
		}
		c.mu.Lock()
		c.eng.Wrote(n - told)
		c.mu.Unlock()
		told = n
	}
}

// interruptWriteWhenDone cuts the write of token generation gen when ctx
// ends. (A function of its own, so that its closure's variables are
// allocated only for a ctx that can end.)
func (c *Conn) interruptWriteWhenDone(ctx context.Context, gen uint64) func() bool {
	return context.AfterFunc(ctx, func() {
		c.mu.Lock()
		if c.writing && c.writeGen == gen {
			c.nc.SetWriteDeadline(pastTime)
		}
		c.mu.Unlock()
	})
}

// tokenFree reports whether the write token may be taken: nobody holds it,
// or only a sweep that has not written yet (see sweep). c.mu held.
func (c *Conn) tokenFree() bool { return !c.writing || c.sweepHolds }

// holdToken takes the write token, from its sweep if one holds it. c.mu
// held.
func (c *Conn) holdToken() {
	c.sweepHolds = false
	c.writing = true
	c.writeGen++
}

// releaseWrite gives the write token back. c.mu held.
func (c *Conn) releaseWrite() {
	c.writing = false
	if c.writeIdle != nil {
		close(c.writeIdle)
		c.writeIdle = nil
	}
}

// abortUnwritten fails the connection if bytes up to mark were not all
// written: a message that could not go out in its call's time cannot be
// taken back, and part of it may be on the wire. c.mu held.
func (c *Conn) abortUnwritten(mark int64, cause error) afterUnlock {
	if c.written >= mark || c.closed {
		return 0
	}
	c.eng.Abort(c.clock.Now(), fmt.Errorf("%w: not written before its call ended (%v)", ErrWriteCut, cause))
	c.afterEngine()
	return closeTransport
}

func (c *Conn) acquireMessage(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.gate.tryAcquire() { // the common case: nobody else is sending
		if err := c.gate.acquire(ctx, c.done); err == errGateEnded {
			return c.closeErr()
		} else if err != nil {
			return err
		}
	}
	if c.hasDeferred.Load() { // sent before this call: they go first
		c.mu.Lock()
		c.appendDeferred()
		c.mu.Unlock()
	}
	return nil
}

func (c *Conn) releaseMessage() {
	c.gate.release()
	c.drainDeferred()
}

// sendFrame queues one frame and writes it. The caller holds the gate.
func (c *Conn) sendFrame(ctx context.Context, op frame.Opcode, p []byte, fin bool, o protocol.SendOptions, keepRest bool) error {
	c.mu.Lock()
	c.lendWriteBuffer(len(p)+frame.MaxHeaderSize, false)
	// Sending moves no engine timer: the time of the last read round will
	// do, and saves a clock read per message.
	after, err := c.flushQueued(ctx, c.eng.SendWith(c.roundAt, op, p, fin, o), keepRest)
	c.mu.Unlock()
	return c.finish(after, err)
}

// flushQueued writes what the engine just queued (err is how queueing
// went) and returns once it is written, as sendFrame says. c.mu held; let
// go while writing or waiting.
func (c *Conn) flushQueued(ctx context.Context, err error, keepRest bool) (afterUnlock, error) {
	if err != nil {
		if c.closed {
			return reportClose, nil
		}
		return 0, err
	}
	mark := c.mark()
	after, err := c.flushTo(ctx, mark, keepRest)
	if err != nil && !keepRest && ctx.Err() != nil {
		after |= c.abortUnwritten(mark, ctx.Err())
	}
	return after, err
}

// Write sends one whole message (op is frame.OpText or frame.OpBinary) and
// returns once it is written to the socket. ctx bounds the call, the wait
// for an earlier message included. A message that ctx cuts short fails the
// connection (part of a frame may be on the wire): this call returns
// ctx.Err(), every other call the close error.
//
// Write may be called from any goroutine, OnMessage included; concurrent
// messages are serialised whole, never interleaved.
func (c *Conn) Write(ctx context.Context, op frame.Opcode, p []byte) error {
	return c.WriteWith(ctx, op, p, protocol.SendOptions{})
}

// WriteWith is Write with per-message options, such as sending one message
// uncompressed. Like Write, it may be called from any goroutine.
func (c *Conn) WriteWith(ctx context.Context, op frame.Opcode, p []byte, o protocol.SendOptions) error {
	if op != frame.OpText && op != frame.OpBinary {
		return protocol.ErrBadOpcode
	}
	if err := c.acquireMessage(ctx); err != nil {
		return err
	}
	defer c.releaseMessage()
	return c.sendFrame(ctx, op, p, true, o, false)
}

// writerFrame is the most a Writer gathers before sending a fragment.
const writerFrame = 32 << 10

// Writer returns a writer for one message: writes are gathered into
// frames of up to 32 KiB, so a small message goes out as one frame when the
// writer is closed and a large one streams in fragments. Other messages
// wait until it is closed. ctx bounds every write and the Close; a write it
// cuts fails the connection, as with Write. After Close, or once the next
// Writer call replaced it, the writer returns ErrWriterClosed. It allocates
// nothing per message (amortised).
//
// Writer may be called from any goroutine; the returned writer belongs to
// one goroutine at a time.
func (c *Conn) Writer(ctx context.Context, op frame.Opcode) (io.WriteCloser, error) {
	if op != frame.OpText && op != frame.OpBinary {
		return nil, protocol.ErrBadOpcode
	}
	if err := c.acquireMessage(ctx); err != nil {
		return nil, err
	}
	if len(c.writers) == 0 {
		c.writerSlab = min(max(2*c.writerSlab, 4), 64)
		c.writers = make([]messageWriter, c.writerSlab)
	}
	w := &c.writers[0]
	c.writers = c.writers[1:]
	*w = messageWriter{c: c}
	c.msgCtx, c.msgNextOp, c.msgBuf = ctx, op, c.msgBuf[:0]
	c.curWriter.Store(w)
	return w, nil
}

// messageWriter is one message's writer: only its identity. Writers are
// never reused, so a stale one is always told apart from the current one;
// the message's state (context, opcode, gathered bytes) is the Conn's, for
// the current Writer, so the slabs stay small (8 bytes a message).
type messageWriter struct{ c *Conn }

// current reports whether w is the open Writer (Close clears it).
func (w *messageWriter) current() bool { return w.c.curWriter.Load() == w }

func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.current() {
		return 0, ErrWriterClosed
	}
	c := w.c
	n := len(p)
	for len(p) > 0 {
		if len(c.msgBuf) == writerFrame {
			if err := w.flush(false); err != nil {
				return n - len(p), err
			}
		}
		k := min(len(p), writerFrame-len(c.msgBuf))
		c.msgBuf = append(c.msgBuf, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// flush sends what is gathered as one frame.
func (w *messageWriter) flush(fin bool) error {
	c := w.c
	if err := c.sendFrame(c.msgCtx, c.msgNextOp, c.msgBuf, fin, protocol.SendOptions{}, false); err != nil {
		return err
	}
	c.msgNextOp, c.msgBuf = frame.OpContinuation, c.msgBuf[:0]
	return nil
}

// Close sends the end of the message. Closing again returns
// ErrWriterClosed.
func (w *messageWriter) Close() error {
	c := w.c
	if !c.curWriter.CompareAndSwap(w, nil) {
		return ErrWriterClosed
	}
	defer c.releaseMessage()
	err := w.flush(true)
	c.msgCtx = nil // not kept alive by an idle connection
	return err
}

// Ping sends a ping and waits for its pong, returning the round-trip time.
// ctx bounds the call; if it ends first Ping returns ctx.Err() and the
// connection goes on (the ping may still go out). Called inside OnMessage
// the pong cannot be read before the callback returns: Ping then waits
// for ctx, so give it one with a deadline.
//
// Ping may be called from any goroutine.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ch := make(chan time.Duration, 1)
	c.mu.Lock()
	// The payload says which of the engine's pings it is (keepalive's
	// count too); the engine matches the pong, not the payload.
	payload := "wsengine ping " + strconv.FormatUint(c.eng.PingsSent()+1, 10)
	if after, err := c.queuePing([]byte(payload)); after != 0 || err != nil {
		c.mu.Unlock()
		return 0, c.finish(after, err)
	}
	c.pings = append(c.pings, pingWaiter{c.eng.PingsSent(), ch})
	c.needReader++
	c.maybeStartBackground()
	after, err := c.flushTo(ctx, c.mark(), true)
	c.mu.Unlock()
	defer c.forgetPing(ch)
	if err := c.finish(after, err); err != nil {
		return 0, err
	}
	select {
	case rtt := <-ch:
		return rtt, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.done:
		return 0, c.closeErr()
	}
}

// queuePing queues a ping; after the end the call returns the close error.
// c.mu held.
func (c *Conn) queuePing(p []byte) (afterUnlock, error) {
	err := c.eng.Ping(c.clock.Now(), p)
	if err != nil && c.closed {
		return reportClose, nil
	}
	return 0, err
}

// forgetPing ends a Ping call's wait for its pong.
func (c *Conn) forgetPing(ch chan time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.needReader--
	for i, p := range c.pings {
		if p.ch == ch {
			c.pings = append(c.pings[:i], c.pings[i+1:]...)
			return
		}
	}
}

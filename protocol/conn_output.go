package protocol

import (
	"math"
	"time"

	"github.com/wsengine/ws/frame"
)

// The output bound. The engine's output holds two kinds of bytes: what the
// application sent, which its driver bounds by how it accepts sends (a
// blocking Write waits for the transport; an asynchronous queue has a
// limit), and what the engine writes by itself in answer to input. The
// second kind is bounded whatever the peer sends, so that a peer that never
// reads cannot make the engine hold more and more of it:
//
//   - Every ping is answered while few pongs wait, and at most
//     maxPendingPongs of them (2 KiB) wait in Outgoing. "If an endpoint
//     receives a Ping frame and has not yet sent Pong frame(s) in response
//     to previous Ping frame(s), the endpoint MAY elect to send a Pong frame
//     for only the most recently processed Ping frame" (RFC 6455 §5.5.3):
//     once that many pongs were appended since Outgoing was last empty, a
//     ping whose pong would join the last one, still in Outgoing (not
//     taken, not partly written), replaces it. Peers and conformance suites
//     expect a pong for each of a few pings sent together (Autobahn 2.10);
//     a ping flood, however long it lasts, costs at most 16 pongs of 131
//     bytes.
//   - At most one close frame and one keepalive ping are ever pending.
//
// A peer that stops reading altogether is a failure of the peer, not of
// the application: the write watchdog ends the connection when output waits
// and none of it is written for Config.WriteTimeout. The driver reports what
// it wrote (Advance, or Wrote for output taken with TakeOutgoing); the engine
// looks at that progress on its timer, so no clock is read per write.

type outputState struct {
	// The last pong, in out[pongAt:pongAt+pongLen], has not been taken or
	// written (pongLen 0: none): once pongs reaches maxPendingPongs, the
	// next ping's pong replaces it. (int32: the engine's struct stays in
	// its allocation size class.)
	pongAt, pongLen int32
	// inFlight counts bytes TakeOutgoing handed out and Wrote has not
	// reported written yet; written counts every byte reported written.
	inFlight int
	written  uint64
	// The watchdog. waiting says output waits: set as output is appended
	// to none, cleared when a report of progress leaves none. nextLook is
	// the watchdog's next look: at first the engine's time when output
	// began to wait (possibly earlier than the true time: a driver may pass
	// the last time it read) plus a quarter of WriteTimeout. Once
	// watching, mark is the count of bytes written at the first look that
	// saw it, and stalled how long the looks since have found no progress,
	// counted a quarter of WriteTimeout a look (a look made late counts no
	// more, so the count never runs ahead of the truth). Per message that
	// is two flags and a time; the rest is read only on a look.
	waiting, watching bool
	// held says input is held for the output (HoldInput): set when unsent
	// output passed high, cleared when it is down to a quarter of it.
	held bool
	// cut says Outgoing may begin inside a frame partly written (Advance
	// wrote some of it, and compacting the buffer since moved its rest to
	// the front): Drop keeps it then.
	cut bool
	// pongs counts the pongs appended since Outgoing was last empty or
	// taken: at least as many as wait in it (saturating).
	pongs uint8
	// shared says out is a prepared message's frame, which other
	// connections send too (SendPrepared on an engine with no buffer of
	// its own): nothing is written into it, and it is copied into a buffer
	// of the engine's before anything is appended (own). Never handed out
	// as a buffer (SwapWriteBuffer, TakeOutgoing).
	shared bool
	// hsLeft counts the bytes of the opening handshake (the 101, or a
	// client's request) at the front of Outgoing, not written yet: Drop
	// keeps them, as the peer must read them before any frame.
	hsLeft int32
	// high is the output high water mark (SetOutputHighWater); 0: none.
	// (int32, beside hsLeft: the engine's size class.)
	high     int32
	stalled  time.Duration
	nextLook instant
	mark     uint64
}

// OutputShared reports whether Outgoing is a prepared message's frame
// shared with other connections (see SendPrepared): a driver that pools
// write buffers lends one (SwapWriteBuffer) before more output is
// appended, else the engine allocates one then.
func (c *Conn) OutputShared() bool { return c.output.shared }

// unsent returns the bytes of output not yet written: in Outgoing and
// taken but not reported written.
func (c *Conn) unsent() int { return len(c.out) - c.outStart + c.output.inFlight }

// UnsentOutput returns the bytes of output not yet written: those in
// Outgoing and those taken with TakeOutgoing and not reported with Wrote.
func (c *Conn) UnsentOutput() int { return c.unsent() }

// Wrote reports that n bytes of output taken with TakeOutgoing reached the
// transport: the write watchdog counts them as the peer's progress. A
// driver that takes output calls it after each write (a long write in
// pieces, so that a slow but live peer shows progress within
// WriteTimeout).
func (c *Conn) Wrote(n int) {
	o := &c.output
	n = max(min(n, o.inFlight), 0)
	o.inFlight -= n
	o.written += uint64(n)
	c.settleOutput()
}

// settleOutput stops the watchdog once no output waits (after a report of
// progress, a look, or output dropped), and after the end the close
// timeout that bounded the output's writing (finish), unless it bounds a
// linger now.
func (c *Conn) settleOutput() {
	if c.unsent() == 0 {
		c.output.waiting, c.output.watching = false, false
		if c.state == StateClosed && !c.closer.lingering {
			c.timers[timerClose] = 0
		}
	}
}

// notePending is called before output is appended: if none was waiting,
// the watchdog's clock starts now.
func (c *Conn) notePending() {
	if o := &c.output; !o.waiting {
		o.waiting, o.nextLook = true, c.now.add(c.cfg.WriteTimeoutOrDefault()/4)
	}
}

// WriteTimeout is the write watchdog's timeout in force (Config.WriteTimeout;
// 0: off). Its first look at output that begins to wait comes no sooner
// than a quarter of it after the time given to the command that queued the
// output, so a driver that keeps its own timer can tell, without asking for
// Deadline on every message, whether the timer fires by then.
func (c *Conn) WriteTimeout() time.Duration { return c.cfg.WriteTimeoutOrDefault() }

// writeLook returns when the watchdog looks next at the output: never
// while nothing waits; else a quarter of WriteTimeout after output began to
// wait, and then every quarter. The first look only notes the progress so
// far (the time output began to wait may be earlier than the truth); the
// looks after it that find no progress add up, and at WriteTimeout end the
// connection. So a stall is noticed between WriteTimeout and 1.5 times it
// after it began (looks made on time).
func (c *Conn) writeLook() instant {
	o := &c.output
	if !o.waiting || c.state == StateClosed {
		return 0
	}
	if c.cfg.WriteTimeoutOrDefault() <= 0 {
		return 0
	}
	return o.nextLook
}

// checkWriteProgress is the watchdog's look, at HandleTimeout.
func (c *Conn) checkWriteProgress() {
	o := &c.output
	d := c.cfg.WriteTimeoutOrDefault()
	switch {
	case c.unsent() == 0:
		c.settleOutput()
		return
	case !o.watching || o.written != o.mark:
		o.watching, o.stalled, o.mark = true, 0, o.written
	default:
		if o.stalled += d / 4; o.stalled >= d {
			// Nothing can reach a peer that takes no bytes: the output
			// goes, without a close frame.
			c.Abort(c.timeOf(c.now), ErrWriteTimeout)
			return
		}
	}
	o.nextLook = c.now.add(d / 4)
}

// SetOutputHighWater sets the output high water mark that HoldInput
// applies, in bytes of unsent output; 0, the default, sets none.
func (c *Conn) SetOutputHighWater(high int) {
	c.output.high = int32(min(max(high, 0), math.MaxInt32))
}

// HoldInput applies the output high water mark at now and reports whether
// the driver should leave the transport unread. Input is held once unsent
// output passes the mark (SetOutputHighWater), until it is down to a
// quarter of it: a peer that sends faster than it reads the replies is then
// slowed by TCP's flow control, rather than making them pile up until the
// send limit drops it. It is held too while PauseReading is in force. A
// hold for the output stops keepalive as a pause does (the peer's pong
// would sit unread), and its end counts as hearing from the peer. A
// connection that is not open is never held: the peer's close frame must
// come in.
//
// Next: after writing output (Advance or Wrote), call it again; read when
// it reports false.
func (c *Conn) HoldInput(now time.Time) bool {
	if o := &c.output; o.high > 0 {
		switch u := c.unsent(); {
		case !o.held && u > int(o.high):
			c.tick(now)
			o.held = true
			c.updateTimers()
		case o.held && u <= int(o.high)/4:
			c.tick(now)
			o.held = false
			c.recv.resumedAt = c.now
			c.updateTimers()
		}
	}
	return (c.recv.paused || c.output.held) && c.state == StateOpen
}

// maxPendingPongs is how many pongs may be appended while Outgoing does
// not empty before a ping's pong replaces the last one still waiting.
const maxPendingPongs = 16

// queuePong queues the pong for a ping received: after maxPendingPongs
// since Outgoing was last empty, in place of the last pong if that is
// still wholly in Outgoing (§5.5.3, above).
func (c *Conn) queuePong(payload []byte) error {
	o := &c.output
	if o.pongLen > 0 && o.pongs >= maxPendingPongs {
		end := o.pongAt + o.pongLen
		c.out = append(c.out[:o.pongAt], c.out[end:]...)
		o.pongLen = 0
	} else if o.pongs < math.MaxUint8 {
		o.pongs++
	}
	start := len(c.appendOut())
	if err := c.writeFrame(frame.OpPong, 0, true, payload); err != nil {
		return err
	}
	if start <= math.MaxInt32-frame.MaxHeaderSize-frame.MaxControlPayload { // else not replaced: the output is over 2 GiB
		o.pongAt, o.pongLen = int32(start), int32(len(c.out)-start)
	}
	return nil
}

// AdmitSend applies a driver's bound on unsent output to a message of n
// bytes about to be sent: the engine's unsent output plus held, what the
// driver keeps outside the engine, may not pass limit. A message larger
// than the limit still goes when nothing waits: the limit bounds what
// piles up behind a peer, not one message's size. Past it the message is
// refused with ErrSendQueueFull when refuse is set; otherwise the
// connection is dropped as a slow consumer (Drop with 1008, "send queue
// full", cause ErrSendQueueFull) and ErrSendQueueFull returned.
func (c *Conn) AdmitSend(now time.Time, n, held, limit int64, refuse bool) error {
	if queued := int64(c.unsent()) + held; queued == 0 || queued+n <= limit {
		return nil
	}
	if !refuse {
		c.Drop(now, frame.ClosePolicyViolation, "send queue full", ErrSendQueueFull)
	}
	return ErrSendQueueFull
}

// Drop fails the connection as Fail does, but first discards the output no
// write has begun on: for a peer that does not keep up (a slow consumer),
// whose queued messages are not worth sending and would only delay the
// close frame. Output partly written stays (a frame cut in two would break
// the stream), and so do output already taken (TakeOutgoing) and the
// opening handshake's answer not written yet. The close code of the
// connection is code, unless a close frame was received first; the close
// status wraps cause (nil for none).
//
// Next: write Outgoing, then close the transport.
func (c *Conn) Drop(now time.Time, code frame.CloseCode, reason string, cause error) error {
	c.tick(now)
	if _, err := frame.AppendClose(nil, code, reason); err != nil {
		return err
	}
	if c.state == StateClosed {
		return nil
	}
	if !c.output.cut {
		if c.output.hsLeft > 0 { // never behind a shared frame
			c.out = c.out[:c.output.hsLeft]
		} else {
			c.emptyOut()
		}
		c.output.pongLen, c.output.pongs = 0, 0 // a pong comes after the handshake's answer
		c.settleOutput()
	}
	c.fail(code, reason, cause)
	return nil
}

// SwapWriteBuffer lets a driver pool output buffers. It returns the buffer
// the driver owns after the call, emptied: the engine's old one when it
// takes spare, spare itself when it does not, nil when there is none.
//   - No output waits: spare becomes the buffer the next output is
//     appended to.
//   - The output is a shared prepared frame (OutputShared): it is copied
//     into spare, which becomes the engine's buffer (nothing is returned).
//   - Other output waits: spare is taken only if it is larger than the
//     buffer the output waits in, which then moves into it; so a driver
//     that lets output pile up (coalescing) grows the buffer from its pool
//     rather than the allocator.
//
// A driver that holds no buffer for an idle connection takes it with
// SwapWriteBuffer(nil) and gives one back before the next send (or lets
// SendPrepared share a frame). Views returned by Outgoing before the call
// are stale.
func (c *Conn) SwapWriteBuffer(spare []byte) []byte {
	old := c.out[:0]
	switch {
	case c.outStart == len(c.out):
		c.out, c.outStart = spare[:0], 0
		return old
	case c.output.shared: // another's frame: copied into any spare, never handed out
		if spare == nil {
			return nil
		}
		old = nil
	case cap(spare) <= cap(c.out):
		return spare
	}
	c.moveOut(spare)
	return old
}

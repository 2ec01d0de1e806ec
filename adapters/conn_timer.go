package adapters

import (
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// The connection's deadlines, in the order onTimer acts on them. The
// engine's own (keepalive, the open and close timeouts, the write
// watchdog, the linger's bound) are one entry: protocol.Conn.Deadline, acted on by
// HandleTimeout. The others are the adapter's, each computed from the state
// it belongs to, zero when that state does not need it. One timer, created
// once and reset, fires at the earliest; it is stopped when the socket
// closes.
const (
	dlEngine = iota // protocol's timers
	dlGrace         // no application call has read for readGrace: the background reader takes over
	dlPark          // a socket read has waited parkAfter: it is parked (its buffer released)
	numDeadlines
)

// deadlines returns the table. c.mu held.
func (c *Conn) deadlines() (d [numDeadlines]time.Time) {
	d[dlEngine] = c.eng.Deadline()
	if c.reader == ownerNone && !c.closed && c.onMessage == nil {
		d[dlGrace] = c.releasedAt.Add(readGrace)
	}
	if c.phase == reading && !c.closed {
		d[dlPark] = c.roundAt.Add(parkAfter) // when the read began
	}
	return d
}

// armTimer makes the timer fire no later than the earliest deadline. c.mu
// held. A timer set for an earlier time is kept: keepalive moves the
// engine's deadline later with every byte received, and when the timer
// fires early onTimer finds nothing due and sets it again.
func (c *Conn) armTimer() {
	if c.sockClosed {
		return
	}
	var at time.Time
	for _, t := range c.deadlines() {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if at.IsZero() || !c.timerAt.IsZero() && !at.Before(c.timerAt) {
		return
	}
	c.timerAt = at
	d := max(at.Sub(c.clock.Now()), 0)
	if c.timer == nil {
		c.timer = c.clock.AfterFunc(d, c.onTimer)
	} else {
		c.timer.Reset(d)
	}
}

// onTimer acts on every deadline that has passed, in the table's order.
func (c *Conn) onTimer() {
	c.mu.Lock()
	c.timerAt = time.Time{}
	if c.sockClosed {
		c.mu.Unlock()
		return
	}
	now := c.clock.Now()
	due := c.deadlines()
	passed := func(i int) bool { return !due[i].IsZero() && !now.Before(due[i]) }
	// A connection whose output buffers are pooled frames what the engine
	// sends at its deadline (a keepalive ping) into a pooled buffer, given
	// back when nothing came of it, or once it is written, as an
	// asynchronous send's is.
	lent := c.outPooled && passed(dlEngine)
	if lent {
		c.lendWriteBuffer(frame.MaxHeaderSize+frame.MaxControlPayload, false)
	}
	c.eng.HandleTimeout(now) // before the deadline it does nothing
	pending := c.afterEngine()
	if lent && !pending {
		c.poolWriteBuffers()
	}
	c.syncPause()
	// Output the engine's timeouts made (a keepalive ping) needs a reader
	// for its answer as much as the end of the grace does.
	if c.reader == ownerNone && (pending || passed(dlGrace)) {
		c.startBackground(pending, now)
		if c.reader == ownerNone {
			c.releasedAt = now // paused: look again after another grace
		}
	}
	if passed(dlPark) && c.phase == reading && !c.closed {
		c.phase = readingToPark
		c.interruptRead()
	}
	// After the end the engine's deadline bounds the output not written
	// and a linger without the peer's EOF: at it the socket closes, under a
	// blocked write too.
	closeNow := c.closed && (c.eng.Lingering() || c.eng.UnsentOutput() > 0) &&
		c.eng.EndTransport(now, true) == protocol.CloseTransportNow
	c.armTimer()
	c.mu.Unlock()
	if closeNow {
		c.closeSocket()
	}
	if pending {
		c.flushBackground(nil)
		if lent {
			c.mu.Lock()
			c.poolWriteBuffers()
			c.mu.Unlock()
		}
	}
}

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

// A timeout is a deadline: due once after has passed since from; the zero
// from is none. It is kept as the two, not their sum: armTimer runs on
// every read's path, and comparing a deadline with the time the timer is
// set for is then a subtraction of times, cheaper than their addition;
// the sum is made only when the timer moves.
type timeout struct {
	from  time.Time
	after time.Duration
}

func (d timeout) set() bool { return !d.from.IsZero() }

// before reports whether d is due before t.
func (d timeout) before(t time.Time) bool { return d.set() && t.Sub(d.from) > d.after }

// passed reports whether d is due at now.
func (d timeout) passed(now time.Time) bool { return d.set() && now.Sub(d.from) >= d.after }

func (d timeout) at() time.Time { return d.from.Add(d.after) }

// deadlines returns the table. c.mu held.
func (c *Conn) deadlines() (d [numDeadlines]timeout) {
	d[dlEngine] = timeout{from: c.eng.Deadline()}
	d[dlGrace] = c.graceDeadline()
	d[dlPark] = c.parkDeadline()
	return d
}

// graceDeadline is the table's grace entry: with no reader, the background
// reader takes over readGrace after an application call last read. c.mu
// held.
func (c *Conn) graceDeadline() timeout {
	if c.reader == ownerNone && !c.closed && c.onMessage == nil {
		return timeout{c.releasedAt, readGrace}
	}
	return timeout{}
}

// parkDeadline is the table's park entry: a read in progress is parked
// parkAfter after it began. c.mu held.
func (c *Conn) parkDeadline() timeout {
	if c.phase == reading && !c.closed {
		return timeout{c.roundAt, parkAfter} // when the read began
	}
	return timeout{}
}

// covered reports whether a step that added deadline d to the table can
// leave the timer as it is, which saves the table on every message's path:
// the timer fires no later than d, and nothing since it was set can have
// moved the engine's deadline earlier (rearm). The other entries only
// moved later (keepalive with every byte received, the grace with every
// application round) or went. What can move the engine's deadline earlier
// in a round comes with an event other than data (a pong to write, a close
// handshake, the end) or a pause or resume; between rounds, the calls that
// can (Close, CloseNow, Resume) set the timer themselves; a write, when the
// timer is far (see timerFar). c.mu held.
func (c *Conn) covered(d timeout) bool {
	return d.set() && !c.rearm && !c.timerAt.IsZero() && !d.before(c.timerAt)
}

// armTimer makes the timer fire no later than the earliest deadline. c.mu
// held. A timer set for an earlier time is kept: keepalive moves the
// engine's deadline later with every byte received, and when the timer
// fires early onTimer finds nothing due and sets it again.
func (c *Conn) armTimer() {
	if c.sockClosed {
		return
	}
	if due := c.deadlines(); c.timerAt.IsZero() || beforeAny(due, c.timerAt) {
		c.setTimer(due)
	}
	c.rearm = c.timerFar()
}

// setTimer sets the timer for the earliest of due, if any. c.mu held.
func (c *Conn) setTimer(due [numDeadlines]timeout) {
	var at time.Time
	for _, d := range due {
		if !d.set() {
			continue
		}
		if t := d.at(); at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if at.IsZero() {
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

// timerFar reports whether the timer may fire more than a quarter of
// WriteTimeout after a write that begins now, when the engine's write
// watchdog wants its first look: it fires more than a quarter after the last
// read round, which is no later than now. (The engine counts the quarter from
// the time given to the command that queued the output, which may be that
// round's, earlier than the write: a first look that much late still ends
// a stall within 1.25 times WriteTimeout, inside the watchdog's 1.5.) A
// far timer is the writer's reason to set it (rearm): on an idle
// connection, whose timer waits for the next keepalive ping; a busy one's
// fires within a park (1 s) or the grace. c.mu held.
func (c *Conn) timerFar() bool {
	wt := c.eng.WriteTimeout()
	return wt > 0 && !c.timerAt.IsZero() && timeout{c.roundAt, wt / 4}.before(c.timerAt)
}

// beforeAny reports whether one of due is due before t.
func beforeAny(due [numDeadlines]timeout, t time.Time) bool {
	for _, d := range due {
		if d.before(t) {
			return true
		}
	}
	return false
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
	passed := func(i int) bool { return due[i].passed(now) }
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

package protocol

import (
	"math"
	"time"
)

// The timers, in the order HandleTimeout walks them.
const (
	timerOpen  = iota // opening handshake
	timerClose        // close handshake, or a client's wait for the server to close
	timerPong         // the oldest keepalive ping's answer
	timerPing         // the next keepalive ping
	numTimers
)

// Beside them, computed rather than stored: the write watchdog's next look
// (writeLook, conn_output.go), between the pong and the ping timers in the
// walk, so a connection that is failing sends no keepalive ping.

// Deadline returns when HandleTimeout must be called next; the zero time
// means no timer is set.
func (c *Conn) Deadline() time.Time {
	d := c.writeLook()
	for _, t := range c.timers {
		if t != 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if d == 0 {
		return time.Time{}
	}
	return c.timeOf(d)
}

// HandleTimeout acts on every timer that has expired at now: it fails the
// opening handshake, gives up the close handshake (1006, ErrCloseTimeout),
// fails the connection with 1011 on a missing pong (ErrKeepaliveTimeout),
// ends it when the peer has taken none of our output for WriteTimeout
// (1006, ErrWriteTimeout), or sends a keepalive ping. Calls before the
// deadline do nothing.
//
// Next: drain the outputs (see Conn).
func (c *Conn) HandleTimeout(now time.Time) {
	c.tick(now)
	expired := func(i int) bool { return c.timers[i] != 0 && c.now >= c.timers[i] }
	if expired(timerOpen) {
		c.timers[timerOpen] = 0
		c.finish(ErrOpenTimeout)
	}
	if expired(timerClose) {
		c.timers[timerClose] = 0
		if c.state == StateClosed {
			// The end's unwritten output, or the linger, had its close
			// timeout (finish, EndTransport).
			c.closer.expired = true
		} else if c.closer.sent && c.closer.recv {
			// The handshake is done; the server did not close the transport.
			c.finish(nil)
		} else {
			c.finish(ErrCloseTimeout)
		}
	}
	if expired(timerPong) {
		c.fail(1011, "keepalive ping timeout", ErrKeepaliveTimeout)
	}
	if w := c.writeLook(); w != 0 && c.now >= w {
		c.checkWriteProgress()
	}
	if expired(timerPing) {
		c.sendKeepalive()
	}
	c.updateTimers()
}

// updateTimers recomputes the keepalive timers from the state; the open
// and close timers are set where their clocks start.
func (c *Conn) updateTimers() {
	c.timers[timerPing], c.timers[timerPong] = 0, 0
	if c.state != StateOpen || c.closer.sent || c.recv.paused || c.output.held {
		// While reading is paused or held, a pong could not be read: no
		// keepalive.
		return
	}
	// A pause ended at resumedAt counts as hearing from the peer then.
	sent, waiting := c.alive.waitingKeepalive()
	switch {
	case waiting && c.cfg.PongTimeoutOrDefault() > 0:
		c.timers[timerPong] = max(sent, c.recv.resumedAt).add(c.cfg.PongTimeoutOrDefault())
	case !waiting && c.cfg.PingIntervalOrDefault() > 0:
		// Pings go after a quiet interval, not on a fixed beat: any byte
		// received already proves the peer is there, so a busy connection
		// sends no pings at all.
		c.timers[timerPing] = max(c.recv.lastRecv, c.recv.resumedAt).add(c.cfg.PingIntervalOrDefault())
	}
}

// instant is a time as nanoseconds since the connection's epoch. As a
// deadline, zero means none: every deadline is a positive duration after
// an instant, and instants are never negative (times before the epoch are
// taken as the epoch, see Conn).
type instant int64

// add returns i+d, saturating: a timeout of centuries is a deadline never
// reached, not one in the past.
func (i instant) add(d time.Duration) instant {
	if s := i + instant(d); s >= i {
		return s
	}
	return math.MaxInt64
}

// timeOf returns an instant as a time.
func (c *Conn) timeOf(i instant) time.Time { return c.epoch.Add(time.Duration(i)) }

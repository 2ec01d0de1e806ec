package protocol

import "time"

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
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
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
	expired := func(i int) bool { return !c.timers[i].IsZero() && !c.now.Before(c.timers[i]) }
	if expired(timerOpen) {
		c.timers[timerOpen] = time.Time{}
		c.finish(ErrOpenTimeout)
	}
	if expired(timerClose) {
		c.timers[timerClose] = time.Time{}
		if c.closer.sent && c.closer.recv {
			// The handshake is done; the server did not close the transport.
			c.finish(nil)
		} else {
			c.finish(ErrCloseTimeout)
		}
	}
	if expired(timerPong) {
		c.fail(1011, "keepalive ping timeout", ErrKeepaliveTimeout)
	}
	if w := c.writeLook(); !w.IsZero() && !c.now.Before(w) {
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
	c.timers[timerPing], c.timers[timerPong] = time.Time{}, time.Time{}
	if c.state != StateOpen || c.closer.sent || c.recv.paused {
		// While reading is paused, a pong could not be read: no keepalive.
		return
	}
	// A pause ended at resumedAt counts as hearing from the peer then.
	sent := c.alive.oldestKeepalive()
	switch {
	case !sent.IsZero() && c.cfg.PongTimeoutOrDefault() > 0:
		c.timers[timerPong] = later(sent, c.recv.resumedAt).Add(c.cfg.PongTimeoutOrDefault())
	case sent.IsZero() && c.cfg.PingIntervalOrDefault() > 0:
		// Pings go after a quiet interval, not on a fixed beat: any byte
		// received already proves the peer is there, so a busy connection
		// sends no pings at all.
		c.timers[timerPing] = later(c.recv.lastRecv, c.recv.resumedAt).Add(c.cfg.PingIntervalOrDefault())
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

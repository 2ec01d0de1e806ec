package adapters

import "time"

// The connection's one timer fires at the earliest of: the engine's
// Deadline (keepalive, close and open timeouts), the end of the read grace
// (start the background reader), the end of a blocked write's grace once
// the connection ended, and the end of the wait for the peer's EOF. It is
// created once and reset; it is stopped when the socket closes.

// armTimer makes the timer fire no later than the earliest of its
// deadlines. c.mu held. A timer set for an earlier time is kept: keepalive
// moves the deadline later with every byte received, and when the timer
// fires early onTimer does nothing yet and sets it again.
func (c *Conn) armTimer() {
	if c.sockClosed {
		return
	}
	at := c.eng.Deadline()
	if c.reader == ownerNone && !c.closed && c.onMessage == nil {
		at = earliest(at, c.releasedAt.Add(readGrace))
	}
	at = earliest(at, c.killAt)
	at = earliest(at, c.lingerEnd)
	if c.inRead && !c.parkedRead && !c.parkReq && !c.closed {
		at = earliest(at, c.readStart.Add(parkAfter))
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

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	c.timerAt = time.Time{}
	if c.sockClosed {
		c.mu.Unlock()
		return
	}
	now := c.clock.Now()
	c.eng.HandleTimeout(now)
	pending := c.afterEngine()
	c.syncPause()
	if c.reader == ownerNone && (pending || now.Sub(c.releasedAt) >= readGrace) {
		c.startBackground(pending, now)
		if c.reader == ownerNone {
			c.releasedAt = now // paused: look again after another grace
		}
	}
	if c.inRead && !c.parkedRead && !c.parkReq && !c.closed && now.Sub(c.readStart) >= parkAfter {
		// Idle for a while: park the read (see parkAfter).
		c.parkReq = true
		c.interruptRead()
	}
	closeNow := !c.killAt.IsZero() && !now.Before(c.killAt) || !c.lingerEnd.IsZero() && !now.Before(c.lingerEnd)
	c.armTimer()
	c.mu.Unlock()
	if closeNow {
		c.closeSocket()
	}
	if pending {
		c.flushBackground(nil)
	}
}

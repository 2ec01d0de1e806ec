package adapters

import "time"

// The OnPing and OnPong hooks run on one goroutine of the connection's, one
// call at a time, started when a ping or pong comes and ended when none is
// left: a slow hook stalls neither reading nor keepalive, and a peer that
// floods pings costs two payloads (at most 125 bytes each), not a goroutine
// per ping. While a call runs, the pings (and the pongs) that come are
// coalesced: the next call sees the latest.
type hookState struct {
	running    bool
	ping, pong []byte // the latest payload not yet handed to its hook
	pingDue    bool
	pongDue    bool
	rtt        time.Duration
}

// queueHook records a ping's or pong's payload for its hook and starts the
// hooks' goroutine if it is not running. c.mu held.
func (c *Conn) queueHook(ping bool, payload []byte, rtt time.Duration) {
	if c.hooks == nil { // made at the first ping or pong: most connections have none
		c.hooks = new(hookState)
	}
	h := c.hooks
	if ping {
		h.ping, h.pingDue = append(h.ping[:0], payload...), true
	} else {
		h.pong, h.pongDue, h.rtt = append(h.pong[:0], payload...), true, rtt
	}
	if !h.running {
		h.running = true
		go c.runHooks()
	}
}

// runHooks calls the hooks until no call is due.
func (c *Conn) runHooks() {
	c.mu.Lock()
	for {
		h := c.hooks
		switch {
		case h.pingDue:
			p := append([]byte(nil), h.ping...) // the hook's to keep
			h.pingDue = false
			c.mu.Unlock()
			c.onPing(c, p)
		case h.pongDue:
			p, rtt := append([]byte(nil), h.pong...), h.rtt
			h.pongDue = false
			c.mu.Unlock()
			c.onPong(c, p, rtt)
		default:
			h.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
	}
}

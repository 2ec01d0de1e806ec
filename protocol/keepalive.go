package protocol

import (
	"encoding/binary"
	"time"

	"github.com/wsengine/ws/frame"
)

// maxPings bounds the pings remembered while waiting for pongs.
const maxPings = 8

type ping struct {
	payload   string // an application ping's; a keepalive ping's is num
	sentAt    instant
	num       uint64 // its number: the count of pings sent with it
	keepalive bool
}

// answers reports whether a pong with payload answers p.
func (p *ping) answers(payload []byte) bool {
	if p.keepalive {
		return len(payload) == 8 && binary.BigEndian.Uint64(payload) == p.num
	}
	return string(payload) == p.payload
}

// keepalive remembers the pings this side sent, oldest first, and the
// latency of the last one answered.
type keepalive struct {
	pings   []ping
	sent    uint64 // pings sent, keepalive and application
	latency time.Duration
}

func (k *keepalive) record(payload string, now instant, isKeepalive bool) {
	if len(k.pings) == maxPings {
		k.pings = append(k.pings[:0], k.pings[1:]...)
	}
	k.sent++
	k.pings = append(k.pings, ping{payload, now, k.sent, isKeepalive})
}

// acknowledge matches a pong with the pings sent: the one with the same
// payload is answered, and so is every earlier one ("a Pong frame sent in
// response to a Ping frame must have identical Application data"; a peer
// that skipped some pings answered the latest). It returns the latency and
// the ping's number, or zeros for an unsolicited pong, which is otherwise
// ignored.
func (k *keepalive) acknowledge(payload []byte, now instant) (time.Duration, uint64) {
	for i, p := range k.pings {
		if p.answers(payload) {
			k.latency = max(time.Duration(now-p.sentAt), 1)
			k.pings = append(k.pings[:0], k.pings[i+1:]...)
			return k.latency, p.num
		}
	}
	return 0, 0
}

// oldestKeepalive returns when the oldest unanswered keepalive ping was
// sent, if one is unanswered.
func (k *keepalive) oldestKeepalive() (instant, bool) {
	for _, p := range k.pings {
		if p.keepalive {
			return p.sentAt, true
		}
	}
	return 0, false
}

// Latency returns the round-trip time of the last ping (keepalive or
// application) answered by a pong, or zero if none was.
func (c *Conn) Latency() time.Duration { return c.alive.latency }

// PingsSent returns how many pings this side has queued, keepalive pings
// included: after Ping, the number of the ping it queued, which a pong's
// EventPong reports in Answered once that ping (or a later one) is
// answered. A driver waiting for a ping's answer compares numbers, and
// never matches payloads again.
func (c *Conn) PingsSent() uint64 { return c.alive.sent }

// sendKeepalive sends a ping with a payload no other keepalive ping of
// this connection has: its number (PingsSent once it is recorded).
func (c *Conn) sendKeepalive() {
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], c.alive.sent+1)
	if err := c.writeFrame(frame.OpPing, 0, true, p[:]); err != nil {
		c.failInternal(err)
		return
	}
	c.alive.record("", c.now, true) // its payload is its number: no string kept
}

// AwaitingPong reports that a ping this side sent (keepalive or
// application) is not answered yet. A driver that reads the transport only
// when its application asks should read now: the pong's timer is running.
func (c *Conn) AwaitingPong() bool { return len(c.alive.pings) > 0 && c.state != StateClosed }

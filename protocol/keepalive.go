package protocol

import (
	"encoding/binary"
	"time"

	"github.com/wsengine/ws/frame"
)

// maxPings bounds the application pings remembered while waiting for
// pongs.
const maxPings = 8

// ping is an application ping waiting for its pong.
type ping struct {
	payload string
	sentAt  instant
	num     uint64 // its number: the count of pings sent with it
}

// keepalive remembers the pings this side sent and the latency of the last
// one answered. At most one keepalive ping waits at a time (updateTimers
// sets no ping timer while one does), so it has a slot of its own: a
// connection that only ever sends keepalive pings, the steady state of an
// idle one, keeps no list and allocates nothing for them.
type keepalive struct {
	pings   []ping  // application pings, oldest first
	kaNum   uint64  // the waiting keepalive ping's number; 0: none waits
	kaSent  instant // when it was sent
	sent    uint64  // pings sent, keepalive and application
	latency time.Duration
}

func (k *keepalive) recordPing(payload string, now instant) {
	if len(k.pings) == maxPings {
		k.pings = append(k.pings[:0], k.pings[1:]...)
	}
	k.sent++
	k.pings = append(k.pings, ping{payload, now, k.sent})
}

// recordKeepalive records a keepalive ping, whose payload is its number.
func (k *keepalive) recordKeepalive(now instant) {
	k.sent++
	k.kaNum, k.kaSent = k.sent, now
}

// acknowledge matches a pong with the pings sent, oldest first: the one
// with the same payload is answered, and so is every earlier one ("a Pong
// frame sent in response to a Ping frame must have identical Application
// data"; a peer that skipped some pings answered the latest). It returns
// the latency and the ping's number, or zeros for an unsolicited pong,
// which is otherwise ignored.
func (k *keepalive) acknowledge(payload []byte, now instant) (time.Duration, uint64) {
	ka := k.kaNum != 0 && len(payload) == 8 && binary.BigEndian.Uint64(payload) == k.kaNum
	for _, p := range k.pings {
		if ka && k.kaNum < p.num {
			break // the keepalive ping is older and answered
		}
		if string(payload) == p.payload {
			return k.answer(p.sentAt, p.num, now)
		}
	}
	if ka {
		return k.answer(k.kaSent, k.kaNum, now)
	}
	return 0, 0
}

// answer forgets the ping numbered num and every earlier one, and records
// its latency.
func (k *keepalive) answer(sentAt instant, num uint64, now instant) (time.Duration, uint64) {
	n := 0
	for n < len(k.pings) && k.pings[n].num <= num {
		n++
	}
	k.pings = append(k.pings[:0], k.pings[n:]...)
	if k.kaNum <= num {
		k.kaNum = 0
	}
	k.latency = max(time.Duration(now-sentAt), 1)
	return k.latency, num
}

// waitingKeepalive returns when the unanswered keepalive ping was sent, if
// one is unanswered.
func (k *keepalive) waitingKeepalive() (instant, bool) { return k.kaSent, k.kaNum != 0 }

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
	c.alive.recordKeepalive(c.now)
}

// AwaitingPong reports that a ping this side sent (keepalive or
// application) is not answered yet. A driver that reads the transport only
// when its application asks should read now: the pong's timer is running.
func (c *Conn) AwaitingPong() bool {
	return (len(c.alive.pings) > 0 || c.alive.kaNum != 0) && c.state != StateClosed
}

package protocol

import (
	"errors"
	"time"
)

// Inputs for a driver that does not read the transport all the time: one
// that pauses reading while its application is behind (flow control), or
// hands each message to the application before reading on.

// PauseReading tells the engine that the driver stopped reading the
// transport because the application is behind, not because the peer went
// quiet. While reading is paused the engine sends no keepalive ping and runs
// no pong timer: a pong that sits unread in the transport is not the peer's
// fault, and failing the connection with 1011 would blame a healthy peer for
// a slow reader. The close and open timers still run.
//
// Next: call ResumeReading when the driver reads again.
func (c *Conn) PauseReading(now time.Time) {
	c.tick(now)
	c.recv.paused = true
	c.updateTimers()
}

// ResumeReading ends a pause. Keepalive starts again as if the peer had just
// been heard from: the next ping is due PingInterval from now, and a ping
// sent before the pause and still unanswered gets a full PongTimeout from
// now.
func (c *Conn) ResumeReading(now time.Time) {
	c.tick(now)
	if c.recv.paused {
		c.recv.paused = false
		c.recv.resumedAt = c.now
	}
	c.updateTimers()
}

// ReadingPaused reports whether PauseReading is in force.
func (c *Conn) ReadingPaused() bool { return c.recv.paused }

// SetStopAfterMessage makes Receive stop parsing after each complete data
// message, leaving the bytes after it in the engine; InputPending then
// reports them and Receive(now, nil) goes on. A driver that hands every
// message to an application before reading further uses it so that the
// application's reply to a message goes out before whatever the following
// bytes cause: a close frame for a protocol violation, for example, is then
// written after the reply rather than before it (as a peer that reads frame
// by frame would behave).
func (c *Conn) SetStopAfterMessage(on bool) { c.recv.stopAfterMessage = on }

// InputPending reports that Receive stopped with received bytes not yet
// parsed, after a message (see SetStopAfterMessage) or at the bound on
// pending events: drain the outputs, then call Receive(now, nil) before
// reading the transport again.
func (c *Conn) InputPending() bool {
	return c.recv.stopped && c.state != StateClosed && !c.closer.recv
}

// BufferedInput returns how many received bytes the engine holds unparsed:
// the start of a frame the last read cut (a header, or the payload of a
// control frame or of a data frame of up to 16 KiB, which waits whole in
// the receive buffer), or, while InputPending, what follows a message. A
// driver that sizes its reads asks ReadBuffer for its read size less
// these, so that a frame cut by the last read does not double a receive
// buffer that is already as large as it wants.
func (c *Conn) BufferedInput() int { return len(c.recv.in) - c.recv.inPos }

// ErrAborted is the cause of a connection that Abort ended without a cause.
var ErrAborted = errors.New("transport dropped by this side")

// Abort ends the connection at once, without a close frame: the driver
// dropped the transport (an application that asked to close without the
// handshake, or a write cut short in the middle of a frame, after which no
// frame can follow on the wire). Output not yet written is discarded, after
// the end too (a transport that failed then takes no more: EndTransport
// says close). The status is 1006, wrapping cause (ErrAborted when nil).
//
// Next: close the transport.
func (c *Conn) Abort(now time.Time, cause error) {
	c.tick(now)
	c.closer.aborted = true
	c.emptyOut()
	c.output.pongLen, c.output.inFlight, c.output.cut = 0, 0, false
	if c.state == StateClosed {
		return
	}
	if cause == nil {
		cause = ErrAborted
	}
	c.finish(cause)
}

// Release drops the engine's buffers once the connection is closed and the
// driver has written Outgoing and is done with every event's Data, so that
// a closed connection the application still refers to holds no memory
// beyond its status. CloseStatus and the other accessors keep working. It
// does nothing before StateClosed.
func (c *Conn) Release() {
	if c.state != StateClosed {
		return
	}
	c.out, c.outStart, c.output.shared = nil, 0, false
	c.events, c.evHead = nil, 0
	c.recv.in, c.recv.inPos, c.recv.dec = nil, 0, nil
	c.alive.pings = nil
	c.hs = nil
	for _, e := range c.cfg.Extensions {
		if r, ok := e.(interface{ Release() }); ok {
			r.Release()
		}
	}
}

// SetMaxMessageSize changes the largest message this side accepts from now
// on, the message being received included (gorilla's and coder's
// SetReadLimit); n <= 0 means the default, 1 MiB.
func (c *Conn) SetMaxMessageSize(n int64) { c.cfg.MaxMessageSize = n }

// keptOnRelease is the largest receive or output buffer ReleaseReadBuffer
// and ReleaseWriteBuffer keep: a keepalive ping's frame and its pong (16
// bytes each) fit, so that the keepalive rounds of a parked connection
// allocate nothing, at 64 bytes a buffer at most.
const keptOnRelease = 64

// ReleaseReadBuffer drops the receive buffer when it holds no unparsed
// input and no event's Data points into it, so that a driver parking an
// idle connection (reading into a few bytes of its own until the peer
// speaks) holds no read buffer meanwhile; the extensions drop the buffers
// they keep for reuse too (see Extension). It reports whether it did; the
// next ReadBuffer or Receive allocates again, unless what arrives fits the
// buffer kept (keptOnRelease).
func (c *Conn) ReleaseReadBuffer() bool {
	r := &c.recv
	if c.eventsPending() || r.inPos != len(r.in) {
		return false
	}
	r.in, r.inPos, r.dec = keptBuffer(r.in), 0, nil
	for _, e := range c.cfg.Extensions {
		if rb, ok := e.(interface{ ReleaseBuffers() }); ok {
			rb.ReleaseBuffers()
		}
	}
	return true
}

// ReleaseWriteBuffer drops the output buffer when it holds nothing left to
// write, so that a driver parking an idle connection holds no write buffer
// either (after a large message it is as large), and the buffer an
// extension's output is gathered in before it is framed. It reports
// whether it did; the next frame allocates again, unless it fits the
// buffer kept (keptOnRelease; never a shared prepared frame).
func (c *Conn) ReleaseWriteBuffer() bool {
	if c.outStart < len(c.out) {
		return false
	}
	if c.output.shared {
		c.out = nil
	}
	c.out, c.outStart, c.output.shared = keptBuffer(c.out), 0, false
	c.send.enc = nil // scratch: filled and framed within each Send
	return true
}

// keptBuffer returns b emptied if it is small enough to keep on release,
// else nil.
func keptBuffer(b []byte) []byte {
	if cap(b) > keptOnRelease {
		return nil
	}
	return b[:0]
}

// SwapReadBuffer gives the engine spare as its receive buffer and returns
// the one it had (its length zero; nil if none) and true, when that holds
// no unparsed input and no event's Data points into it; otherwise it
// changes nothing and returns false. An event loop lends each connection its scratch buffer this way
// while it reads and takes it back after, so a connection holds a receive
// buffer only while part of a frame waits for the rest. Extensions' buffers
// are left alone (see ReleaseReadBuffer).
func (c *Conn) SwapReadBuffer(spare []byte) ([]byte, bool) {
	r := &c.recv
	if c.eventsPending() || r.inPos != len(r.in) {
		return nil, false
	}
	old := r.in[:0]
	r.in, r.inPos = spare[:0], 0
	return old, true
}

// SwapEventBuffer gives the engine spare (its length is ignored) to queue
// events in and returns the slice it had, empty (nil if none), and true,
// when no event is pending; otherwise it changes nothing and returns
// false. Like SwapReadBuffer, for an event loop: it lends one slice to the
// connection it runs and takes it back once NextEvent returned EventNone,
// so an idle connection keeps none (an event is about 90 bytes).
func (c *Conn) SwapEventBuffer(spare []Event) ([]Event, bool) {
	if c.eventsPending() {
		return nil, false
	}
	old := c.events[:0] // NextEvent cleared the events it returned
	c.events, c.evHead = spare[:0], 0
	return old, true
}

// ReleaseHandshake drops what the opening handshake kept: the request (or
// response) and the header block's buffer, about a kilobyte a connection;
// Request and Response return nil after it, Subprotocol still answers. It
// does nothing before the connection is open.
func (c *Conn) ReleaseHandshake() {
	if !c.opened || c.hs == nil {
		return
	}
	if c.hs.subprotocol == "" {
		c.hs = nil
		return
	}
	c.hs = &handshake{subprotocol: c.hs.subprotocol}
}

package adapters

import (
	"errors"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// ErrClosedNow is the cause in the close status of a connection ended by
// CloseNow.
var ErrClosedNow = errors.New("closed by CloseNow")

// shutdownTransport ends the transport once the engine asked and its last
// bytes are written: at once, or after lingering for the peer's EOF, as
// protocol.Conn.EndTransport says (CloseWrite is the half-close). A
// server's HTTP/2 stream does not linger: ending it sends what was
// written, then END_STREAM, and a reset there destroys nothing in flight.
func (c *Conn) shutdownTransport() {
	c.mu.Lock()
	cw, canHalfClose := c.nc.(interface{ CloseWrite() error })
	_, serverStream := c.nc.(*streamConn)
	end := protocol.CloseTransportNow
	if !c.sockClosed && !serverStream {
		end = c.eng.EndTransport(c.clock.Now(), canHalfClose)
	}
	switch end {
	case protocol.CloseTransportNow:
		c.mu.Unlock()
		c.closeSocket()
		return
	case protocol.KeepTransport: // output came after all: its writer ends it
		c.mu.Unlock()
		return
	}
	if c.reader == ownerApp {
		c.interruptRead() // it returns the close error; the background reader drains
	}
	c.maybeStartBackground()
	c.armTimer()
	c.mu.Unlock()
	if canHalfClose && cw.CloseWrite() != nil {
		c.closeSocket()
	}
}

// closeSocket closes the transport once; every blocked read and write
// returns. It never waits for either token.
func (c *Conn) closeSocket() {
	c.mu.Lock()
	if c.sockClosed {
		c.mu.Unlock()
		return
	}
	c.sockClosed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timerAt = time.Time{}
	}
	c.signal()
	c.releaseIfDone()
	c.mu.Unlock()
	c.nc.Close()
	c.mu.Lock()
	c.tellEnd() // with released, the end waited for this
	c.mu.Unlock()
}

// releaseIfDone drops the connection's buffers once it has ended, its
// socket is closed and no goroutine is reading, writing or in a callback,
// so a closed Conn the application still refers to holds little more than
// its status. Messages not yet read stay in the queue. c.mu held.
func (c *Conn) releaseIfDone() {
	if !c.sockClosed || !c.closed || c.reader != ownerNone || c.writing || c.inCallback {
		return
	}
	c.ready = nil // not to be delivered: nothing points into the read buffer
	c.poolReadBuffer()
	c.eng.Release()
	c.wbuf, c.rest = nil, nil
	buffers.Put(c.join.Reset())
	c.releaseWriterBuffers()
}

// releaseWriterBuffers drops a Writer's gathering buffer and the handles
// not yet handed out, unless a message is being written: both belong to
// whoever holds the send gate, which Writer and its writes take without
// c.mu. c.mu held.
func (c *Conn) releaseWriterBuffers() {
	if c.gate.tryAcquire() {
		c.msgBuf, c.writers = nil, nil
		c.gate.release()
	}
}

// Close starts the close handshake with code and reason, waits for it to
// end (the peer's close frame, then the end of the transport), and returns
// nil if both close frames were exchanged, else the close status's error.
// It returns within the close timeout, even while another goroutine's Write
// is blocked on a peer that does not read. Calling it again waits again and
// returns the same.
//
// code is one valid on the wire (1000-1003, 1007-1014, 3000-4999), or
// CloseNoStatus (1005) with an empty reason: that sends a close frame
// without a status (an empty payload), RFC 6455's way to close without a
// code; the peer then sees 1005, and a completed handshake is as clean as
// with 1000 (IsClean). Any other code (1006 among them: it says no close
// frame came, and is never sent), a reason with 1005, or a reason over 123
// bytes or not UTF-8 is refused with frame's typed errors
// (frame.ErrCloseCodeNotSendable, ErrCloseReasonNoCode,
// ErrCloseReasonTooLong, ErrCloseReasonInvalid) and changes nothing.
//
// Called inside OnMessage, whose goroutine must return before the peer's
// close frame can be read, Close sends the close frame and returns nil at
// once; Done tells when the handshake ended.
//
// Close may be called from any goroutine.
func (c *Conn) Close(code frame.CloseCode, reason string) error {
	c.mu.Lock()
	if err := c.eng.Close(c.clock.Now(), code, reason); err != nil {
		c.mu.Unlock()
		return err
	}
	inCallback := c.inCallback
	c.needReader++
	c.maybeStartBackground()
	c.afterEngine()
	c.mu.Unlock()
	c.flushBackground(nil)
	if !inCallback {
		<-c.endChan()
	}
	c.mu.Lock()
	c.needReader--
	st := c.eng.CloseStatus()
	c.mu.Unlock()
	if inCallback || st.Clean {
		return nil
	}
	return st.Err
}

// CloseNow drops the connection at once, without the close handshake, like
// closing the socket: the status is 1006 with ErrClosedNow. Pending calls
// return the close error. It may be called from any goroutine, OnMessage
// included.
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	c.eng.Abort(c.clock.Now(), ErrClosedNow)
	c.afterEngine()
	c.mu.Unlock()
	c.closeSocket()
	return nil
}

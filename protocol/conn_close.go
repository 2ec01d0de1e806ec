package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wsengine/ws/frame"
)

// closeState is the close bookkeeping: which close frames went each way,
// in which order, and why the connection ended.
// What an open connection checks is inline; the reasons and the final
// status, which only a closing connection has, are allocated then (an
// idle connection is 128 bytes smaller for it).
type closeState struct {
	sent, recv bool
	sentFirst  bool
	failed     bool // this side failed the connection
	// The transport's end (EndTransport): eof, the peer's EOF came;
	// aborted, the driver dropped it (Abort); lingering, it was told to
	// half-close and read until the EOF; expired, the close timeout after
	// the end ran out.
	eof, aborted, lingering, expired bool
	sentCode                         frame.CloseCode
	recvCode                         frame.CloseCode
	failCode                         frame.CloseCode
	*closeText
}

type closeText struct {
	sentReason, recvReason, failReason string
	status                             CloseStatus
}

// text returns the reasons and status, allocated on the first close.
func (cl *closeState) text() *closeText {
	if cl.closeText == nil {
		cl.closeText = new(closeText)
	}
	return cl.closeText
}

// CloseStatus says how a connection ended. Before it has, Err is nil.
type CloseStatus struct {
	// Code and Reason: the close frame received if any, else the code this
	// side failed the connection with, else 1006 (see CloseError).
	Code   frame.CloseCode
	Reason string
	// What each side sent: Sent says a close frame went out, Received that
	// one came in; SentFirst that this side's went first (it initiated).
	// Clean says both did: the close handshake completed.
	Sent, Received, Clean      bool
	SentFirst                  bool
	SentCode, ReceivedCode     frame.CloseCode
	SentReason, ReceivedReason string
	// Err is the *CloseError that Read calls and the like should return.
	Err error
}

// CloseStatus returns how the connection ended; Err is nil until it has.
func (c *Conn) CloseStatus() CloseStatus {
	if c.closer.closeText == nil {
		return CloseStatus{}
	}
	return c.closer.status
}

// Close starts the closing handshake: it queues a close frame with code and
// reason (after any data already queued) and waits for the peer's, up to
// CloseTimeout. CloseNoStatus sends an empty close frame. An invalid code or
// reason is refused with frame's typed errors and changes nothing. Close is
// idempotent: once a close frame was sent, it returns nil and does nothing.
// Before the handshake completes it abandons the connection (1006).
//
// Next: write Outgoing; keep reading until StateClosed.
func (c *Conn) Close(now time.Time, code frame.CloseCode, reason string) error {
	c.tick(now)
	var buf [frame.MaxControlPayload]byte
	payload, err := frame.AppendClose(buf[:0], code, reason)
	if err != nil {
		return err
	}
	switch {
	case c.state == StateClosed || c.closer.sent:
		return nil
	case c.state == StateConnecting:
		c.finish(errors.New("closed by this side during the opening handshake"))
		return nil
	}
	if err := c.sendClose(code, reason, payload); err != nil {
		c.failInternal(err)
		return err
	}
	if c.state != StateClosed {
		c.state = StateClosing
		if d := c.cfg.CloseTimeoutOrDefault(); d > 0 {
			c.timers[timerClose] = c.now.add(d)
		}
	}
	c.updateTimers()
	return nil
}

// Fail fails the connection: it sends a close frame with code and reason
// (unless one was sent) and asks to close the transport at once, without
// waiting for the peer (RFC 6455 §7.1.7). The close code of the connection
// is code, unless a close frame was received first.
func (c *Conn) Fail(now time.Time, code frame.CloseCode, reason string) error {
	c.tick(now)
	if _, err := frame.AppendClose(nil, code, reason); err != nil {
		return err
	}
	if c.state == StateClosed {
		return nil
	}
	c.fail(code, reason, nil)
	return nil
}

// ReceiveEOF tells the engine the transport's read side ended. After a
// complete close handshake that is the expected end; otherwise the
// connection closed abnormally (1006, ErrTransportClosed).
//
// Next: drain the outputs (see Conn).
func (c *Conn) ReceiveEOF(now time.Time) {
	c.tick(now)
	c.closer.eof = true
	switch {
	case c.state == StateClosed:
	case c.state == StateConnecting && c.hs.rejected != nil:
		// The body of a rejection ends with the transport.
		c.clientRejected()
	case c.closer.sent && c.closer.recv:
		c.finish(nil)
	default:
		c.finish(fmt.Errorf("%w %s", ErrTransportClosed, c.whereEOF()))
	}
}

// ReceivedEOF reports that ReceiveEOF was called: the transport's read
// side ended, and there is nothing more to read.
func (c *Conn) ReceivedEOF() bool { return c.closer.eof }

// whereEOF says where in the stream the transport ended, so that a cut
// connection (in the middle of a frame) can be told from an idle one that
// was dropped (between frames).
func (c *Conn) whereEOF() string {
	r := &c.recv
	switch {
	case c.state == StateConnecting:
		return "during the opening handshake"
	case r.inFrame:
		got := r.hdr.Length - r.remain + uint64(len(r.in)-r.inPos)
		return fmt.Sprintf("after %d of %d payload bytes of a %v frame", got, r.hdr.Length, r.hdr.Opcode)
	case len(r.in) > r.inPos:
		n := len(r.in) - r.inPos
		return fmt.Sprintf("%d byte%s into a frame header", n, plural(n))
	case r.inMsg:
		return "between frames of a fragmented message"
	}
	return "between frames"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// sendClose queues a close frame once. It fails only if the frame cannot
// be built (no randomness for the mask); the caller decides what follows.
func (c *Conn) sendClose(code frame.CloseCode, reason string, payload []byte) error {
	cl := &c.closer
	if cl.sent {
		return nil
	}
	if err := c.writeFrame(frame.OpClose, 0, true, payload); err != nil {
		return err
	}
	cl.sent, cl.sentFirst, cl.sentCode, cl.text().sentReason = true, !cl.recv, code, reason
	if c.role == RoleServer && cl.recv {
		c.finish(nil)
	}
	return nil
}

// receiveClose records the peer's close frame and answers it: "If an
// endpoint receives a Close frame and did not previously send a Close frame,
// the endpoint MUST send a Close frame in response. [...] the endpoint
// typically echos the status code it received." "After both sending and
// receiving a Close message, an endpoint considers the WebSocket connection
// closed and MUST close the underlying TCP connection. The server MUST close
// the underlying TCP connection immediately; the client SHOULD wait for the
// server to close the connection" (§5.5.1, §7.1.1).
func (c *Conn) receiveClose(code frame.CloseCode, reason string) {
	cl := &c.closer
	cl.recv, cl.recvCode, cl.text().recvReason = true, code, reason
	c.emit(Event{Kind: EventClose, Opcode: frame.OpClose, Fin: true, Code: code, Reason: reason})
	if !cl.sent {
		var buf [2]byte
		payload, _ := frame.AppendClose(buf[:0], code, "")
		if err := c.sendClose(code, "", payload); err != nil {
			c.failInternal(err)
			return
		}
	} else if c.role == RoleServer {
		c.finish(nil)
	}
	if c.state == StateClosed {
		return
	}
	c.state = StateClosing
	if d := c.cfg.CloseTimeoutOrDefault(); d > 0 && c.timers[timerClose] == 0 {
		c.timers[timerClose] = c.now.add(d)
	}
}

// fail sends a close frame with code (if none was sent) and ends the
// connection. cause is what the status wraps.
func (c *Conn) fail(code frame.CloseCode, reason string, cause error) {
	if c.state == StateClosed {
		return
	}
	cl := &c.closer
	if !cl.recv {
		cl.failed, cl.failCode, cl.text().failReason = true, code, reason
	}
	if !cl.sent && c.state != StateConnecting {
		var buf [frame.MaxControlPayload]byte
		payload, err := frame.AppendClose(buf[:0], code, reason)
		if err != nil {
			payload, _ = frame.AppendClose(buf[:0], code, "")
		}
		// If even the close frame cannot be built, the transport is closed
		// without one; the status says none was sent.
		_ = c.sendClose(code, reason, payload)
	}
	c.finish(cause)
}

// failInternal fails with 1011; the details stay local (design §3).
func (c *Conn) failInternal(err error) {
	c.fail(frame.CloseInternalError, "", fmt.Errorf("%w: %w", ErrInternal, err))
}

// finish ends the connection: the status is fixed, the transport is to be
// closed, EventClosed is the last event.
func (c *Conn) finish(cause error) {
	if c.state == StateClosed {
		return
	}
	c.state = StateClosed
	c.closeTransport = true
	c.timers = [numTimers]instant{}
	if d := c.cfg.CloseTimeoutOrDefault(); d > 0 && c.unsent() > 0 {
		// Output not written yet (the close frame, say) gets the close
		// timeout from the end on, whatever the driver asks when: one
		// that writes before it asks EndTransport has a Deadline for that
		// write, the write watchdog having stopped.
		c.timers[timerClose] = c.now.add(d)
	}
	cl := &c.closer
	cl.text()
	st := CloseStatus{
		Sent: cl.sent, Received: cl.recv, Clean: cl.sent && cl.recv, SentFirst: cl.sent && cl.sentFirst,
		SentCode: cl.sentCode, ReceivedCode: cl.recvCode,
		SentReason: cl.sentReason, ReceivedReason: cl.recvReason,
	}
	switch {
	case cl.recv:
		st.Code, st.Reason = cl.recvCode, cl.recvReason
	case cl.failed:
		st.Code, st.Reason = cl.failCode, cl.failReason
	default:
		st.Code = frame.CloseAbnormal
	}
	st.Err = &CloseError{Code: st.Code, Reason: st.Reason, Message: cl.describe(cause), Cause: cause}
	cl.status = st
	c.emit(Event{Kind: EventClosed, Code: st.Code, Reason: st.Reason})
}

// describe says what each side saw, e.g. "sent 1000 (normal); no close
// frame received: close handshake timeout".
func (cl *closeState) describe(cause error) string {
	sent := "sent " + codeAndReason(cl.sentCode, cl.sentReason)
	recv := "received " + codeAndReason(cl.recvCode, cl.recvReason)
	var s string
	switch {
	case cl.sent && cl.recv && cl.sentFirst:
		s = sent + ", then " + recv
	case cl.sent && cl.recv:
		s = recv + ", then " + sent
	case cl.sent:
		s = sent + "; no close frame received"
	case cl.recv:
		s = recv + "; no close frame sent"
	default:
		s = "no close frame received or sent"
	}
	if cause != nil {
		s += ": " + cause.Error()
	}
	return s
}

func codeAndReason(code frame.CloseCode, reason string) string {
	if reason == "" {
		return code.String()
	}
	return code.String() + " " + strconv.Quote(reason)
}

// TransportEnd is what EndTransport tells a driver to do with the
// transport.
type TransportEnd uint8

const (
	// KeepTransport: not yet. Output waits to be written, or the
	// connection lingers: read on, dropping what comes, until the peer's
	// EOF (ReceiveEOF) or Deadline, then ask again.
	KeepTransport TransportEnd = iota
	// CloseTransportNow: close the transport.
	CloseTransportNow
	// HalfCloseTransport: half-close the transport where it can be (the
	// canHalfClose given), then read on as for KeepTransport: the
	// connection lingers.
	HalfCloseTransport
)

func (e TransportEnd) String() string {
	switch e {
	case KeepTransport:
		return "keep"
	case CloseTransportNow:
		return "close"
	case HalfCloseTransport:
		return "half-close"
	}
	return "TransportEnd(" + strconv.Itoa(int(e)) + ")"
}

// EndTransport is the close sequence's last step, the same for every
// driver: call it once ShouldCloseTransport asks, after writing what
// Outgoing holds, and again after the peer's EOF and at Deadline. It tells
// the driver to close the transport, or to linger (CloseStatus.Linger):
// half-close it and read until the peer's EOF, so that bytes it still
// sends do not make the kernel reset the connection and destroy our close
// frame in flight (RFC 6455 §7.1.1). Both waits are bounded: output that
// the peer does not take, and a linger without its EOF, get
// Config.CloseTimeout: unwritten output from the end of the connection
// (the write watchdog stops there), the linger from the half-close. After
// Abort the transport closes at once.
func (c *Conn) EndTransport(now time.Time, canHalfClose bool) TransportEnd {
	if !c.closeTransport {
		return KeepTransport
	}
	c.tick(now)
	cl := &c.closer
	switch {
	case cl.aborted || cl.expired:
		return CloseTransportNow
	case c.unsent() > 0: // bounded since the end (finish)
		return KeepTransport
	case cl.lingering:
		if cl.eof {
			return CloseTransportNow
		}
		return KeepTransport
	case c.CloseStatus().Linger(cl.eof, canHalfClose):
		cl.lingering = true
		c.timers[timerClose] = c.now.add(c.cfg.CloseTimeoutOrDefault())
		return HalfCloseTransport
	}
	return CloseTransportNow
}

// Linger says how a driver ends the transport once ShouldCloseTransport
// asks (RFC 6455 §7.1.1): after this side's close frame, keep reading
// until the peer's EOF or the close timeout, then close, so that unread
// bytes do not make the kernel reset the connection and destroy the close
// frame in flight. Not when the peer's EOF came already (sawEOF). A
// transport that can half-close does first, and the peer ends sooner; one
// that cannot lingers only while the peer's close frame is still due: once
// it came, the peer waits for our close.
func (s CloseStatus) Linger(sawEOF, halfClose bool) bool {
	return s.Sent && !sawEOF && (halfClose || !s.Received)
}

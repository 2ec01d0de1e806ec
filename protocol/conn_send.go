package protocol

import (
	"time"

	"github.com/wsengine/ws/frame"
)

type sendState struct {
	utf8 frame.UTF8
	// inMsg, op and encoded sit beside utf8's 6 bytes, the four in one
	// word: the Conn's size class (size_internal_test.go).
	inMsg   bool
	op      frame.Opcode
	encoded bool // the message being sent goes through Config.Extensions[0]
	enc     []byte
	mask    *maskKeys // a client's (nextKey)
}

// Send queues one data frame: op is OpText or OpBinary to start a message
// and OpContinuation to continue it; fin ends the message. Text is checked
// to be UTF-8 (a message the peer would fail with 1007 is refused with
// ErrInvalidText; the message stays unfinished, so Close or Fail next).
// Misuse returns ErrNotOpen, ErrClosing, ErrClosed, ErrMessageInProgress,
// ErrNoMessage or ErrBadOpcode and changes nothing. p is copied.
//
// Next: write Outgoing.
func (c *Conn) Send(now time.Time, op frame.Opcode, p []byte, fin bool) error {
	return c.SendWith(now, op, p, fin, SendOptions{})
}

// SendOptions change how one message is sent.
type SendOptions struct {
	// Uncompressed sends the message without any extension's transform
	// (permessage-deflate is the one that matters): for data that is
	// already compressed, or small and latency-critical. It is read on the
	// message's first frame.
	Uncompressed bool
}

// SendWith is Send with options for the message that op starts.
//
// Sending starts and moves no timer (keepalive counts from what is
// received), so now may be the last time the caller gave the engine: a
// caller need not read its clock for every frame it sends.
func (c *Conn) SendWith(now time.Time, op frame.Opcode, p []byte, fin bool, o SendOptions) error {
	c.tick(now)
	if err := c.canSend(); err != nil {
		return err
	}
	s := &c.send
	first := op != frame.OpContinuation
	switch {
	case op != frame.OpText && op != frame.OpBinary && op != frame.OpContinuation:
		return ErrBadOpcode
	case first && s.inMsg:
		return ErrMessageInProgress
	case !first && !s.inMsg:
		return ErrNoMessage
	}
	msgOp := s.op
	if first {
		msgOp = op
		s.utf8.Reset()
	}
	if msgOp == frame.OpText {
		err := s.utf8.Write(p)
		if err == nil && fin {
			err = s.utf8.Done()
		}
		if err != nil {
			return ErrInvalidText
		}
	}
	payload, rsv := p, uint8(0)
	if first {
		s.encoded = len(c.cfg.Extensions) > 0 && !o.Uncompressed
	}
	if s.encoded {
		var err error
		s.enc, rsv, err = c.cfg.Extensions[0].Encode(s.enc[:0], p, msgOp, first, fin)
		if err != nil {
			c.failInternal(err)
			return err
		}
		payload = s.enc
		if !first {
			rsv = 0
		}
	}
	if err := c.writeFrame(op, rsv, fin, payload); err != nil {
		c.failInternal(err)
		return err
	}
	// No timer moves: keepalive counts from what is received, and the
	// failures above set theirs as they close.
	s.inMsg, s.op = !fin, msgOp
	return nil
}

// SendMessage queues a whole message (op is OpText or OpBinary) in one frame.
func (c *Conn) SendMessage(now time.Time, op frame.Opcode, p []byte) error {
	if op == frame.OpContinuation {
		return ErrBadOpcode
	}
	return c.Send(now, op, p, true)
}

// Ping queues a ping with payload p (at most 125 bytes). A pong with the
// same payload is reported with its latency.
func (c *Conn) Ping(now time.Time, p []byte) error {
	c.tick(now)
	if err := c.sendControl(frame.OpPing, p); err != nil {
		return err
	}
	c.alive.recordPing(string(p), c.now)
	c.updateTimers()
	return nil
}

// Pong queues an unsolicited pong (a unidirectional heartbeat, §5.5.3).
// Pings are answered by the engine itself.
func (c *Conn) Pong(now time.Time, p []byte) error {
	c.tick(now)
	return c.sendControl(frame.OpPong, p)
}

// sendControl queues a ping or pong the application asked for. After this
// side's close frame it still may: "After sending a Close frame, the
// endpoint MUST NOT send any further data frames" (§5.5.1) forbids data
// frames only.
func (c *Conn) sendControl(op frame.Opcode, p []byte) error {
	if len(p) > frame.MaxControlPayload {
		return ErrControlTooLong
	}
	if err := c.canSend(); err != nil && err != ErrClosing {
		return err
	}
	if err := c.writeFrame(op, 0, true, p); err != nil {
		c.failInternal(err)
		return err
	}
	return nil
}

// canSend says why no frame but a close may be sent now, if so.
func (c *Conn) canSend() error {
	switch {
	case c.state == StateConnecting:
		return ErrNotOpen
	case c.state == StateClosed:
		return ErrClosed
	case c.closer.sent:
		// "After sending a Close frame, the endpoint MUST NOT send any
		// further data frames."
		return ErrClosing
	}
	return nil
}

package protocol

import (
	"errors"
	"time"

	"github.com/wsengine/ws/frame"
)

// maxPendingEvents bounds the events one Receive leaves pending (about 90
// bytes each): past it Receive stops with InputPending set.
const maxPendingEvents = 256

// streamThreshold: a data frame with a payload up to this size is delivered
// in one event once complete; a larger one in pieces as its bytes arrive, so
// the engine never buffers a whole large frame.
const streamThreshold = 16 << 10

type recvState struct {
	in       []byte // received bytes; in[inPos:] not yet consumed
	inPos    int
	dec      []byte // extension output for the events of this round
	lastRecv instant

	// Flow control (conn_flow.go).
	resumedAt instant
	checked   int // payload bytes of the current frame unmasked and checked early

	// The frame being read.
	hdr     frame.Header
	remain  uint64
	maskPos int

	// The message being read. rsv is its first frame's RSV bits: not 0,
	// an extension decodes it (extensionFor; the header check admits only
	// bits an extension claims).
	size int64
	utf8 frame.UTF8
	op   frame.Opcode
	rsv  uint8

	// Flags, together so that they pack (the engine's size class).
	allowedRsv       uint8
	paused           bool
	stopAfterMessage bool
	stopped          bool // readFrames stopped after a message with input left
	msgEnded         bool // this readFrames call delivered a message's end
	inFrame          bool
	started          bool // a piece of this frame was delivered
	inMsg            bool
}

// Receive hands the engine bytes read from the transport. It returns a
// *frame.ProtocolError if the peer broke the protocol; the engine has then
// already queued the close frame with the matching code (1002, 1007, 1009)
// and asks to close the transport. Events for everything received before
// the violation are still delivered. Bytes received once the connection is
// closed, or after a close frame, are ignored.
//
// Receive parses at most until 256 events are pending (a read of tiny
// frames would otherwise hold an event per frame), or to the end of a
// message with SetStopAfterMessage; the rest stays in the engine and
// InputPending reports it.
//
// Next: drain the outputs (see Conn); while InputPending, call
// Receive(now, nil) and drain again before reading the transport.
func (c *Conn) Receive(now time.Time, data []byte) error {
	c.tick(now)
	var err error
	switch {
	case c.state == StateClosed || c.closer.recv:
		return nil
	case c.state == StateConnecting:
		err = c.receiveHandshake(data)
	default:
		if len(data) > 0 {
			c.recv.lastRecv = c.now
		}
		c.bufferInput(data)
		err = c.readFrames()
	}
	c.updateTimers()
	return err
}

// ReadBuffer returns free space at the end of the engine's receive buffer,
// at least min bytes, for a driver that reads the transport straight into
// the engine: read into it, then call ReceiveBuffered with the count read.
// That saves the copy Receive makes of its argument, and the driver needs
// no read buffer of its own.
//
// The slice belongs to the engine. It stays valid until the next
// ReceiveBuffered or Receive; other calls (Send, HandleTimeout, NextEvent
// and the rest) leave it alone, so a driver may read into it without
// holding the lock it uses for the engine's other calls. ReadBuffer may
// move the bytes under events already taken (as Receive may): finish with
// their Data first. Data of events not yet taken is kept intact.
func (c *Conn) ReadBuffer(min int) []byte { return c.ReadBufferFrom(nil, min) }

// Buffers lends a driver's buffers: Get returns an empty buffer that holds
// at least size bytes (a smaller one is grown by append), and Put takes
// back a buffer its borrower is done with and no longer uses. The
// drivers' pool (internal/bufpool) is one; ReadBufferFrom and package
// assembler take it.
type Buffers interface {
	Get(size int) []byte
	Put(b []byte)
}

// ReadBufferFrom is ReadBuffer for a driver that pools its buffers: when
// the receive buffer must grow, or there is none (after SwapReadBuffer or
// ReleaseReadBuffer), the new one comes from bufs.Get with the unparsed
// bytes moved into it, and the old one goes to bufs.Put unless Data of
// events not yet taken points into it (then the garbage collector has it,
// as after ReadBuffer). Data of events the driver took from it must be
// done with, as for ReadBuffer. A nil bufs makes it ReadBuffer: the new
// buffer is allocated and the old one left to the garbage collector.
func (c *Conn) ReadBufferFrom(bufs Buffers, min int) []byte {
	r := &c.recv
	c.compactInput()
	if free := cap(r.in) - len(r.in); free < max(min, 1) {
		// While events are pending, their Data points into the old array,
		// which they keep alive; the unconsumed bytes move to a new one.
		size := max(2*cap(r.in), len(r.in)-r.inPos+min)
		var grown []byte
		if bufs != nil {
			grown = bufs.Get(size)[:0]
		} else {
			grown = make([]byte, 0, size)
		}
		grown = append(grown, r.in[r.inPos:]...)
		if bufs != nil && !c.eventsPending() && r.in != nil {
			bufs.Put(r.in[:0])
		}
		r.in, r.inPos = grown, 0
	}
	return r.in[len(r.in):cap(r.in)]
}

// ReceiveBuffered is Receive for n bytes the driver read into the slice
// ReadBuffer returned. It returns ErrInvalidState (and changes nothing) if
// n is negative or larger than that slice.
func (c *Conn) ReceiveBuffered(now time.Time, n int) error {
	r := &c.recv
	if n < 0 || n > cap(r.in)-len(r.in) {
		return ErrInvalidState
	}
	return c.Receive(now, r.in[len(r.in):len(r.in)+n])
}

// bufferInput appends data to the receive buffer. Bytes read into
// ReadBuffer's slice are there already: the buffer only grows over them.
func (c *Conn) bufferInput(data []byte) {
	r := &c.recv
	if len(data) == 0 {
		// Nothing to make room for: going on after a stop must not move
		// the rest of a read of many small messages once per message.
		return
	}
	if len(data) > 0 && len(data) <= cap(r.in)-len(r.in) && &r.in[:len(r.in)+1][len(r.in)] == &data[0] {
		r.in = r.in[:len(r.in)+len(data)]
		return
	}
	c.compactInput()
	r.in = append(r.in, data...)
}

// compactInput moves unconsumed input to the front of the receive buffer.
// While events are pending their Data points into the buffers, so they are
// compacted only when every event was taken.
func (c *Conn) compactInput() {
	r := &c.recv
	if c.eventsPending() || r.inPos == 0 && len(r.dec) == 0 {
		return
	}
	n := copy(r.in, r.in[r.inPos:])
	r.in = r.in[:n]
	r.inPos = 0
	r.dec = r.dec[:0]
	if n == 0 && cap(r.in) > maxRetainedBuffer {
		r.in = nil
	}
}

// readFrames consumes every complete frame (and the available part of a
// large data frame) from the receive buffer.
func (c *Conn) readFrames() error {
	r := &c.recv
	r.stopped, r.msgEnded = false, false
	for c.state != StateClosed && !c.closer.recv {
		if r.msgEnded && r.stopAfterMessage {
			r.stopped = r.inPos < len(r.in)
			return nil
		}
		// A read of tiny frames would make an event per frame: stop at
		// maxPendingEvents, so what a read holds is bounded whatever the
		// peer sends, and go on when the driver calls again.
		if len(c.events)-int(c.evHead) >= maxPendingEvents && r.inPos < len(r.in) {
			r.stopped = true
			return nil
		}
		if !r.inFrame {
			start := r.in[r.inPos:]
			if len(start) == 0 {
				return nil
			}
			if err := c.prefixViolation(start); err != nil {
				return c.failProtocol(err)
			}
			h, n, err := frame.ParseHeader(start)
			if err != nil {
				return c.failProtocol(err)
			}
			if n == 0 {
				return nil
			}
			if err := c.acceptHeader(h); err != nil {
				return c.failProtocol(err)
			}
			r.inPos += n
			r.hdr, r.inFrame, r.remain, r.maskPos, r.started = h, true, h.Length, 0, false
		}
		avail := uint64(len(r.in) - r.inPos)
		if avail < r.remain && (r.hdr.Length <= streamThreshold || avail == 0 || r.hdr.Opcode.IsControl()) {
			if err := c.checkEarly(int(avail)); err != nil {
				return c.failProtocol(err)
			}
			return nil
		}
		take := min(avail, r.remain)
		payload := r.in[r.inPos : r.inPos+int(take)]
		r.inPos += int(take)
		r.remain -= take
		if r.hdr.Masked {
			r.maskPos = frame.Mask(payload[r.checked:], r.hdr.Mask, r.maskPos)
		}
		last := r.remain == 0
		if last {
			r.inFrame = false
		}
		var err error
		if r.hdr.Opcode.IsControl() {
			err = c.handleControl(payload)
		} else {
			err = c.deliverData(payload, last)
		}
		if err != nil {
			return c.failProtocol(err)
		}
	}
	return nil
}

// prefixViolation applies every rule that the first bytes of a header
// decide, in the order of the bytes that prove them: a violation is found at
// the first byte that proves it, without waiting for the rest of the header,
// and any split of the same input fails the same way. start holds what has
// arrived of the header, at least one byte.
func (c *Conn) prefixViolation(start []byte) error {
	r := &c.recv
	b0 := start[0]
	fin, rsv, op := b0&0x80 != 0, (b0>>4)&0x7, frame.Opcode(b0&0xF)
	// "If an unknown opcode is received, the receiving endpoint MUST _Fail
	// the WebSocket Connection_."
	if !op.Valid() {
		return frame.ErrReservedOpcode
	}
	// "All control frames [...] MUST NOT be fragmented."
	if op.IsControl() && !fin {
		return frame.ErrFragmentedControl
	}
	// "MUST be 0 unless an extension is negotiated that defines meanings for
	// non-zero values." Extensions own bits of a message's first frame only.
	if rsv != 0 && (op.IsControl() || op == frame.OpContinuation || rsv&^r.allowedRsv != 0) {
		return ErrReservedBits
	}
	switch {
	case op.IsControl():
	case op == frame.OpContinuation && !r.inMsg:
		return ErrUnexpectedCont
	case op != frame.OpContinuation && r.inMsg:
		return ErrExpectedCont
	}
	if len(start) < 2 {
		return nil
	}
	b1 := start[1]
	// "All control frames MUST have a payload length of 125 bytes or less."
	if op.IsControl() && b1&0x7F > frame.MaxControlPayload {
		return frame.ErrControlTooLong
	}
	// "The server MUST close the connection upon receiving a frame that is
	// not masked. [...] A client MUST close a connection if it detects a
	// masked frame." (§5.1)
	masked := b1&0x80 != 0
	if c.role == RoleServer && !masked {
		return ErrUnmaskedClientFrame
	}
	if c.role == RoleClient && masked {
		return ErrMaskedServerFrame
	}
	// "the most significant bit MUST be 0"
	if len(start) > 2 && b1&0x7F == 127 && start[2]&0x80 != 0 {
		return frame.ErrLengthOverflow
	}
	return nil
}

// checkEarly unmasks and checks the bytes of a small text frame as they
// arrive, before the frame is complete and delivered, so that invalid UTF-8
// fails with 1007 at the first piece that proves it rather than when the
// last byte of the frame comes ("When an endpoint is to interpret a byte
// stream as UTF-8 but finds that the byte stream is not, in fact, a valid
// UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_", §8.1).
// Nothing is delivered before the frame is complete. avail is how much of
// the payload has arrived; r.checked how much of it was checked before.
func (c *Conn) checkEarly(avail int) error {
	r := &c.recv
	if r.op != frame.OpText || r.rsv != 0 || r.hdr.Opcode.IsControl() || avail <= r.checked {
		return nil
	}
	fresh := r.in[r.inPos+r.checked : r.inPos+avail]
	if r.hdr.Masked {
		r.maskPos = frame.Mask(fresh, r.hdr.Mask, r.maskPos)
	}
	r.checked = avail
	return r.utf8.Write(fresh)
}

// acceptHeader starts a frame whose whole header arrived (prefixViolation
// already passed it) and applies the size limits.
func (c *Conn) acceptHeader(h frame.Header) error {
	r := &c.recv
	if h.Opcode.IsControl() {
		return nil
	}
	if h.Opcode != frame.OpContinuation {
		r.inMsg, r.op, r.rsv, r.size = true, h.Opcode, h.Rsv, 0
		r.utf8.Reset()
	}
	// Without a decoding extension the message size is known from headers:
	// fail before reading a byte of the payload.
	if r.rsv == 0 && h.Length <= 1<<62 && r.size+int64(h.Length) > c.cfg.maxMessage() {
		return ErrMessageTooBig
	}
	if h.Length > 1<<62 || int64(h.Length) > c.cfg.maxFrame() {
		return ErrFrameTooBig
	}
	return nil
}

func (c *Conn) extensionFor(rsv uint8) Extension {
	if rsv == 0 {
		return nil
	}
	for _, e := range c.cfg.Extensions {
		if e.Rsv()&rsv != 0 {
			return e
		}
	}
	return nil
}

// deliverData validates and emits one piece of a data frame.
func (c *Conn) deliverData(payload []byte, last bool) error {
	r := &c.recv
	fin := last && r.hdr.Fin
	data := payload
	if r.rsv != 0 {
		start := len(r.dec)
		var err error
		r.dec, err = c.extensionFor(r.rsv).Decode(r.dec, payload, r.op, r.rsv, fin, c.cfg.maxMessage()-r.size)
		if err != nil {
			return err
		}
		data = r.dec[start:]
	}
	r.size += int64(len(data))
	if r.size > c.cfg.maxMessage() {
		return ErrMessageTooBig
	}
	// Text is checked as it arrives, so invalid UTF-8 fails at the first
	// piece that proves it (§8.1); checkEarly may have checked the start of
	// this piece already.
	if r.op == frame.OpText {
		checked := r.checked
		r.checked = 0
		if err := r.utf8.Write(data[checked:]); err != nil {
			return err
		}
		if fin {
			if err := r.utf8.Done(); err != nil {
				return err
			}
		}
	}
	if fin {
		r.inMsg = false
		r.msgEnded = true
	}
	// Built in place: one frame is one event, and copying a whole Event
	// per small frame showed in profiles.
	ev := c.emitted()
	ev.Kind, ev.Opcode, ev.Fin, ev.More, ev.Data, ev.FrameLength = EventData, frame.OpContinuation, fin, !last, data, r.hdr.Length
	if !r.started {
		ev.Opcode, ev.Rsv = r.hdr.Opcode, r.hdr.Rsv
		r.started = true
	}
	return nil
}

// handleControl acts on a complete ping, pong or close frame.
func (c *Conn) handleControl(payload []byte) error {
	switch c.recv.hdr.Opcode {
	case frame.OpPing:
		c.emit(Event{Kind: EventPing, Opcode: frame.OpPing, Fin: true, Data: payload})
		// "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame
		// in response, unless it already received a Close frame" (§5.5.2);
		// frames after a received close are not parsed at all. Having sent
		// a close does not excuse the pong: only data frames are forbidden
		// then (§5.5.1).
		// Past a few pongs waiting in Outgoing, the last is replaced
		// (§5.5.3, see conn_output.go): however many pings arrive, at
		// most 16 pongs wait.
		if err := c.queuePong(payload); err != nil {
			c.failInternal(err)
		}
	case frame.OpPong:
		ev := Event{Kind: EventPong, Opcode: frame.OpPong, Fin: true, Data: payload}
		ev.Latency, ev.Answered = c.alive.acknowledge(payload, c.now)
		c.emit(ev)
	case frame.OpClose:
		code, reason, err := frame.ParseClose(payload)
		if err != nil {
			return err
		}
		c.receiveClose(code, reason)
	}
	return nil
}

// failProtocol fails the connection for a peer violation and returns err.
func (c *Conn) failProtocol(err error) error {
	var pe *frame.ProtocolError
	if !errors.As(err, &pe) {
		c.failInternal(err)
		return err
	}
	c.fail(pe.Code, pe.Reason, err)
	return err
}

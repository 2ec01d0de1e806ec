package adapters

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Read buffer sizes: small while idle, grown when reads fill it, so a
// thousand idle connections hold little and a busy one reads in large
// pieces.
const (
	minReadBuffer = 4 << 10
	maxReadBuffer = 64 << 10
	maxWriteBuf   = 256 << 10
)

// Conn is a WebSocket connection over a net.Conn.
type Conn struct {
	nc    net.Conn
	clock Clock
	q     *assembler.Queue

	mu      sync.Mutex // guards everything below up to writeMu
	eng     *protocol.Conn
	timer   Timer
	timerAt time.Time
	pings   []pingWaiter
	pingSeq uint64
	closed  bool // EventClosed seen

	writeMu sync.Mutex // serialises socket writes; never taken while mu is held
	wbuf    []byte     // written output, for the engine to reuse; guarded by writeMu

	msgSem chan struct{} // one outgoing message at a time
	writer messageWriter // reused by Writer; guarded by msgSem

	closeOnce   sync.Once // closes the transport
	closingOnce sync.Once
	closing     chan struct{} // Close was called: read even when paused
	done        chan struct{} // the engine reached StateClosed
	readDone    chan struct{} // the read goroutine returned

	subprotocol string
	closeWait   time.Duration

	// With Options.OnMessage: messages gathered under mu, delivered by the
	// read goroutine after it lets mu go and before its next Receive.
	onMessage func(*Conn, frame.Opcode, []byte)
	msgOp     frame.Opcode
	inMsg     bool
	msgBuf    []byte     // a fragmented message being gathered
	spareBuf  []byte     // a delivered message's buffer, for the next one
	ready     []readyMsg // complete messages to deliver
}

type readyMsg struct {
	op       frame.Opcode
	data     []byte
	gathered bool // data is a gathered buffer that may be reused
}

type pingWaiter struct {
	payload string
	ch      chan time.Duration
}

// newConn starts a Conn around an engine that is open (or closing).
func newConn(nc net.Conn, eng *protocol.Conn, opts *Options, cfg protocol.Config) *Conn {
	c := &Conn{
		nc: nc, eng: eng, clock: opts.clock(),
		q:           assembler.New(opts.queueConfig(cfg)),
		msgSem:      make(chan struct{}, 1),
		closing:     make(chan struct{}),
		done:        make(chan struct{}),
		readDone:    make(chan struct{}),
		subprotocol: eng.Subprotocol(),
		closeWait:   cfg.CloseTimeout,
		onMessage:   opts.OnMessage,
	}
	if c.closeWait <= 0 {
		c.closeWait = protocol.DefaultCloseTimeout
	}
	c.mu.Lock()
	c.afterEngine()
	c.mu.Unlock()
	go c.readLoop()
	c.flush(false)
	return c
}

// afterEngine takes the engine's events and re-arms the timer. c.mu held.
func (c *Conn) afterEngine() {
	for ev := c.eng.NextEvent(); ev.Kind != protocol.EventNone; ev = c.eng.NextEvent() {
		switch ev.Kind {
		case protocol.EventData:
			if c.onMessage != nil {
				c.gather(ev)
			} else if err := c.q.PushEvent(ev); err != nil && !c.closed {
				c.eng.Fail(c.clock.Now(), frame.CloseInternalError, "")
			}
		case protocol.EventPong:
			c.answerPings(string(ev.Data), ev.Latency)
		case protocol.EventClosed:
			c.closed = true
			c.q.Close(c.eng.CloseStatus().Err)
			close(c.done)
		}
	}
	c.armTimer()
}

// gather joins data events into messages for OnMessage. c.mu held. A
// message in one event is handed over as the engine's data, without a
// copy: it stays valid until the next ReadBuffer, which only the read
// goroutine calls, after delivering.
func (c *Conn) gather(ev protocol.Event) {
	if !c.inMsg && ev.Fin {
		c.ready = append(c.ready, readyMsg{op: ev.Opcode, data: ev.Data})
		return
	}
	if !c.inMsg {
		c.msgOp, c.inMsg = ev.Opcode, true
		c.msgBuf, c.spareBuf = c.spareBuf[:0], nil
	}
	c.msgBuf = append(c.msgBuf, ev.Data...)
	if ev.Fin {
		c.ready = append(c.ready, readyMsg{c.msgOp, c.msgBuf, true})
		c.msgBuf, c.inMsg = nil, false
	}
}

// deliver hands gathered messages to OnMessage, in the read goroutine,
// without holding c.mu.
func (c *Conn) deliver() {
	c.mu.Lock()
	ready := c.ready
	c.ready = nil
	c.mu.Unlock()
	var spare []byte
	for i, m := range ready {
		c.onMessage(c, m.op, m.data)
		if m.gathered && cap(m.data) <= maxRetainedMessage {
			spare = m.data[:0]
		}
		ready[i] = readyMsg{}
	}
	c.mu.Lock()
	if c.ready == nil {
		c.ready = ready[:0]
	}
	if spare != nil && c.spareBuf == nil {
		c.spareBuf = spare
	}
	c.mu.Unlock()
}

// maxRetainedMessage is the largest gathered buffer kept for reuse.
const maxRetainedMessage = 256 << 10

// answerPings wakes the Ping call whose payload came back, and every
// earlier one (the engine counts a pong for all earlier pings).
func (c *Conn) answerPings(payload string, rtt time.Duration) {
	for i, p := range c.pings {
		if p.payload == payload {
			for _, q := range c.pings[:i+1] {
				q.ch <- rtt
			}
			c.pings = append(c.pings[:0], c.pings[i+1:]...)
			return
		}
	}
}

// armTimer makes the one timer fire no later than the engine's deadline.
// c.mu held. Keepalive moves the deadline later with every byte received;
// re-arming each time would allocate a timer per message, so a timer set
// for an earlier time is kept: when it fires, HandleTimeout does nothing
// yet and the timer is set again for the deadline then.
func (c *Conn) armTimer() {
	d := c.eng.Deadline()
	switch {
	case d.IsZero():
		if c.timer != nil {
			c.timer.Stop()
			c.timer, c.timerAt = nil, time.Time{}
		}
		return
	case c.timer != nil && !d.Before(c.timerAt):
		return
	case c.timer != nil:
		c.timer.Stop()
	}
	c.timerAt = d
	c.timer = c.clock.AfterFunc(max(d.Sub(c.clock.Now()), 0), c.onTimer)
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	c.timer, c.timerAt = nil, time.Time{}
	c.eng.HandleTimeout(c.clock.Now())
	c.afterEngine()
	pending := c.pendingOutput()
	c.mu.Unlock()
	if pending {
		c.flush(false)
	}
}

// flush writes what the engine has queued. block false returns at once if
// another goroutine is writing: that writer picks up these bytes when its
// write is done. When the engine asks, the transport is closed after the
// last byte, while the write lock is held so no write is cut short.
func (c *Conn) flush(block bool) error {
	for {
		if block {
			c.writeMu.Lock()
		} else if !c.writeMu.TryLock() {
			return nil
		}
		// The engine's output is taken, not copied; the buffer written last
		// time goes back to the engine for its next output.
		c.mu.Lock()
		w := c.eng.TakeOutgoing(c.wbuf)
		if w != nil {
			c.wbuf = nil
		}
		c.mu.Unlock()
		var err error
		if len(w) > 0 {
			_, err = c.nc.Write(w)
			if cap(w) <= maxWriteBuf {
				c.wbuf = w[:0]
			}
		}
		c.mu.Lock()
		more, closeTransport := len(c.eng.Outgoing()) > 0, c.eng.ShouldCloseTransport()
		c.mu.Unlock()
		if err != nil || !more && closeTransport {
			c.closeTransport()
		}
		c.writeMu.Unlock()
		if err != nil {
			return err
		}
		if !more {
			// Bytes queued by a goroutine whose TryLock failed just before
			// the unlock above are this one's to write.
			c.mu.Lock()
			more = len(c.eng.Outgoing()) > 0
			c.mu.Unlock()
		}
		if !more {
			return nil
		}
	}
}

// pendingOutput reports whether a flush has work: bytes to write or a
// transport to close. c.mu held.
func (c *Conn) pendingOutput() bool {
	return len(c.eng.Outgoing()) > 0 || c.eng.ShouldCloseTransport()
}

// flushContext is a blocking flush bounded by ctx. A write interrupted by
// ctx leaves a partial frame on the wire, so the transport is closed.
func (c *Conn) flushContext(ctx context.Context) error {
	if ctx.Done() == nil {
		return c.flush(true)
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetWriteDeadline(time.Unix(1, 0)) })
	err := c.flush(true)
	if !stop() {
		c.nc.SetWriteDeadline(time.Time{})
		if err != nil {
			return errors.Join(ctx.Err(), err)
		}
	}
	return err
}

func (c *Conn) closeTransport() {
	c.closeOnce.Do(func() { c.nc.Close() })
}

// readLoop feeds the engine everything the socket reads.
func (c *Conn) readLoop() {
	defer close(c.readDone)
	if c.onMessage != nil {
		c.deliver() // messages that came with the handshake
	}
	want := minReadBuffer
	for {
		if c.q.Paused() {
			select {
			case <-c.q.Resumed():
			case <-c.closing:
			}
		}
		// The socket is read straight into the engine's buffer: no copy,
		// and no read buffer of our own. Only this goroutine calls
		// Receive*, so the buffer stays ours while the lock is free.
		c.mu.Lock()
		buf := c.eng.ReadBuffer(want)
		c.mu.Unlock()
		n, err := c.nc.Read(buf)
		c.mu.Lock()
		now := c.clock.Now()
		if n > 0 {
			c.eng.ReceiveBuffered(now, n) // a violation shows in the state
		}
		if err != nil {
			c.eng.ReceiveEOF(now)
		}
		c.afterEngine()
		pending := c.pendingOutput()
		c.mu.Unlock()
		if pending { // pongs, close replies: most reads queue nothing
			c.flush(false)
		}
		if c.onMessage != nil {
			c.deliver()
		}
		if err != nil {
			c.closeTransport()
			c.mu.Lock()
			if c.timer != nil {
				c.timer.Stop()
				c.timer = nil
			}
			c.mu.Unlock()
			return
		}
		if n >= want && want < maxReadBuffer {
			want *= 2
		}
	}
}

// statusErr returns the close status's error, or ErrClosed-like errors.
func (c *Conn) statusErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.eng.CloseStatus().Err; err != nil {
		return err
	}
	return protocol.ErrClosed
}

// Read returns the next whole message. After the connection ends, it
// returns every message received before the close frame, then the
// *protocol.CloseError (errors.Is with protocol.ErrKeepaliveTimeout,
// &protocol.CloseError{Code: ...} and so on).
func (c *Conn) Read(ctx context.Context) (frame.Opcode, []byte, error) {
	m, err := c.q.Next(ctx)
	return m.Opcode, m.Data, err
}

// Reader returns the next message as a stream, readable as it arrives.
func (c *Conn) Reader(ctx context.Context) (frame.Opcode, io.Reader, error) {
	op, r, err := c.q.NextReader(ctx)
	if err != nil {
		return 0, nil, err
	}
	return op, r, nil
}

func (c *Conn) acquireMessage(ctx context.Context) error {
	select {
	case c.msgSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Conn) releaseMessage() { <-c.msgSem }

// send runs one engine send under the lock.
func (c *Conn) send(op frame.Opcode, p []byte, fin bool, o protocol.SendOptions) error {
	c.mu.Lock()
	err := c.eng.SendWith(c.clock.Now(), op, p, fin, o)
	c.afterEngine()
	closed := c.closed
	c.mu.Unlock()
	if err != nil && closed {
		return errors.Join(err, c.statusErr())
	}
	return err
}

// Write sends one whole message (op is frame.OpText or frame.OpBinary).
// ctx bounds the write; a write cut short by ctx fails the connection.
func (c *Conn) Write(ctx context.Context, op frame.Opcode, p []byte) error {
	return c.WriteWith(ctx, op, p, protocol.SendOptions{})
}

// Writer returns a writer for one message: writes are gathered into
// frames of up to 32 KiB, so a small message goes out as one frame when the
// writer is closed and a large one streams in fragments. Other writes wait
// until it is closed. The writer and its buffer are reused by the next
// Writer call, so it allocates nothing.
func (c *Conn) Writer(ctx context.Context, op frame.Opcode) (io.WriteCloser, error) {
	if op != frame.OpText && op != frame.OpBinary {
		return nil, protocol.ErrBadOpcode
	}
	if err := c.acquireMessage(ctx); err != nil {
		return nil, err
	}
	w := &c.writer
	w.c, w.ctx, w.op, w.closed, w.buf = c, ctx, op, false, w.buf[:0]
	return w, nil
}

// writerFrame is the most a Writer gathers before sending a fragment.
const writerFrame = 32 << 10

type messageWriter struct {
	c      *Conn
	ctx    context.Context
	op     frame.Opcode
	closed bool
	buf    []byte
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("adapters: write to a closed message writer")
	}
	n := len(p)
	for len(p) > 0 {
		if len(w.buf) == writerFrame {
			if err := w.flush(false); err != nil {
				return n - len(p), err
			}
		}
		k := min(len(p), writerFrame-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// flush sends what is gathered as one frame.
func (w *messageWriter) flush(fin bool) error {
	if err := w.c.send(w.op, w.buf, fin, protocol.SendOptions{}); err != nil {
		return err
	}
	w.op, w.buf = frame.OpContinuation, w.buf[:0]
	return w.c.flushContext(w.ctx)
}

func (w *messageWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.c.releaseMessage()
	return w.flush(true)
}

// Ping sends a ping and waits for its pong, returning the round-trip time.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	ch := make(chan time.Duration, 1)
	c.mu.Lock()
	c.pingSeq++
	payload := "wsengine ping " + strconv.FormatUint(c.pingSeq, 10)
	err := c.eng.Ping(c.clock.Now(), []byte(payload))
	if err == nil {
		c.pings = append(c.pings, pingWaiter{payload, ch})
	}
	c.afterEngine()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := c.flushContext(ctx); err != nil {
		return 0, err
	}
	select {
	case rtt := <-ch:
		return rtt, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.done:
		return 0, c.statusErr()
	}
}

// Close starts the close handshake with code and reason, waits for the
// peer's close frame (up to the close timeout) and the end of the
// transport, and returns nil if the handshake completed, else the close
// status's error. Calling it again waits again and returns the same.
func (c *Conn) Close(code frame.CloseCode, reason string) error {
	c.mu.Lock()
	err := c.eng.Close(c.clock.Now(), code, reason)
	c.afterEngine()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.closingOnce.Do(func() { close(c.closing) })
	c.flush(true)
	// The engine's close timer ends the handshake; this bound is a safety
	// net for a clock that does not move.
	select {
	case <-c.readDone:
	case <-time.After(c.closeWait + time.Second):
		c.closeTransport()
		<-c.readDone
	}
	st := c.CloseStatus()
	if st.Sent && st.Received {
		return nil
	}
	return st.Err
}

// CloseStatus returns how the connection ended (Err is nil while open).
func (c *Conn) CloseStatus() protocol.CloseStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.CloseStatus()
}

// Done returns a channel closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return deflate.Negotiated(c.eng.Extensions())
}

// WriteWith is Write with per-message options, such as sending one message
// uncompressed.
func (c *Conn) WriteWith(ctx context.Context, op frame.Opcode, p []byte, o protocol.SendOptions) error {
	if op != frame.OpText && op != frame.OpBinary {
		return protocol.ErrBadOpcode
	}
	if err := c.acquireMessage(ctx); err != nil {
		return err
	}
	defer c.releaseMessage()
	if err := c.send(op, p, true, o); err != nil {
		return err
	}
	return c.flushContext(ctx)
}

// Subprotocol returns the negotiated subprotocol.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Latency returns the last ping's round-trip time (keepalive included).
func (c *Conn) Latency() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.Latency()
}

func (c *Conn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

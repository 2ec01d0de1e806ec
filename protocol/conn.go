package protocol

import (
	"crypto/rand"
	"io"
	"time"

	"github.com/wsengine/ws/frame"
)

// Conn is one WebSocket connection, client or server, from the opening
// handshake to the end, as a pure state machine. It does no I/O, reads no
// clock, starts no goroutine and keeps no caller's slice. It is not safe for
// concurrent use; one driver owns it.
//
// Its methods come in three groups.
//
// Inputs, what happened outside:
//   - Receive(now, bytes): bytes read from the transport. Or, without the
//     copy: read into ReadBuffer(n), then ReceiveBuffered(now, count).
//   - ReceiveEOF(now): the transport's read side ended.
//   - HandleTimeout(now): Deadline has passed (extra calls are no-ops).
//
// Commands, what the application wants:
//   - Send(now, op, p, fin), SendWith (per-message options), SendMessage,
//     Ping(now, p), Pong(now, p).
//   - Close(now, code, reason): start the close handshake.
//   - Fail(now, code, reason): send a close frame and drop the connection.
//   - AcceptHandshake, RejectHandshake: answer a request held by
//     ServerOptions.ManualAccept.
//
// Constructors: NewClient (emits the request at once), NewServer (waits for
// one), NewServerFromRequest (a request net/http already read),
// NewEstablished (handshake done elsewhere).
//
// Outputs, to drain after every input or command, in this order:
//  1. Outgoing: write these bytes to the transport, then Advance(n) by what
//     was written (a short write keeps the rest for later).
//  2. NextEvent: take events until it returns one of kind EventNone.
//  3. ShouldCloseTransport: then EndTransport says whether to close the
//     transport, to wait for Outgoing to be written, or to linger
//     (half-close, read until the peer's EOF).
//  4. Deadline: call HandleTimeout at that time (zero: no timer). It bounds
//     every wait the driver does for the peer, a write after the end too.
//
// The rules a driver would otherwise write itself, it asks for, so that
// every driver applies them alike (Example_driver is a whole driver in 50
// lines):
//   - the output bound: AdmitSend before a send; HoldInput before a read
//     (SetOutputHighWater), PauseReading while the application is behind;
//   - the order of replies: SetStopAfterMessage, then InputPending and
//     Receive(now, nil) before reading again;
//   - the close sequence and its linger: ShouldCloseTransport,
//     EndTransport;
//   - buffers: ReadBufferFrom, SwapReadBuffer, SwapWriteBuffer and
//     SwapEventBuffer lend a driver's buffers to the connection it serves;
//     ReleaseReadBuffer and ReleaseWriteBuffer for an idle one, Release at
//     the end.
//
// State, CloseStatus and Latency may be read at any time.
//
// Time is an argument. Every call that can change state takes now; it must
// not go backwards. An earlier time than one already seen is taken as the
// latest time seen, so a clock that steps back delays timers, never fires
// them early or twice.
type Conn struct {
	cfg            Config
	role           Role
	state          State
	opened         bool
	closeTransport bool
	evHead         int32 // events[evHead:] are not taken yet (int32: beside the flags, in what was padding)
	// Times are instants: nanoseconds since epoch, the time the Conn was
	// made (a third of time.Time's size; epoch keeps the monotonic
	// reading). now is the latest time seen.
	epoch time.Time
	now   instant

	// Outputs.
	out      []byte
	outStart int
	events   []Event

	recv   recvState
	send   sendState
	output outputState
	closer closeState
	alive  keepalive
	timers [numTimers]instant
	hs     *handshake
}

// NewEstablished returns a Conn for a connection whose opening handshake
// happened elsewhere (a proxy, an application's own upgrade code, a test):
// it starts in StateOpen. cfg.Extensions must hold what was negotiated.
func NewEstablished(role Role, cfg Config, now time.Time) (*Conn, error) {
	c, err := newConn(role, cfg, now)
	if err != nil {
		return nil, err
	}
	c.open()
	return c, nil
}

func newConn(role Role, cfg Config, now time.Time) (*Conn, error) {
	if role != RoleClient && role != RoleServer {
		return nil, ErrInvalidRole
	}
	return &Conn{cfg: cfg, role: role, epoch: now}, nil
}

// open moves the connection to StateOpen and starts the keepalive clock.
func (c *Conn) open() {
	c.state, c.opened = StateOpen, true
	c.output.hsLeft = int32(len(c.out) - c.outStart) // no frame is queued before the open
	c.recv.lastRecv = c.now
	c.recv.allowedRsv = 0
	for _, e := range c.cfg.Extensions {
		c.recv.allowedRsv |= e.Rsv()
	}
	c.timers[timerOpen] = 0
	c.updateTimers()
}

// Role returns whether c is the client or the server.
func (c *Conn) Role() Role { return c.role }

// Opened reports whether the opening handshake completed: the connection
// is, or was, open.
func (c *Conn) Opened() bool { return c.opened }

// State returns where the connection is in its life.
func (c *Conn) State() State { return c.state }

// Outgoing returns the bytes to write to the transport. The slice is a view
// into the engine's buffer, valid until the next call on c.
func (c *Conn) Outgoing() []byte { return c.out[c.outStart:] }

// Advance marks the first n bytes of Outgoing as written.
func (c *Conn) Advance(n int) {
	n = max(min(n, len(c.out)-c.outStart), 0)
	c.outStart += n
	o := &c.output
	o.written += uint64(n)
	o.hsLeft = max(o.hsLeft-int32(n), 0)
	if o.pongLen > 0 && c.outStart > int(o.pongAt) {
		o.pongLen = 0 // going out: the next ping gets its own pong
	}
	o.cut = n > 0 || o.cut
	if c.outStart == len(c.out) {
		o.cut = false
		c.emptyOut()
	}
	c.settleOutput()
}

// emptyOut empties the output buffer and keeps it for the next output,
// unless it is a large message's (an idle connection does not keep that
// much) or another's frame (shared).
func (c *Conn) emptyOut() {
	c.out, c.outStart = c.out[:0], 0
	c.output.pongs = 0
	if cap(c.out) > maxRetainedBuffer || c.output.shared {
		c.out, c.output.shared = nil, false
	}
}

// TakeOutgoing returns Outgoing and hands its memory to the caller: the
// engine never touches it again and starts a new output buffer, reusing
// spare (a slice an earlier TakeOutgoing returned, now written) when one is
// given. A driver that writes while other goroutines call Send under its
// lock can so write without holding the lock and without copying. It
// returns nil, and leaves spare to the caller, when there is nothing to
// write.
//
// Next: write the bytes, and report each write with Wrote (the write
// watchdog counts taken bytes as unsent until then).
func (c *Conn) TakeOutgoing(spare []byte) []byte {
	out, _ := c.take(spare, false)
	return out
}

// TakeOutgoingShared is TakeOutgoing without the copy of a prepared
// message's shared frame: when the output is that frame (OutputShared),
// it is returned as it is and shared is true. Those bytes belong to the
// prepared message and to every connection it was sent to: write them,
// never into them, and do not give them back as a spare. A driver that
// writes a broadcast to many idle connections so makes no copy and holds
// no buffer for each (spare, if given, becomes the engine's empty output
// buffer as with TakeOutgoing).
func (c *Conn) TakeOutgoingShared(spare []byte) (out []byte, shared bool) {
	return c.take(spare, true)
}

func (c *Conn) take(spare []byte, keepShared bool) (out []byte, shared bool) {
	if c.outStart == len(c.out) {
		return nil, false
	}
	shared = c.output.shared && keepShared
	if c.output.shared && !keepShared { // the caller gets memory of its own
		c.own(spare)
		spare = nil
	}
	out = c.out[c.outStart:]
	c.output.inFlight += len(out)
	c.output.cut = false
	c.output.pongLen, c.output.pongs = 0, 0 // taken: the next ping gets its own pong
	c.output.hsLeft = 0
	c.out, c.outStart, c.output.shared = spare[:0], 0, false
	if cap(spare) > maxRetainedBuffer {
		c.out = nil
	}
	return out, shared
}

// maxRetainedBuffer is the largest buffer kept once it is empty.
const maxRetainedBuffer = 256 << 10

// appendOut returns the output buffer, compacted so appends go after the
// unwritten bytes. Views returned by Outgoing before this call are stale.
func (c *Conn) appendOut() []byte {
	c.notePending()
	c.own(nil)
	if c.outStart > 0 {
		c.moveOut(c.out)
	}
	return c.out
}

// own copies shared output (see outputState.shared) into a buffer of the
// engine's: into spare when it is given, else a new one.
func (c *Conn) own(spare []byte) {
	if !c.output.shared {
		return
	}
	if spare == nil {
		spare = make([]byte, 0, max(2*(len(c.out)-c.outStart), 4<<10))
	}
	c.moveOut(spare)
}

// moveOut moves the unsent output to the front of dst (which may be the
// output buffer itself), and dst becomes the output buffer, the engine's
// own.
func (c *Conn) moveOut(dst []byte) {
	c.out = append(dst[:0], c.out[c.outStart:]...)
	c.output.pongAt -= int32(c.outStart) // still wholly unsent if pongLen > 0 (see Advance)
	c.outStart, c.output.shared = 0, false
}

// NextEvent returns the next event, or one of kind EventNone when there is
// none. Its Data is valid until the next Receive, ReceiveBuffered or
// ReadBuffer (see Event).
func (c *Conn) NextEvent() Event {
	if int(c.evHead) == len(c.events) {
		c.events = c.events[:0]
		c.evHead = 0
		if cap(c.events) > 2*maxPendingEvents {
			c.events = nil // what a burst grew goes
		}
		return Event{}
	}
	ev := c.events[c.evHead]
	c.events[c.evHead] = Event{}
	c.evHead++
	return ev
}

func (c *Conn) emit(ev Event) { c.events = append(c.events, ev) }

// emitted appends a zero event and returns it, for the caller to fill in.
func (c *Conn) emitted() *Event {
	c.events = append(c.events, Event{})
	return &c.events[len(c.events)-1]
}

func (c *Conn) eventsPending() bool { return int(c.evHead) < len(c.events) }

// ShouldCloseTransport reports that the transport must be closed once
// Outgoing has been written: the server after the close handshake, either
// side after a failure, a client whose server did not close in time.
func (c *Conn) ShouldCloseTransport() bool { return c.closeTransport }

// Lingering reports that EndTransport told the driver to linger
// (HalfCloseTransport): read on, dropping what comes, until the peer's EOF
// (ReceiveEOF) or Deadline, then ask EndTransport again.
func (c *Conn) Lingering() bool { return c.closer.lingering }

// tick records the time of a call; time never goes backwards.
func (c *Conn) tick(now time.Time) {
	if i := instant(now.Sub(c.epoch)); i > c.now {
		c.now = i
	}
}

// writeFrame appends one frame to Outgoing, masked with a fresh key for a
// client: "The masking key is a 32-bit value chosen at random by the client
// [...] the client MUST choose a new masking key for each frame" (§5.3).
func (c *Conn) writeFrame(op frame.Opcode, rsv uint8, fin bool, payload []byte) error {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Length: uint64(len(payload))}
	if c.role == RoleClient {
		key, err := c.nextKey()
		if err != nil {
			return err
		}
		h.Masked, h.Mask = true, key
	}
	out := frame.AppendHeader(c.appendOut(), h)
	start := len(out)
	out = append(out, payload...)
	if h.Masked {
		frame.Mask(out[start:], h.Mask, 0)
	}
	c.out = out
	return nil
}

// maskKeys are a client's masking keys, read from the random source in
// batches of 8. Behind a pointer, made at a client's first frame: a server
// masks nothing, and its engine stays in its size class without them.
type maskKeys struct {
	keys [maskBatch]byte
	pos  int // keys[pos:] are unused
}

const maskBatch = 32 // bytes of masking keys read at once: 8 keys

// nextKey returns a masking key, reading the random source in batches.
func (c *Conn) nextKey() ([4]byte, error) {
	m := c.send.mask
	if m == nil {
		m = &maskKeys{pos: maskBatch}
		c.send.mask = m
	}
	if m.pos+4 > maskBatch {
		if _, err := io.ReadFull(c.random(), m.keys[:]); err != nil {
			return [4]byte{}, err
		}
		m.pos = 0
	}
	k := [4]byte(m.keys[m.pos:])
	m.pos += 4
	return k, nil
}

// random is the source of masking keys and nonces: Config.Rand, or
// crypto/rand.
func (c *Conn) random() io.Reader {
	if c.cfg.Rand != nil {
		return c.cfg.Rand
	}
	return rand.Reader
}

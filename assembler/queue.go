package assembler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Message is a whole data message. Data is owned by the caller. Text
// messages are returned as []byte, not string: the engine already validated
// the UTF-8, a string would cost a second copy, and most consumers (JSON
// decoders, writers) take []byte.
type Message struct {
	Opcode frame.Opcode // OpText or OpBinary
	Data   []byte
}

// Config bounds a Queue. Zero fields take the defaults.
type Config struct {
	// MaxMessageSize bounds one message (default 1 MiB). The engine fails a
	// larger one with 1009 first; the queue refuses to grow past it anyway.
	MaxMessageSize int64
	// HighWater: Paused becomes true once this many bytes are queued
	// (default 1 MiB). Every message also counts messageOverhead bytes, so
	// a flood of empty messages pauses too.
	HighWater int64
	// LowWater: Paused becomes false again once the queue is at or below
	// this many bytes (default HighWater/4).
	LowWater int64
	// Buffers, when set, lends the buffers the queue gathers in for
	// itself: a stream's, NextAppend's, and those of messages that come in
	// several pieces (Next copies these out; it never hands one over). They
	// grow through it (the bytes move into a buffer of twice the room and
	// the outgrown one goes back), and go back when the queue lets go of
	// them: a second spare, Trim, Close, a message cut short. A pool that
	// does not allocate once warm, such as the adapters', then gathers and
	// streams messages of any number of pieces without allocating, also
	// after Trim. Nil: the queue allocates them.
	Buffers Buffers
}

// messageOverhead is what each queued message counts for flow control
// beyond its payload: roughly its bookkeeping in memory.
const messageOverhead = 64

// maxSpare is the largest buffer kept for reuse (see keepSpare).
const maxSpare = 256 << 10

var (
	// ErrClosed is the close error when Close was given nil.
	ErrClosed = errors.New("assembler: queue closed")
	// ErrIncompleteMessage: the connection ended in the middle of a
	// message. The error returned wraps it and the close error.
	ErrIncompleteMessage = errors.New("assembler: connection ended in the middle of a message")
	// ErrStreamInProgress: Next or TryNext while a Reader owns the head
	// message; read it to io.EOF or continue it with NextReader.
	ErrStreamInProgress = errors.New("assembler: a message is being streamed; finish it with its Reader or NextReader")
	// ErrTooBig: Push would make a message larger than MaxMessageSize.
	ErrTooBig = errors.New("assembler: message larger than MaxMessageSize")
	// ErrNoMessage: a continuation with no message open.
	ErrNoMessage = errors.New("assembler: continuation without a message")
	// ErrMessageOpen: a new message while the previous one is unfinished.
	ErrMessageOpen = errors.New("assembler: new message before the previous one finished")
	// ErrBadOpcode: an opcode that is not text, binary or continuation.
	ErrBadOpcode = errors.New("assembler: opcode is not a data opcode")
	// ErrStaleReader: Read on a Reader after a later NextReader call took
	// over the stream. It never touches another message's bytes.
	ErrStaleReader = errors.New("assembler: Reader used after a later NextReader call")
)

type entry struct {
	op    frame.Opcode
	data  []byte // unread bytes start at off
	off   int
	size  int64 // bytes pushed in all
	done  bool
	spare bool // data is the queue's reusable buffer
}

// Queue is the message queue. The zero value is not ready; use New.
type Queue struct {
	cfg Config

	mu      sync.Mutex
	version atomic.Uint64 // pieces pushed and Close, ever (see SetFill); beside mu, on the same cache line
	pausedA atomic.Bool   // paused, for Paused to read without the lock
	entries []entry       // entries[head:] are queued, oldest first
	head    int
	bytes   int64 // queued payload plus overhead, for flow control
	closed  bool
	err     error

	waiters int
	changed chan struct{} // closed when state changes while waiters > 0

	paused   bool
	resumed  chan struct{} // closed when paused turns false; made by Resumed, nil while nobody waits
	complete int           // complete messages queued

	wholeReads bool            // the consumer's last call was Next or TryNext, not NextAppend or NextReader
	streaming  bool            // entries[head] belongs to the Reader of generation streamGen
	streamGen  uint64          // the generation of the newest Reader handed out
	streamCtx  context.Context // its context, for its Read
	readers    []Reader        // Readers not yet handed out
	slab       int             // size of the last slab of Readers
	spare      []byte          // a buffer for the next message, reused by streams and Next

	fill func(ctx context.Context, seen uint64) error
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// New returns an empty Queue.
func New(cfg Config) *Queue {
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = protocol.DefaultMaxMessageSize
	}
	if cfg.HighWater <= 0 {
		cfg.HighWater = 1 << 20
	}
	if cfg.LowWater <= 0 || cfg.LowWater > cfg.HighWater {
		cfg.LowWater = cfg.HighWater / 4
	}
	return &Queue{cfg: cfg, changed: make(chan struct{})}
}

// SetMaxMessageSize changes the largest message the queue takes from now
// on; n <= 0 means the default, 1 MiB.
func (q *Queue) SetMaxMessageSize(n int64) {
	if n <= 0 {
		n = protocol.DefaultMaxMessageSize
	}
	q.mu.Lock()
	q.cfg.MaxMessageSize = n
	q.mu.Unlock()
}

// SetFill makes the queue's consumer its producer too: a call that would
// wait for a message (Next, NextReader, a Reader's Read) calls fill instead,
// without the queue's lock, and looks again when it returns. fill should
// push what it can get (an adapter reads the transport in the caller's
// goroutine, saving a goroutine hand-off per message) or wait until another
// producer may have pushed, and return ctx's error when ctx ends. Set it
// before the queue is used.
//
// seen is Version when the caller last looked: if it differs now, another
// producer pushed (or the queue closed) between that look and fill, and
// fill should return at once rather than wait for more, which may never
// come while that message waits.
func (q *Queue) SetFill(fill func(ctx context.Context, seen uint64) error) { q.fill = fill }

// Version counts the pieces pushed and the Close, ever; see SetFill.
func (q *Queue) Version() uint64 { return q.version.Load() }

// Push adds one piece of a message: op OpText or OpBinary starts one,
// OpContinuation continues it, fin ends it. data is copied. After Close it
// returns the close error and changes nothing; so does a piece that would
// break the message sequence or exceed MaxMessageSize.
func (q *Queue) Push(op frame.Opcode, data []byte, fin bool) error {
	return q.push(op, data, fin, false, 0, 0)
}

// push is Push with what PushEvent knows of the frame data comes from: its
// length frameLen, whether more of its bytes follow (more), and its RSV
// bits (rsv != 0: an extension decoded it). A frame arriving in pieces and
// not decoded has the size of the message that op starts, so that the
// message is copied into one allocation.
func (q *Queue) push(op frame.Opcode, data []byte, fin, more bool, rsv uint8, frameLen uint64) error {
	var sizeHint uint64
	if more && rsv == 0 {
		sizeHint = frameLen
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return q.err
	}
	open := q.openEntry()
	switch op {
	case frame.OpText, frame.OpBinary:
		if open != nil {
			return ErrMessageOpen
		}
		if int64(len(data)) > q.cfg.MaxMessageSize {
			return ErrTooBig
		}
		var buf []byte
		spare := false
		switch {
		case sizeHint > 0 && sizeHint <= uint64(q.cfg.MaxMessageSize) && q.wholeReads:
			// Next will hand the buffer over whole: one allocation, no
			// growth. (A stream reads the pieces as they come, and reuses
			// the spare buffer below.)
			buf = make([]byte, 0, sizeHint)
		case fin && q.wholeReads:
			// The consumer takes whole messages (Next): the allocation it
			// would make anyway, and one copy instead of two. (Appended to
			// an empty slice, the copy is not zeroed first.)
			buf = []byte{}
		case q.spare != nil:
			// A stream reads it in place and gives it back; NextAppend
			// copies it out and gives it back; Next hands out a copy.
			// Either way a message arriving in many pieces grows no new
			// buffer.
			buf, q.spare, spare = q.spare[:0], nil, true
		case fin:
			// The one allocation per message (NextAppend keeps it as the
			// spare buffer once copied out). Made to measure, not lent: a
			// pool's smallest buffer is 4 KiB, and a connection's first
			// small message would hold one until it parks.
			buf = make([]byte, 0, len(data))
		default:
			// The first of many pieces, in a buffer of the queue's own
			// (lent by Buffers, when set), which becomes the spare: as
			// large as the frame says when it is known, grown as the
			// pieces come when not.
			buf, spare = newBuffer(q.cfg.Buffers, max(len(data), int(min(sizeHint, maxSpare)))), true
		}
		q.entries = append(q.entries, entry{op: op, data: append(buf, data...), size: int64(len(data)), done: fin, spare: spare})
		q.bytes += int64(len(data)) + messageOverhead
	case frame.OpContinuation:
		if open == nil {
			return ErrNoMessage
		}
		if open.size+int64(len(data)) > q.cfg.MaxMessageSize {
			return ErrTooBig
		}
		if open.spare {
			open.data = appendThrough(q.cfg.Buffers, open.data, data)
		} else {
			open.data = append(open.data, data...) // the caller's, in the end
		}
		open.size += int64(len(data))
		open.done = fin
		q.bytes += int64(len(data))
	default:
		return ErrBadOpcode
	}
	if fin {
		q.complete++
	}
	q.version.Add(1)
	q.updatePause()
	q.notify()
	return nil
}

// updatePause applies the water marks. The producer is paused only while
// the consumer can make progress without it (a complete message is queued,
// or a stream is being read): a message larger than HighWater that is still
// arriving must not stop the reading that would complete it.
func (q *Queue) updatePause() {
	progress := q.complete > 0 || q.streaming
	switch {
	case !q.paused && !q.closed && progress && q.bytes >= q.cfg.HighWater:
		q.paused = true
		q.pausedA.Store(true)
	case q.paused && (q.bytes <= q.cfg.LowWater || !progress):
		q.unpause()
	}
}

// PushEvent pushes a protocol data event and ignores every other kind, so
// an adapter can hand over each event it takes from the engine.
//
// It is small enough to be inlined: an adapter calls it on the path of
// every socket read, where one frame less keeps a Read loop's goroutine
// stack from growing when a message's allocation takes the allocator's
// slow path (see the adapters' fill).
func (q *Queue) PushEvent(ev protocol.Event) error {
	if ev.Kind != protocol.EventData {
		return nil
	}
	// A frame that arrives in pieces has its length in the header (unless
	// an extension decodes it): push takes it as the message's size hint.
	return q.push(ev.Opcode, ev.Data, ev.Fin, ev.More, ev.Rsv, ev.FrameLength)
}

// openEntry returns the unfinished message at the tail, if any.
func (q *Queue) openEntry() *entry {
	if n := len(q.entries); n > q.head && !q.entries[n-1].done {
		return &q.entries[n-1]
	}
	return nil
}

// Close records why the connection ended (nil means ErrClosed) and wakes
// every waiter. Messages already queued are still delivered. Close is
// idempotent: the first error stays. It also releases a paused producer.
func (q *Queue) Close(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if err == nil {
		err = ErrClosed
	}
	q.closed, q.err = true, err
	q.version.Add(1)
	// Nothing more arrives: the buffers kept for reuse go.
	q.letGo(q.spare)
	q.spare, q.readers = nil, nil
	q.unpause()
	q.notify()
}

// Trim drops the buffers the queue keeps for reuse (the spare buffer
// streams and multi-piece messages are gathered in, and the Readers not
// yet handed out), unless a stream is being read, so that a connection
// idle after large messages holds none of them. The next message allocates
// again. Queued messages are untouched.
func (q *Queue) Trim() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.streaming {
		return
	}
	q.letGo(q.spare)
	q.spare, q.readers = nil, nil
}

// Paused reports whether the producer should stop reading: the queue
// reached HighWater and has not drained to LowWater. It is false once
// closed.
func (q *Queue) Paused() bool {
	return q.pausedA.Load() // checked after every read: no lock
}

// Resumed returns a channel that is closed when the queue is not paused.
func (q *Queue) Resumed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.paused {
		return closedChan
	}
	if q.resumed == nil { // made for a waiter only: a pause allocates nothing
		q.resumed = make(chan struct{})
	}
	return q.resumed
}

// Len returns the number of messages queued, the unfinished one included.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries) - q.head
}

// Next returns the oldest complete message, waiting for one. After Close
// it returns what is queued, then ErrIncompleteMessage (wrapping the close
// error) for a message cut short, then the close error. If ctx ends first
// it returns ctx.Err() and the queue is unchanged.
func (q *Queue) Next(ctx context.Context) (Message, error) {
	return q.next(ctx, nil, false)
}

// NextAppend is Next for a consumer that keeps its own buffer: it appends
// the message's payload to dst and returns the result as the Message's
// Data (on an error, Data is dst unchanged). The queue keeps the buffer it
// gathered the message in for the messages after it, so a consumer that
// passes the returned slice back (as Data[:0]) takes messages of up to
// 256 KiB without allocating once both buffers have grown to their size.
func (q *Queue) NextAppend(ctx context.Context, dst []byte) (Message, error) {
	return q.next(ctx, dst, true)
}

func (q *Queue) next(ctx context.Context, dst []byte, appendTo bool) (Message, error) {
	for {
		q.mu.Lock()
		m, ok, err := q.tryNext(dst, appendTo)
		if ok || err != nil {
			q.mu.Unlock()
			if !ok {
				m.Data = dst
			}
			return m, err
		}
		if werr := q.wait(ctx); werr != nil {
			return Message{Data: dst}, werr
		}
	}
}

// TryNext is Next without waiting: ok is false (and err nil) when no
// complete message is queued and the queue is open.
func (q *Queue) TryNext() (m Message, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.tryNext(nil, false)
}

// tryNext takes the oldest complete message: the queue's buffer itself,
// or with appendTo a copy appended to dst. q.mu held.
func (q *Queue) tryNext(dst []byte, appendTo bool) (Message, bool, error) {
	// Whole messages handed over are gathered each in its own allocation;
	// copied out, they are gathered in the spare buffer (see push).
	q.wholeReads = !appendTo
	if q.streaming {
		return Message{}, false, ErrStreamInProgress
	}
	if q.head < len(q.entries) {
		e := &q.entries[q.head]
		if e.done {
			m := Message{Opcode: e.op, Data: e.data}
			if e.spare || appendTo {
				// The caller owns what it gets: a copy, appended to its
				// buffer (or to an empty slice: memory not zeroed
				// first), and the buffer stays the queue's.
				if !appendTo {
					dst = []byte{}
				}
				m.Data = append(dst, e.data...)
				q.keepSpare(e.data)
			}
			q.complete--
			q.consumed(int64(len(e.data)) + messageOverhead)
			q.pop()
			return m, true, nil
		}
		if q.closed {
			return Message{}, false, q.dropIncomplete()
		}
		return Message{}, false, nil
	}
	if q.closed {
		return Message{}, false, q.err
	}
	return Message{}, false, nil
}

// keepSpare keeps buf, a message's buffer the consumer is done with, for
// the next message: unless it is over maxSpare, the queue is closed, or a
// spare buffer is kept already; then it goes back to Buffers. q.mu held.
func (q *Queue) keepSpare(buf []byte) {
	if cap(buf) <= maxSpare && q.spare == nil && !q.closed {
		q.spare = buf[:0]
		return
	}
	q.letGo(buf)
}

// letGo gives a buffer of the queue's own back to Buffers, if any: the
// consumer never got it. q.mu held.
func (q *Queue) letGo(buf []byte) {
	if q.cfg.Buffers != nil && buf != nil {
		q.cfg.Buffers.Put(buf)
	}
}

// dropIncomplete removes the message cut short by the close and returns
// the error that reports it.
func (q *Queue) dropIncomplete() error {
	e := &q.entries[q.head]
	err := fmt.Errorf("%w (%v, %d bytes received): %w", ErrIncompleteMessage, e.op, e.size, q.err)
	q.consumed(int64(len(e.data)-e.off) + messageOverhead)
	if e.spare {
		q.letGo(e.data)
	}
	q.pop()
	return err
}

func (q *Queue) pop() {
	q.entries[q.head] = entry{}
	q.head++
	if q.head == len(q.entries) {
		q.entries = q.entries[:0]
		q.head = 0
	} else if q.head > 32 && q.head*2 > len(q.entries) {
		n := copy(q.entries, q.entries[q.head:])
		clear(q.entries[n:])
		q.entries = q.entries[:n]
		q.head = 0
	}
	q.notify()
}

// consumed takes n bytes off the flow-control count.
func (q *Queue) consumed(n int64) {
	q.bytes -= n
	q.updatePause()
}

func (q *Queue) unpause() {
	if q.paused {
		q.paused = false
		q.pausedA.Store(false)
		if q.resumed != nil {
			close(q.resumed)
			q.resumed = nil
		}
	}
}

// notify wakes the waiters, if there are any (so that the common case,
// nobody waiting, allocates nothing).
func (q *Queue) notify() {
	if q.waiters > 0 {
		close(q.changed)
		q.changed = make(chan struct{})
		q.waiters = 0
	}
}

// wait releases the lock (held on entry) until the state changes or ctx
// ends. With a fill function it calls it; the select is in waitChanged,
// so that this frame, under every read of an adapter's Read loop (which
// allocates each message from inside fill), stays small.
func (q *Queue) wait(ctx context.Context) error {
	if q.fill != nil {
		seen := q.version.Load()
		q.mu.Unlock()
		return q.fill(ctx, seen)
	}
	return q.waitChanged(ctx)
}

// waitChanged is wait without a fill function.
func (q *Queue) waitChanged(ctx context.Context) error {
	ch := q.changed
	q.waiters++
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NextReader returns the oldest message as a stream, as soon as its first
// piece is queued: Read returns its bytes as they arrive and io.EOF at its
// end. A message whose stream was not read to the end is continued. After
// Close, see Next. A Reader is valid until the next NextReader call: after
// it, Read returns ErrStaleReader.
func (q *Queue) NextReader(ctx context.Context) (frame.Opcode, *Reader, error) {
	for {
		q.mu.Lock()
		q.wholeReads = false
		if q.head < len(q.entries) {
			q.streaming = true
			q.updatePause()
			op := q.entries[q.head].op
			r := q.newReader(ctx)
			q.mu.Unlock()
			return op, r, nil
		}
		if q.closed {
			err := q.err
			q.mu.Unlock()
			return 0, nil, err
		}
		if err := q.wait(ctx); err != nil {
			return 0, nil, err
		}
	}
}

// newReader hands out a Reader of a new generation. q.mu held. Readers
// are never reused, so a stale one can always be told from the current one;
// they come from small slabs so that streaming allocates (amortised)
// nothing.
func (q *Queue) newReader(ctx context.Context) *Reader {
	if len(q.readers) == 0 {
		q.slab = min(max(2*q.slab, 4), 64)
		q.readers = make([]Reader, q.slab)
	}
	r := &q.readers[0]
	q.readers = q.readers[1:]
	q.streamGen++
	q.streamCtx = ctx
	*r = Reader{q: q, gen: q.streamGen}
	return r
}

// Reader streams one message of a Queue. It holds only what tells it from
// the Readers before and after it; the rest (its context) is the queue's,
// for the current Reader: the slabs stay small (16 bytes a message).
type Reader struct {
	q   *Queue
	gen uint64
}

// Read reads the streamed message, waiting for more of it under the
// context given to NextReader. At the end of the message it returns io.EOF;
// if the connection ended first, an error wrapping ErrIncompleteMessage.
func (r *Reader) Read(p []byte) (int, error) {
	return r.read(nil, p)
}

// ReadContext is Read with its own context. When ctx ends it returns
// ctx.Err() having consumed nothing.
func (r *Reader) ReadContext(ctx context.Context, p []byte) (int, error) {
	return r.read(ctx, p)
}

// read is ReadContext, with NextReader's context if ctx is nil.
func (r *Reader) read(ctx context.Context, p []byte) (int, error) {
	q := r.q
	for {
		q.mu.Lock()
		if r.gen != q.streamGen {
			q.mu.Unlock()
			return 0, ErrStaleReader
		}
		if !q.streaming {
			q.mu.Unlock()
			return 0, io.EOF
		}
		if ctx == nil {
			ctx = q.streamCtx
		}
		e := &q.entries[q.head]
		if e.off < len(e.data) {
			n := copy(p, e.data[e.off:])
			e.off += n
			// Keep the buffer no larger than what is unread.
			if e.off == len(e.data) {
				e.data, e.off = e.data[:0], 0
			}
			q.consumed(int64(n))
			q.mu.Unlock()
			return n, nil
		}
		if e.done {
			q.keepSpare(e.data)
			q.complete--
			q.streaming, q.streamCtx = false, nil
			q.consumed(messageOverhead)
			q.pop()
			q.mu.Unlock()
			return 0, io.EOF
		}
		if q.closed {
			q.streaming, q.streamCtx = false, nil
			err := q.dropIncomplete()
			q.updatePause()
			q.mu.Unlock()
			return 0, err
		}
		if err := q.wait(ctx); err != nil {
			return 0, err
		}
	}
}

package assembler

import (
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Joiner joins a message's data events into the whole message, for a driver
// that hands each message to a callback as it completes (an OnMessage)
// instead of queueing it; both of wsengine's drivers use it. A message that
// came in one event is that event's Data, without a copy. One that came in
// several (fragments, or a large frame in pieces) is gathered in buffers
// the driver lends (Buffers: a pool, or a spare), and the driver gets the
// last back with the message. The zero value is ready; it holds a buffer
// only while a message is being gathered.
type Joiner struct {
	buf []byte
	op  frame.Opcode
	in  bool
}

// Buffers lends a Joiner, and a Queue (Config.Buffers), what they gather
// messages in. Get returns an empty buffer that should hold size bytes: a
// smaller one (nil included) is grown by append. Put takes back a buffer
// they outgrew or let go of; they do not use it after. A pool whose Get
// and Put do not allocate, such as the drivers' (internal/bufpool),
// gathers a message of any number of fragments without allocating: the
// buffer grows through its classes.
type Buffers = protocol.Buffers

// Add takes the next data event (protocol.EventData). When ev completes a
// message, done is true and op and p are the message; gathered says
// whether p is a gathered buffer, the caller's from now on (to reuse or
// give back), rather than ev.Data. When ev begins a message it does not
// end, Add gathers it into bufs.Get(sizeHint), sizeHint being the frame's
// length as far as it is known; when the next event does not fit, the
// bytes move into bufs.Get of twice the room (or what they need, if more)
// and the outgrown buffer goes to bufs.Put, since fragments do not tell
// the message's length. With bufs nil the Joiner allocates (newBuffer),
// and grows by append. Add reads ev and keeps none of it but the bytes it
// gathers: an event is about 90 bytes, passed on every message's path.
func (j *Joiner) Add(ev *protocol.Event, bufs Buffers) (op frame.Opcode, p []byte, gathered, done bool) {
	if !j.in {
		if ev.Fin {
			return ev.Opcode, ev.Data, false, true
		}
		j.buf = newBuffer(bufs, int(min(ev.FrameLength, maxRetainedGather)))
		j.op, j.in = ev.Opcode, true
	}
	j.buf = appendThrough(bufs, j.buf, ev.Data)
	if !ev.Fin {
		return 0, nil, false, false
	}
	p = j.buf
	j.buf, j.in = nil, false
	return j.op, p, true, true
}

// Gathering reports whether a message is being gathered.
func (j *Joiner) Gathering() bool { return j.in }

// Reset drops a message being gathered (the connection ended) and returns
// its buffer, nil if there was none.
func (j *Joiner) Reset() []byte {
	b := j.buf
	*j = Joiner{}
	return b
}

// newBuffer returns an empty buffer for at least n bytes: bufs.Get's, or
// one allocated (4 KiB at least, so that a message of many small pieces
// does not grow by a dozen appends) when bufs is nil.
func newBuffer(bufs Buffers, n int) []byte {
	if bufs != nil {
		return bufs.Get(n)[:0]
	}
	return make([]byte, 0, max(n, minGather))
}

// minGather is the least a gathering buffer is allocated with.
const minGather = 4 << 10

// appendThrough appends p to b, which bufs lent: when p does not fit, the
// bytes move into bufs.Get of twice the room (or what they need, if more)
// and b goes back by bufs.Put, so a buffer grows through a pool's classes
// instead of by an allocating append. With bufs nil it is append.
func appendThrough(bufs Buffers, b, p []byte) []byte {
	if need := len(b) + len(p); need > cap(b) && bufs != nil {
		nb := append(bufs.Get(max(need, 2*cap(b)))[:0], b...)
		bufs.Put(b)
		b = nb
	}
	return append(b, p...)
}

// maxRetainedGather caps the capacity a gathering buffer is asked for from
// a frame's declared length: a peer's header alone does not make a driver
// allocate its maximum message size.
const maxRetainedGather = 256 << 10

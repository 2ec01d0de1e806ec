package assembler

import (
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Joiner joins a message's data events into the whole message, for a driver
// that hands each message to a callback as it completes (an OnMessage)
// instead of queueing it; both of wsengine's drivers use it. A message that
// came in one event is that event's Data, without a copy. One that came in
// several (fragments, or a large frame in pieces) is gathered in a buffer
// the driver supplies when the message begins, from a pool or a spare, and
// gets back with the message. The zero value is ready; it holds a buffer
// only while a message is being gathered.
type Joiner struct {
	buf []byte
	op  frame.Opcode
	in  bool
}

// Add takes the next data event (protocol.EventData). When ev completes a
// message, done is true and op and p are the message; gathered says
// whether p is a gathered buffer, the caller's from now on (to reuse or
// give back), rather than ev.Data. When ev begins a message it does not
// end, Add gathers it into newBuf(sizeHint)[:0] (newBuf may be nil: then
// it allocates), sizeHint being the frame's length as far as it is known.
func (j *Joiner) Add(ev protocol.Event, newBuf func(sizeHint int) []byte) (op frame.Opcode, p []byte, gathered, done bool) {
	if !j.in {
		if ev.Fin {
			return ev.Opcode, ev.Data, false, true
		}
		hint := int(min(ev.FrameLength, maxRetainedGather))
		if newBuf != nil {
			j.buf = newBuf(hint)[:0]
		} else {
			j.buf = make([]byte, 0, hint)
		}
		j.op, j.in = ev.Opcode, true
	}
	j.buf = append(j.buf, ev.Data...)
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

// maxRetainedGather caps the capacity a gathering buffer is asked for from
// a frame's declared length: a peer's header alone does not make a driver
// allocate its maximum message size.
const maxRetainedGather = 256 << 10

package adapters

import (
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

type readyMsg struct {
	op       frame.Opcode
	data     []byte
	gathered bool // data is a gathered buffer that may be reused
}

// maxRetainedMessage is the largest gathered buffer kept for reuse.
const maxRetainedMessage = 256 << 10

// gather joins data events into messages for OnMessage (assembler.Joiner,
// as the event loop does). c.mu held. A message in one event is handed over
// as the engine's data, without a copy: it stays valid until the next
// Receive or ReadBuffer, which only the background reader calls, after
// delivering. One in several is gathered in the last delivered message's
// buffer.
func (c *Conn) gather(ev protocol.Event) {
	if op, p, gathered, done := c.join.Add(ev, &c.spare); done {
		c.ready = append(c.ready, readyMsg{op, p, gathered})
	}
}

// spareBuffer is a delivered message's buffer, lent to the next message
// gathered (assembler.Buffers). What that message outgrows is dropped: the
// spare is as large as this connection's messages after the first. c.mu.
type spareBuffer struct{ b []byte }

func (s *spareBuffer) Get(int) []byte {
	b := s.b
	s.b = nil
	return b
}

func (s *spareBuffer) Put([]byte) {}

// deliver hands gathered messages to OnMessage, in the background reader,
// without holding c.mu. While it runs nothing is read: Close called from
// the callback does not wait for the peer (see Close).
func (c *Conn) deliver() {
	c.mu.Lock()
	ready := c.ready
	c.ready = nil
	c.inCallback = true
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
	c.inCallback = false
	if c.ready == nil {
		c.ready = ready[:0]
	}
	if spare != nil && c.spare.b == nil {
		c.spare.b = spare
	}
	c.releaseIfDone()
	c.mu.Unlock()
}

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
	if op, p, gathered, done := c.join.Add(ev, c.takeSpare); done {
		c.ready = append(c.ready, readyMsg{op, p, gathered})
	}
}

// takeSpare hands the buffer of a delivered message to the next one
// gathered. c.mu held.
func (c *Conn) takeSpare(int) []byte {
	b := c.spareBuf
	c.spareBuf = nil
	return b
}

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
	if spare != nil && c.spareBuf == nil {
		c.spareBuf = spare
	}
	c.releaseIfDone()
	c.mu.Unlock()
}

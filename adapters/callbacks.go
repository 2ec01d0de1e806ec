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

// gather joins data events into messages for OnMessage (assembler.Joiner,
// as the event loop does). c.mu held. A message in one event is handed over
// as the engine's data, without a copy: it stays valid until the next
// Receive or ReadBuffer, which only the background reader calls, after
// delivering. One in several is gathered in pooled buffers, growing through
// the pool's classes, and goes back to the pool once OnMessage returned: a
// connection holds no gathering buffer between messages.
func (c *Conn) gather(ev *protocol.Event) {
	if op, p, gathered, done := c.join.Add(ev, &buffers); done {
		c.ready = append(c.ready, readyMsg{op, p, gathered})
	}
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
	for i, m := range ready {
		c.onMessage(c, m.op, m.data)
		if m.gathered {
			buffers.Put(m.data)
		}
		ready[i] = readyMsg{}
	}
	c.mu.Lock()
	c.inCallback = false
	if c.ready == nil {
		c.ready = ready[:0]
	}
	c.releaseIfDone()
	c.mu.Unlock()
}

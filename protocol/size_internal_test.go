package protocol

import (
	"testing"
	"unsafe"

	"github.com/wsengine/ws/internal/sizeclass"
)

// An idle connection's memory is mostly its engine: it must stay in the
// 576-byte allocation size class (what an event loop's 15,000-connection
// measurement in bench/ counts). A field that pushes it out costs 64 bytes a
// connection; put what only closing, handshaking or client connections need
// behind a pointer, as closeState and a client's maskKeys do. The struct's size is not enough to
// tell: an object past 512 bytes that holds pointers carries an 8-byte
// header, so the allocations are counted by size class (other allocations
// meanwhile only add to the counts).
func TestConnSizeClass(t *testing.T) {
	sizeclass.Require(t, 576, func() *Conn { return &Conn{} })
}

// An Event is copied out of the engine for every frame, in the frames on a
// driver's deepest path: its fields are laid out without padding words.
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(Event{}); n > 88 {
		t.Fatalf("protocol.Event is %d bytes, want 88 at most", n)
	}
}

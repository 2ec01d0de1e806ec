package protocol

import (
	"testing"
	"unsafe"
)

// An idle connection's memory is mostly its engine: the struct must stay in
// the 640-byte allocation size class (what an event loop's 15,000-connection
// measurement in bench/ counts). A field that pushes it out costs 64 bytes a
// connection; put what only closing, handshaking or client connections need
// behind a pointer, as closeState does.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 640 {
		t.Fatalf("protocol.Conn is %d bytes, past the 640-byte size class", n)
	}
}

// An Event is copied out of the engine for every frame, in the frames on a
// driver's deepest path: its fields are laid out without padding words.
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(Event{}); n > 88 {
		t.Fatalf("protocol.Event is %d bytes, want 88 at most", n)
	}
}

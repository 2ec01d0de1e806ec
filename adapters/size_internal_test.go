package adapters

import (
	"testing"
	"unsafe"

	"github.com/wsengine/ws/internal/sizeclass"
)

// Every goroutine-driven connection allocates a Conn: it must stay one
// allocation of the 768-byte size class. An object over 512 bytes that
// holds pointers carries an 8-byte header, so the struct may be 760 bytes
// at most; it is exactly that since its fields were grouped by owner
// (embedded groups, each with its bools last). At 776 bytes, before, it
// took the 896-byte class. The test counts allocations in the class
// (package sizeclass) rather than trusting unsafe.Sizeof, which knows
// nothing of the header.
func TestConnSizeClass(t *testing.T) {
	const n = 1000
	if in := sizeclass.Count(n, 768, func() *Conn { return &Conn{} }); in < n {
		t.Fatalf("%d of %d adapters.Conns were allocated in the 768-byte size class (the struct is %d bytes)", in, n, unsafe.Sizeof(Conn{}))
	}
}

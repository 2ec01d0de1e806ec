package adapters

import (
	"testing"

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
	sizeclass.Require(t, 768, func() *Conn { return &Conn{} })
}

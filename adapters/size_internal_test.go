package adapters

import (
	"testing"

	"github.com/wsengine/ws/internal/sizeclass"
)

// Every goroutine-driven connection allocates a Conn: it must stay one
// allocation of the 704-byte size class. An object over 512 bytes that
// holds pointers carries an 8-byte header, so the struct may be 696 bytes
// at most; it is exactly that since the read's start became roundAt
// (which only the read token's holder sets) and the token's owner sits
// with the other small fields. At 728 bytes, before, it took the 768-byte
// class, and at 776, before its fields were grouped by owner, the
// 896-byte one. The test counts allocations in the class (package
// sizeclass) rather than trusting unsafe.Sizeof, which knows nothing of
// the header.
func TestConnSizeClass(t *testing.T) {
	sizeclass.Require(t, 704, func() *Conn { return &Conn{} })
}

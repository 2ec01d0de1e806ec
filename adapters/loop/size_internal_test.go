package loop

import (
	"testing"
	"unsafe"
)

// Beside its engine, an idle loop-driven connection costs its Conn: the
// struct must stay in the 128-byte size class (see the Conn comment).
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 128 {
		t.Fatalf("loop.Conn is %d bytes, past the 128-byte size class", n)
	}
}

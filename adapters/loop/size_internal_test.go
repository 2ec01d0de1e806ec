package loop

import (
	"testing"
	"unsafe"

	"github.com/wsengine/ws/internal/sizeclass"
)

// Beside its engine, an idle loop-driven connection costs its Conn: the
// struct must stay in the 128-byte size class (see the Conn comment).
func TestConnSizeClass(t *testing.T) {
	const n = 1000
	if in := sizeclass.Count(n, 128, func() *Conn { return &Conn{} }); in < n {
		t.Fatalf("%d of %d loop.Conns were allocated in the 128-byte size class (the struct is %d bytes)", in, n, unsafe.Sizeof(Conn{}))
	}
}

package adapters

import (
	"runtime"
	"testing"
	"unsafe"
)

// Every goroutine-driven connection allocates a Conn: it must stay one
// allocation of the 768-byte size class. An object over 512 bytes that
// holds pointers carries an 8-byte header, so the struct may be 760 bytes
// at most; it is exactly that since its fields were grouped by owner
// (embedded groups, each with its bools last). At 776 bytes, before, it
// took the 896-byte class. The test counts allocations in the class rather
// than trusting unsafe.Sizeof, which knows nothing of the header.
func TestConnSizeClass(t *testing.T) {
	const n, class = 1000, 768
	conns := make([]*Conn, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range conns {
		conns[i] = &Conn{}
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	var in uint64
	for i, c := range after.BySize {
		if c.Size == class {
			in = c.Mallocs - before.BySize[i].Mallocs
		}
	}
	if in < n {
		t.Fatalf("%d of %d adapters.Conns were allocated in the %d-byte size class (the struct is %d bytes)", in, n, class, unsafe.Sizeof(Conn{}))
	}
}

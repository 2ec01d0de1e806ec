// Package sizeclass tells the tests that keep a per-connection struct in
// one of the allocator's size classes (protocol.Conn, adapters.Conn,
// adapters/loop.Conn) where their allocations land. The struct's size is
// not enough to tell: an object past 512 bytes that holds pointers carries
// an 8-byte header. Only tests use it.
package sizeclass

import (
	"runtime"
	"testing"
	"unsafe"
)

// Count makes n allocations with alloc and returns how many allocations of
// the size class of size bytes were made meanwhile (other allocations
// meanwhile only add to the count). alloc's results are kept alive until
// the count is taken.
func Count[T any](n int, size uint32, alloc func() *T) uint64 {
	kept := make([]*T, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range kept {
		kept[i] = alloc()
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	for i, c := range after.BySize {
		if c.Size == size {
			return c.Mallocs - before.BySize[i].Mallocs
		}
	}
	return 0
}

// Require fails t unless 1,000 allocations with alloc all land in the
// size class of size bytes (the per-connection tests' one assertion).
func Require[T any](t testing.TB, size uint32, alloc func() *T) {
	t.Helper()
	const n = 1000
	if in := Count(n, size, alloc); in < n {
		var zero T
		t.Fatalf("%d of %d %T were allocated in the %d-byte size class (the struct is %d bytes)", in, n, &zero, size, unsafe.Sizeof(zero))
	}
}

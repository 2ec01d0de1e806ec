// Package bufpool is where the drivers' buffers go when a connection lets
// go of them and where they come from when it needs one: output a
// connection frames, a loop's scratch reads, messages being gathered. Both
// drivers (package adapters and adapters/loop) use it, so that an idle
// connection holds no buffer under either and a busy one takes them back
// without the allocator.
//
// Invariants:
//   - Get(n) returns an empty buffer that holds n bytes. A buffer is filed
//     under the largest power-of-two class it fills (Min, 2×Min, … Max) and
//     taken from the smallest class that holds n, so what is framed into
//     it never grows it by an append.
//   - Once the pool is warm, neither Get nor Put allocates: the pointers
//     buffers are pooled by are recycled too.
//   - The pool is a cache, one sync.Pool a class: the garbage collector
//     empties it, so the buffers a burst needed do not stay after it.
//     (Under the race detector sync.Pool drops a quarter of what is put,
//     at random: tests that count allocations run without it.)
//   - Buffers smaller than Min or larger than Max are not pooled; Get
//     makes those to measure.
//
// The zero Pool is ready to use, and may be used from any goroutine.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	// Min is the smallest buffer pooled, and what Get returns at least.
	Min = 4 << 10
	// Max is the largest buffer pooled.
	Max = 256 << 10

	numClasses = 7 // Min<<(numClasses-1) == Max
)

// Pool pools byte buffers in size classes.
type Pool struct {
	classes [numClasses]sync.Pool
	holders sync.Pool // *[]byte, emptied, for the next Put
}

// Get returns an empty buffer whose capacity is at least size (and at
// least Min): pooled up to Max, made to measure past it.
func (p *Pool) Get(size int) []byte {
	if size > Max {
		return make([]byte, 0, size)
	}
	class := 0
	if size > Min {
		class = bits.Len(uint(size-1) / Min)
	}
	if h, ok := p.classes[class].Get().(*[]byte); ok {
		b := (*h)[:0]
		*h = nil
		p.holders.Put(h)
		return b
	}
	return make([]byte, 0, Min<<class)
}

// Put gives b back for a later Get; the caller must not use it after. A
// buffer outside Min to Max is left to the garbage collector.
func (p *Pool) Put(b []byte) {
	if cap(b) < Min || cap(b) > Max {
		return
	}
	class := bits.Len(uint(cap(b)/Min)) - 1
	h, _ := p.holders.Get().(*[]byte)
	if h == nil {
		h = new([]byte)
	}
	*h = b[:0]
	p.classes[class].Put(h)
}

// Output is the part of protocol.Conn that MakeRoom uses.
type Output interface {
	Outgoing() []byte
	SwapWriteBuffer(spare []byte) []byte
}

// MakeRoom is the drivers' one growth rule for output that waits
// (coalesced, or behind a slow socket): when it leaves less than size
// bytes of room, it moves into a pooled buffer that holds both, and the
// buffer it leaves goes back to the pool, so it grows through the classes
// rather than by an allocating append. Past Max it does nothing and the
// engine's append doubles the buffer: a buffer made to measure would be
// made again, with all that waits copied into it, for every message
// queued behind a peer that reads nothing.
func (p *Pool) MakeRoom(out Output, size int) {
	o := out.Outgoing()
	if len(o) > 0 && cap(o)-len(o) < size && len(o)+size <= Max {
		p.Put(out.SwapWriteBuffer(p.Get(len(o) + size)))
	}
}

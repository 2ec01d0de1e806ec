package assembler_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

func dataEvent(op frame.Opcode, fin bool, data string) protocol.Event {
	return protocol.Event{Kind: protocol.EventData, Opcode: op, Fin: fin, Data: []byte(data), FrameLength: uint64(len(data))}
}

// A message in one event is that event's bytes; one in several is gathered
// in the buffer the driver gives when it begins, and handed back with it.
func TestJoiner(t *testing.T) {
	tests := []struct {
		name     string
		events   []protocol.Event
		op       frame.Opcode
		want     string
		gathered bool
	}{
		{"one event", []protocol.Event{dataEvent(frame.OpText, true, "hello")}, frame.OpText, "hello", false},
		{"fragments", []protocol.Event{dataEvent(frame.OpBinary, false, "he"), dataEvent(frame.OpContinuation, false, ""), dataEvent(frame.OpContinuation, true, "llo")}, frame.OpBinary, "hello", true},
		{"a frame in pieces", []protocol.Event{{Kind: protocol.EventData, Opcode: frame.OpText, More: true, Data: []byte("hel"), FrameLength: 5}, {Kind: protocol.EventData, Opcode: frame.OpContinuation, Fin: true, Data: []byte("lo"), FrameLength: 5}}, frame.OpText, "hello", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j assembler.Joiner
			spare := make([]byte, 0, 64)
			bufs := &recorder{give: [][]byte{spare}}
			for i, ev := range tt.events {
				op, p, gathered, done := j.Add(&ev, bufs)
				if last := i == len(tt.events)-1; done != last {
					t.Fatalf("event %d: done %v", i, done)
				}
				if !done {
					if !j.Gathering() {
						t.Fatalf("event %d: not gathering", i)
					}
					continue
				}
				if op != tt.op || string(p) != tt.want || gathered != tt.gathered || j.Gathering() {
					t.Fatalf("got %v %q gathered %v (gathering %v)", op, p, gathered, j.Gathering())
				}
				if gathered && &p[:1][0] != &spare[:1][0] {
					t.Fatal("not gathered in the buffer given")
				}
				if !gathered && &p[0] != &ev.Data[0] {
					t.Fatal("a message in one event was copied")
				}
			}
			if wantHints := map[bool]int{true: 1, false: 0}[tt.gathered]; len(bufs.asked) != wantHints || len(bufs.put) != 0 {
				t.Fatalf("asked for %d buffers (sizes %v), given back %d", len(bufs.asked), bufs.asked, len(bufs.put))
			}
		})
	}
}

// recorder is Buffers that hands out the buffers in give, in turn (then
// made to measure), and records what was asked for and given back.
type recorder struct {
	give  [][]byte
	asked []int
	put   [][]byte
}

func (r *recorder) Get(size int) []byte {
	r.asked = append(r.asked, size)
	if len(r.give) == 0 {
		return make([]byte, 0, size)
	}
	b := r.give[0]
	r.give = r.give[1:]
	return b
}

func (r *recorder) Put(b []byte) { r.put = append(r.put, b) }

// A message in more fragments than its first buffer holds grows through
// Buffers, not by append: each time the next fragment does not fit, the
// bytes move into a buffer of twice the room, asked for from Get, and the
// one outgrown goes back by Put. A Buffers that recycles (a pool) then
// gathers a message of any number of fragments without allocating.
func TestJoinerGrowsThroughBuffers(t *testing.T) {
	frag := strings.Repeat("x", 1000)
	events := []protocol.Event{dataEvent(frame.OpText, false, frag)}
	for range 8 {
		events = append(events, dataEvent(frame.OpContinuation, false, frag))
	}
	events = append(events, dataEvent(frame.OpContinuation, true, "end"))
	want := strings.Repeat(frag, 9) + "end"

	var j assembler.Joiner
	bufs := &recorder{}
	var got []byte
	for _, ev := range events {
		if _, p, gathered, done := j.Add(&ev, bufs); done {
			if !gathered {
				t.Fatal("a message of ten fragments was not gathered")
			}
			got = p
		}
	}
	if string(got) != want {
		t.Fatalf("gathered %d bytes, want %d", len(got), len(want))
	}
	// The first fragment's length, then twice the room each time.
	if wantAsked := []int{1000, 2000, 4000, 8000, 16000}; !slices.Equal(bufs.asked, wantAsked) {
		t.Fatalf("asked for %v, want %v", bufs.asked, wantAsked)
	}
	if len(bufs.put) != 4 {
		t.Fatalf("gave back %d outgrown buffers, want 4", len(bufs.put))
	}
	for i, b := range bufs.put {
		if cap(b) != bufs.asked[i] {
			t.Fatalf("buffer %d given back has room for %d, want the %d asked for", i, cap(b), bufs.asked[i])
		}
	}

	// Through a free list, gathering allocates nothing once it is warm.
	free := &freeList{}
	gatherAll := func() {
		for _, ev := range events {
			if _, p, _, done := j.Add(&ev, free); done {
				free.Put(p)
			}
		}
	}
	gatherAll()
	if allocs := testing.AllocsPerRun(50, gatherAll); allocs != 0 {
		t.Fatalf("%v allocations per message through a free list", allocs)
	}
}

// freeList is a Buffers that keeps what it is given back.
type freeList struct{ bufs [][]byte }

func (f *freeList) Get(size int) []byte {
	for i, b := range f.bufs {
		if cap(b) >= size {
			f.bufs = append(f.bufs[:i], f.bufs[i+1:]...)
			return b[:0]
		}
	}
	return make([]byte, 0, size)
}

func (f *freeList) Put(b []byte) { f.bufs = append(f.bufs, b) }

// Reset drops a message cut short and returns its buffer; without a buffer
// source the Joiner allocates its own.
func TestJoinerReset(t *testing.T) {
	var j assembler.Joiner
	if b := j.Reset(); b != nil {
		t.Fatalf("Reset of an idle Joiner returned %q", b)
	}
	first := dataEvent(frame.OpText, false, "abc")
	j.Add(&first, nil)
	if b := j.Reset(); string(b) != "abc" || j.Gathering() {
		t.Fatalf("Reset returned %q, gathering %v", b, j.Gathering())
	}
	whole := dataEvent(frame.OpBinary, true, "x")
	if op, p, gathered, done := j.Add(&whole, nil); !done || gathered || op != frame.OpBinary || string(p) != "x" {
		t.Fatalf("after Reset: %v %q %v %v", op, p, gathered, done)
	}
}

package assembler_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
)

// lender is a Buffers that keeps what it is given back and remembers
// every buffer it lent, to tell whether the queue gave them all back and
// whether a caller was handed one.
type lender struct {
	free  [][]byte
	lent  [][]byte // every buffer lent, ever
	out   int      // lent and not given back
	made  int      // Gets the free list could not serve
	asked []int
}

func (l *lender) Get(size int) []byte {
	l.asked = append(l.asked, size)
	l.out++
	for i, b := range l.free {
		if cap(b) >= size {
			l.free = append(l.free[:i], l.free[i+1:]...)
			return b[:0]
		}
	}
	l.made++
	b := make([]byte, 0, size)
	l.lent = append(l.lent, b)
	return b
}

func (l *lender) Put(b []byte) {
	l.out--
	l.free = append(l.free, b)
}

// owns reports whether p shares memory with a buffer the lender lent.
func (l *lender) owns(p []byte) bool {
	if cap(p) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(p[:1])))
	for _, b := range l.lent {
		base := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
		if start >= base && start < base+uintptr(cap(b)) {
			return true
		}
	}
	return false
}

// A queue with Buffers gathers its own buffers through them: every
// consumer gets its message whole, Next never gets a lent buffer, every
// lent buffer comes back (at Trim at the latest), and once the lender is
// warm, messages of many pieces with a Trim between them (a parked
// connection) take no buffer the lender must make.
func TestQueueGathersThroughBuffers(t *testing.T) {
	piece := strings.Repeat("p", 1000)
	want := strings.Repeat(piece, 10)
	ctx := context.Background()
	consumers := []struct {
		name string
		take func(*assembler.Queue, []byte) ([]byte, error)
	}{
		{"Next", func(q *assembler.Queue, _ []byte) ([]byte, error) {
			m, err := q.Next(ctx)
			return m.Data, err
		}},
		{"NextAppend", func(q *assembler.Queue, dst []byte) ([]byte, error) {
			m, err := q.NextAppend(ctx, dst[:0])
			return m.Data, err
		}},
		{"NextReader", func(q *assembler.Queue, dst []byte) ([]byte, error) {
			_, r, err := q.NextReader(ctx)
			if err != nil {
				return nil, err
			}
			dst = dst[:0]
			var chunk [700]byte
			for {
				n, err := r.Read(chunk[:])
				dst = append(dst, chunk[:n]...)
				if err == io.EOF {
					return dst, nil
				}
				if err != nil {
					return dst, err
				}
			}
		}},
	}
	for _, c := range consumers {
		t.Run(c.name, func(t *testing.T) {
			bufs := &lender{}
			q := assembler.New(assembler.Config{Buffers: bufs})
			dst := make([]byte, 0, len(want))
			round := func(i int) {
				if err := q.Push(frame.OpBinary, []byte(piece), false); err != nil {
					t.Fatal(err)
				}
				for j := 1; j < 10; j++ {
					if err := q.Push(frame.OpContinuation, []byte(piece), j == 9); err != nil {
						t.Fatal(err)
					}
				}
				got, err := c.take(q, dst)
				if err != nil || string(got) != want {
					t.Fatalf("round %d: %d bytes, %v; want the %d pushed", i, len(got), err, len(want))
				}
				if bufs.owns(got) {
					t.Fatalf("round %d: the consumer was handed a lent buffer", i)
				}
				q.Trim()
				if bufs.out != 0 {
					t.Fatalf("round %d: %d lent buffers not given back after Trim (asked %v)", i, bufs.out, bufs.asked)
				}
			}
			round(0)
			// The first piece's length, then twice the room each time.
			if wantAsked := []int{1000, 2000, 4000, 8000, 16000}; !slices.Equal(bufs.asked, wantAsked) {
				t.Fatalf("asked for %v, want %v", bufs.asked, wantAsked)
			}
			made := bufs.made
			for i := 1; i <= 20; i++ {
				round(i)
			}
			if bufs.made != made {
				t.Fatalf("20 more messages, each after a Trim, made %d buffers the lender did not have", bufs.made-made)
			}
		})
	}
}

// A message cut short by Close gives its lent buffer back once the
// consumer learns of it, and so do the spare after Close and a buffer
// lent to a stream that Close cut.
func TestQueueGivesBackAtClose(t *testing.T) {
	ctx := context.Background()
	bufs := &lender{}
	q := assembler.New(assembler.Config{Buffers: bufs})
	// A whole message read with NextAppend leaves a spare.
	q.Push(frame.OpText, []byte("one"), false)
	q.Push(frame.OpContinuation, []byte("two"), true)
	if m, err := q.NextAppend(ctx, nil); err != nil || string(m.Data) != "onetwo" {
		t.Fatalf("NextAppend: %q, %v", m.Data, err)
	}
	// A message cut short.
	q.Push(frame.OpText, []byte("three"), false)
	q.Close(errPeerClosed)
	if _, err := q.Next(ctx); err == nil {
		t.Fatal("a message cut short was returned whole")
	}
	if bufs.out != 0 {
		t.Fatalf("%d lent buffers not given back after Close and the cut message", bufs.out)
	}

	// A stream cut by Close.
	bufs = &lender{}
	q = assembler.New(assembler.Config{Buffers: bufs})
	q.Push(frame.OpBinary, []byte("abc"), false)
	_, r, err := q.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p [8]byte
	if n, err := r.Read(p[:]); n != 3 || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	q.Close(errPeerClosed)
	if _, err := r.Read(p[:]); err == nil || err == io.EOF {
		t.Fatalf("Read after Close mid-message: %v", err)
	}
	if bufs.out != 0 {
		t.Fatalf("%d lent buffers not given back after a stream cut by Close", bufs.out)
	}
}

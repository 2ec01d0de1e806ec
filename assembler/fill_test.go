package assembler_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// With SetFill, a consumer with nothing to take produces in its own
// goroutine: Next, NextReader and a Reader's Read call fill and look again.
func TestFillFeedsTheWaitingCaller(t *testing.T) {
	q := assembler.New(assembler.Config{})
	script := []func(){
		func() { q.Push(frame.OpText, []byte("he"), false) },
		func() { q.Push(frame.OpContinuation, []byte("llo"), true) },
		func() { q.Push(frame.OpBinary, []byte("ab"), false) },
		func() { q.Push(frame.OpContinuation, []byte("cd"), true) },
		func() { q.Close(errPeerClosed) },
	}
	calls := 0
	q.SetFill(func(ctx context.Context, seen uint64) error {
		if seen != q.Version() {
			t.Fatalf("fill got Version %d, queue at %d", seen, q.Version())
		}
		if calls == len(script) {
			t.Fatal("fill called after the queue closed")
		}
		script[calls]()
		calls++
		return nil
	})
	ctx := context.Background()
	m, err := q.Next(ctx)
	if err != nil || string(m.Data) != "hello" || calls != 2 {
		t.Fatalf("Next: %q %v after %d fills", m.Data, err, calls)
	}
	op, r, err := q.NextReader(ctx)
	if err != nil || op != frame.OpBinary {
		t.Fatal(op, err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "abcd" || calls != 4 {
		t.Fatalf("stream %q %v after %d fills", b, err, calls)
	}
	if _, err := q.Next(ctx); !errors.Is(err, errPeerClosed) || calls != 5 {
		t.Fatalf("after close: %v after %d fills", err, calls)
	}
}

// fill learns whether anything changed since its caller looked: Version
// moves with every piece pushed and with Close, and seen is its value at
// the caller's look. A producer that pushed in between (another goroutine,
// here the fill itself) shows as Version != seen.
func TestFillSeen(t *testing.T) {
	q := assembler.New(assembler.Config{})
	ctx := context.Background()
	calls := 0
	q.SetFill(func(ctx context.Context, seen uint64) error {
		calls++
		if seen != q.Version() {
			t.Fatalf("call %d: seen %d, Version %d before any push", calls, seen, q.Version())
		}
		switch calls {
		case 1:
			q.Push(frame.OpText, []byte("raced"), true)
		case 2:
			q.Push(frame.OpBinary, []byte("a"), false)
		case 3:
			q.Close(errPeerClosed)
		}
		if q.Version() == seen {
			t.Fatalf("call %d: Version did not move", calls)
		}
		return nil
	})
	if m, err := q.Next(ctx); err != nil || string(m.Data) != "raced" || calls != 1 {
		t.Fatalf("Next: %q %v after %d fills", m.Data, err, calls)
	}
	if _, r, err := q.NextReader(ctx); err != nil || calls != 2 {
		t.Fatalf("NextReader: %v after %d fills", err, calls)
	} else if _, err := io.ReadAll(r); !errors.Is(err, assembler.ErrIncompleteMessage) || calls != 3 {
		t.Fatalf("stream cut by Close: %v after %d fills", err, calls)
	}
}

// fill's error (its ctx's) ends the call and leaves the queue as it was.
func TestFillError(t *testing.T) {
	q := assembler.New(assembler.Config{})
	q.SetFill(func(ctx context.Context, seen uint64) error { return context.Canceled })
	if _, err := q.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	q.Push(frame.OpText, []byte("x"), false)
	_, r, _ := q.NextReader(context.Background())
	if n, err := r.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if _, err := r.Read(make([]byte, 8)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// A Reader taken over by a later NextReader fails with ErrStaleReader and
// never reads another message's bytes; one that reached io.EOF keeps
// returning io.EOF until then.
func TestStaleReader(t *testing.T) {
	q := assembler.New(assembler.Config{})
	ctx := context.Background()
	q.Push(frame.OpText, []byte("one"), true)
	q.Push(frame.OpText, []byte("two"), true)
	_, r1, _ := q.NextReader(ctx)
	if b, err := io.ReadAll(r1); string(b) != "one" || err != nil {
		t.Fatal(string(b), err)
	}
	if n, err := r1.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("after EOF: %d %v", n, err)
	}
	_, r2, _ := q.NextReader(ctx)
	buf := make([]byte, 8)
	if n, err := r1.Read(buf); n != 0 || !errors.Is(err, assembler.ErrStaleReader) {
		t.Fatalf("stale reader read %q, %v", buf[:n], err)
	}
	if b, err := io.ReadAll(r2); string(b) != "two" || err != nil {
		t.Fatal(string(b), err)
	}
	// A stream continued by NextReader: the earlier handle is stale too.
	q.Push(frame.OpText, []byte("three"), true)
	_, r3, _ := q.NextReader(ctx)
	r3.Read(buf[:2])
	_, r4, _ := q.NextReader(ctx)
	if _, err := r3.Read(buf); !errors.Is(err, assembler.ErrStaleReader) {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r4); string(b) != "ree" {
		t.Fatalf("continued %q", b)
	}
}

// Streaming allocates no Reader per message (amortised over slabs).
func TestNextReaderAllocs(t *testing.T) {
	q := assembler.New(assembler.Config{})
	buf := make([]byte, 64)
	msg := []byte("message")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		q.Push(frame.OpBinary, msg, true)
		_, r, _ := q.NextReader(ctx)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	})
	if allocs > 0.1 {
		t.Fatalf("%.2f allocations per streamed message", allocs)
	}
}

// A message arriving in many pieces costs Next one allocation, the copy it
// hands over; the message is the caller's, untouched by later ones.
func TestNextManyPiecesOneAllocation(t *testing.T) {
	q := assembler.New(assembler.Config{})
	piece := bytes.Repeat([]byte("x"), 4096)
	ctx := context.Background()
	var kept []byte
	run := func() {
		q.Push(frame.OpBinary, piece, false)
		for i := 0; i < 14; i++ {
			q.Push(frame.OpContinuation, piece, false)
		}
		q.Push(frame.OpContinuation, []byte("end"), true)
		m, err := q.Next(ctx)
		// A copy of its own, no larger than the allocator rounds it (a
		// page, 8 KiB, for a large object).
		if err != nil || len(m.Data) != 15*4096+3 || cap(m.Data) > len(m.Data)+8<<10 {
			t.Fatalf("%d bytes (cap %d), %v", len(m.Data), cap(m.Data), err)
		}
		kept = m.Data
	}
	run()
	first := kept
	if n := testing.AllocsPerRun(100, run); n != 1 {
		t.Fatalf("%.0f allocations per message, want 1", n)
	}
	if !bytes.Equal(first[len(first)-3:], []byte("end")) || &first[0] == &kept[0] {
		t.Fatal("a returned message shares memory with a later one")
	}
}

// A consumer of whole messages gets each one-piece message in the one
// allocation it costs anyway (no detour through the spare buffer); a
// stream consumer keeps reusing the spare.
func TestWholeReadsAllocateOnce(t *testing.T) {
	q := assembler.New(assembler.Config{})
	msg := bytes.Repeat([]byte("m"), 1000)
	ctx := context.Background()
	q.Push(frame.OpText, msg, true)
	q.Next(ctx)
	allocs := testing.AllocsPerRun(100, func() {
		q.Push(frame.OpText, msg, true)
		m, err := q.Next(ctx)
		// Its own allocation (the spare buffer is 4 KiB at least), in the
		// allocator's size class.
		if err != nil || len(m.Data) != 1000 || cap(m.Data) > 1024 {
			t.Fatalf("%d bytes (cap %d), %v", len(m.Data), cap(m.Data), err)
		}
	})
	if allocs != 1 {
		t.Fatalf("%.0f allocations per whole message", allocs)
	}
}

// A stream whose frames arrive in pieces, each announcing the frame's
// length (as the engine's events do), reuses the spare buffer: it
// allocates no buffer of the frame's size per message, which Next, taking
// the buffer whole, does.
func TestStreamPiecesReuseSpare(t *testing.T) {
	q := assembler.New(assembler.Config{})
	ctx := context.Background()
	piece := bytes.Repeat([]byte("s"), 16<<10)
	buf := make([]byte, 32<<10)
	push := func() {
		for i, op := range []frame.Opcode{frame.OpBinary, frame.OpContinuation, frame.OpContinuation, frame.OpContinuation} {
			ev := protocol.Event{Kind: protocol.EventData, Opcode: op, Data: piece, More: i < 3, Fin: i == 3, FrameLength: 64 << 10}
			if err := q.PushEvent(ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	stream := func() {
		push()
		_, r, err := q.NextReader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := drain(t, r, buf); n != 64<<10 {
			t.Fatalf("streamed %d bytes", n)
		}
	}
	stream()
	if n := testing.AllocsPerRun(20, stream); n > 0.1 {
		t.Fatalf("%.2f allocations per streamed message", n)
	}
	// Next takes the message whole: one allocation, of the frame's size.
	allocs := testing.AllocsPerRun(20, func() {
		push()
		m, err := q.Next(ctx)
		if err != nil || len(m.Data) != 64<<10 || cap(m.Data) != 64<<10 {
			t.Fatalf("%d bytes (cap %d), %v", len(m.Data), cap(m.Data), err)
		}
	})
	if allocs != 1 {
		t.Fatalf("%.0f allocations per whole message", allocs)
	}
}

// drain reads r to its end through buf and returns the bytes read.
func drain(t *testing.T, r *assembler.Reader, buf []byte) int {
	t.Helper()
	n := 0
	for {
		k, err := r.Read(buf)
		n += k
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Trim drops the buffers an idle queue keeps for reuse: the next message
// allocates them again. A stream being read is left alone and reads on.
func TestTrim(t *testing.T) {
	q := assembler.New(assembler.Config{})
	ctx := context.Background()
	piece := bytes.Repeat([]byte("p"), 4096)
	buf := make([]byte, 1000)
	readAll := func(r *assembler.Reader) int { return drain(t, r, buf) }
	stream := func() {
		q.Push(frame.OpBinary, piece, false)
		q.Push(frame.OpContinuation, piece, true)
		if _, r, err := q.NextReader(ctx); err != nil || readAll(r) != 2*len(piece) {
			t.Fatal("stream", err)
		}
	}
	stream()
	stream()
	if n := testing.AllocsPerRun(5, stream); n != 0 {
		t.Fatalf("%.0f allocations per stream without Trim", n)
	}
	if n := testing.AllocsPerRun(5, func() { q.Trim(); stream() }); n < 1 {
		t.Fatal("the spare buffer survived Trim")
	}

	// Trim in the middle of a stream changes nothing for it.
	q.Push(frame.OpBinary, piece, false)
	_, r, err := q.NextReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.Read(make([]byte, 100))
	q.Trim()
	q.Push(frame.OpContinuation, []byte("end"), true)
	if rest := readAll(r); first+rest != len(piece)+3 {
		t.Fatalf("read %d+%d bytes, want %d", first, rest, len(piece)+3)
	}
}

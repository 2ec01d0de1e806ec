package assembler_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// NextAppend appends the message to the caller's buffer and returns it;
// on an error the buffer comes back unchanged, so a loop that keeps the
// returned slice never loses it.
func TestNextAppend(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	closeErr := errors.New("closed 1000")
	tests := []struct {
		name    string
		setup   func(q *assembler.Queue)
		ctx     context.Context
		dst     []byte
		want    string
		wantOp  frame.Opcode
		wantErr error
	}{
		{"into nil", func(q *assembler.Queue) { q.Push(frame.OpText, []byte("hello"), true) }, ctx, nil, "hello", frame.OpText, nil},
		{"after a prefix", func(q *assembler.Queue) { q.Push(frame.OpBinary, []byte("body"), true) }, ctx, []byte("head:"), "head:body", frame.OpBinary, nil},
		{"in pieces", func(q *assembler.Queue) {
			q.Push(frame.OpText, []byte("one "), false)
			q.Push(frame.OpContinuation, []byte("two "), false)
			q.Push(frame.OpContinuation, []byte("three"), true)
		}, ctx, nil, "one two three", frame.OpText, nil},
		{"empty message", func(q *assembler.Queue) { q.Push(frame.OpBinary, nil, true) }, ctx, []byte("kept"), "kept", frame.OpBinary, nil},
		{"ctx ended", func(q *assembler.Queue) {}, cancelled, []byte("kept"), "kept", 0, context.Canceled},
		{"closed", func(q *assembler.Queue) { q.Close(closeErr) }, ctx, []byte("kept"), "kept", 0, closeErr},
		{"message before the close", func(q *assembler.Queue) {
			q.Push(frame.OpText, []byte("last words"), true)
			q.Close(closeErr)
		}, ctx, nil, "last words", frame.OpText, nil},
		{"a stream in progress", func(q *assembler.Queue) {
			q.Push(frame.OpText, []byte("streamed"), true)
			q.NextReader(ctx)
		}, ctx, []byte("kept"), "kept", 0, assembler.ErrStreamInProgress},
		{"cut short by the close", func(q *assembler.Queue) {
			q.Push(frame.OpText, []byte("half"), false)
			q.Close(closeErr)
		}, ctx, []byte("kept"), "kept", 0, assembler.ErrIncompleteMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := assembler.New(assembler.Config{})
			tt.setup(q)
			m, err := q.NextAppend(tt.ctx, tt.dst)
			if !errors.Is(err, tt.wantErr) || string(m.Data) != tt.want || m.Opcode != tt.wantOp {
				t.Fatalf("NextAppend = %v %q, %v; want %v %q, %v", m.Opcode, m.Data, err, tt.wantOp, tt.want, tt.wantErr)
			}
		})
	}
}

// A NextAppend loop that passes its buffer back allocates nothing per
// message, whole or in pieces (as the engine's events bring a frame larger
// than a socket read: with its length announced); the messages it got are
// never touched by the queue afterwards; and Next still hands out memory
// the caller owns, never the queue's buffer.
func TestNextAppendReusesBuffers(t *testing.T) {
	q := assembler.New(assembler.Config{})
	ctx := context.Background()
	piece := bytes.Repeat([]byte("p"), 16<<10)
	small := bytes.Repeat([]byte("s"), 1000)
	var buf []byte
	take := func(want int) []byte {
		m, err := q.NextAppend(ctx, buf[:0])
		if err != nil || len(m.Data) != want {
			t.Fatalf("%d bytes, %v; want %d", len(m.Data), err, want)
		}
		buf = m.Data
		return m.Data
	}
	whole := func() {
		q.Push(frame.OpText, small, true)
		take(len(small))
	}
	pieces := func() {
		for i, op := range []frame.Opcode{frame.OpBinary, frame.OpContinuation, frame.OpContinuation, frame.OpContinuation} {
			ev := protocol.Event{Kind: protocol.EventData, Opcode: op, Data: piece, More: i < 3, Fin: i == 3, FrameLength: 64 << 10}
			if err := q.PushEvent(ev); err != nil {
				t.Fatal(err)
			}
		}
		take(4 * len(piece))
	}
	pieces()
	whole()
	if n := testing.AllocsPerRun(100, whole); n != 0 {
		t.Fatalf("%.2f allocations per whole message", n)
	}
	if n := testing.AllocsPerRun(20, pieces); n != 0 {
		t.Fatalf("%.2f allocations per message in pieces", n)
	}

	// What NextAppend returned is the caller's: a later message does not
	// change it, nor does one taken with Next.
	got := append([]byte{}, take2(t, q, ctx, "first", nil)...)
	kept := take2(t, q, ctx, "second", nil)
	q.Push(frame.OpText, []byte("third"), true)
	m, err := q.Next(ctx)
	if err != nil || string(m.Data) != "third" || string(got) != "first" || string(kept) != "second" {
		t.Fatalf("Next %q %v; kept %q, %q", m.Data, err, got, kept)
	}
	q.Push(frame.OpText, []byte("XXXXX"), true)
	if m2, _ := q.NextAppend(ctx, nil); string(m2.Data) != "XXXXX" || string(m.Data) != "third" || string(kept) != "second" {
		t.Fatalf("a later message changed an earlier one: %q, %q", m.Data, kept)
	}
}

// take2 pushes s and takes it with NextAppend into dst.
func take2(t *testing.T, q *assembler.Queue, ctx context.Context, s string, dst []byte) []byte {
	t.Helper()
	q.Push(frame.OpText, []byte(s), true)
	m, err := q.NextAppend(ctx, dst)
	if err != nil || string(m.Data) != s {
		t.Fatalf("%q, %v", m.Data, err)
	}
	return m.Data
}

package assembler_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
)

var errPeerClosed = errors.New("peer closed 1000")

func push(t *testing.T, q *assembler.Queue, op frame.Opcode, data string, fin bool) {
	t.Helper()
	if err := q.Push(op, []byte(data), fin); err != nil {
		t.Fatal(err)
	}
}

// nextAll takes messages without waiting until an error, and returns them
// with the errors seen (at most two).
func nextAll(q *assembler.Queue) ([]string, []error) {
	var msgs []string
	var errs []error
	for len(errs) < 2 {
		m, ok, err := q.TryNext()
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			msgs = append(msgs, m.Opcode.String()+":"+string(m.Data))
		default:
			return msgs, errs
		}
	}
	return msgs, errs
}

func TestCloseSemantics(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*testing.T, *assembler.Queue)
		wantMsgs []string
		wantErrs []error // each matched with errors.Is
	}{
		{"message then close in one step", func(t *testing.T, q *assembler.Queue) {
			push(t, q, frame.OpText, "last words", true)
			q.Close(errPeerClosed)
		}, []string{"text:last words"}, []error{errPeerClosed, errPeerClosed}},
		{"several messages then close", func(t *testing.T, q *assembler.Queue) {
			push(t, q, frame.OpText, "one", true)
			push(t, q, frame.OpBinary, "two", true)
			push(t, q, frame.OpText, "thr", false)
			push(t, q, frame.OpContinuation, "ee", true)
			q.Close(errPeerClosed)
		}, []string{"text:one", "binary:two", "text:three"}, []error{errPeerClosed, errPeerClosed}},
		{"partly received message then close", func(t *testing.T, q *assembler.Queue) {
			push(t, q, frame.OpText, "whole", true)
			push(t, q, frame.OpBinary, "half", false)
			q.Close(errPeerClosed)
		}, []string{"text:whole"}, []error{assembler.ErrIncompleteMessage, errPeerClosed}},
		{"close with nothing queued", func(t *testing.T, q *assembler.Queue) {
			q.Close(errPeerClosed)
		}, nil, []error{errPeerClosed, errPeerClosed}},
		{"close(nil)", func(t *testing.T, q *assembler.Queue) {
			q.Close(nil)
		}, nil, []error{assembler.ErrClosed, assembler.ErrClosed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := assembler.New(assembler.Config{})
			tc.setup(t, q)
			msgs, errs := nextAll(q)
			if diff := cmp.Diff(tc.wantMsgs, msgs); diff != "" {
				t.Fatal(diff)
			}
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("errors %v", errs)
			}
			for i := range errs {
				if !errors.Is(errs[i], tc.wantErrs[i]) {
					t.Fatalf("error %d = %v, want %v", i, errs[i], tc.wantErrs[i])
				}
			}
			// The incomplete error also carries the close error.
			if errors.Is(errs[0], assembler.ErrIncompleteMessage) && !errors.Is(errs[0], errPeerClosed) {
				t.Fatalf("%v does not wrap the close error", errs[0])
			}
		})
	}
}

func TestPushErrors(t *testing.T) {
	q := assembler.New(assembler.Config{MaxMessageSize: 5})
	for _, tc := range []struct {
		op   frame.Opcode
		data string
		fin  bool
		want error
	}{
		{frame.OpContinuation, "x", true, assembler.ErrNoMessage},
		{frame.OpPing, "x", true, assembler.ErrBadOpcode},
		{frame.OpText, "123456", true, assembler.ErrTooBig},
	} {
		if err := q.Push(tc.op, []byte(tc.data), tc.fin); !errors.Is(err, tc.want) {
			t.Errorf("Push(%v, %q) = %v, want %v", tc.op, tc.data, err, tc.want)
		}
	}
	push(t, q, frame.OpText, "123", false)
	if err := q.Push(frame.OpText, []byte("x"), true); !errors.Is(err, assembler.ErrMessageOpen) {
		t.Fatalf("new message inside one: %v", err)
	}
	if err := q.Push(frame.OpContinuation, []byte("456"), true); !errors.Is(err, assembler.ErrTooBig) {
		t.Fatalf("over the limit across pieces: %v", err)
	}
	push(t, q, frame.OpContinuation, "45", true)
	q.Close(errPeerClosed)
	if err := q.Push(frame.OpText, []byte("late"), true); !errors.Is(err, errPeerClosed) {
		t.Fatalf("Push after Close: %v", err)
	}
	msgs, _ := nextAll(q)
	if diff := cmp.Diff([]string{"text:12345"}, msgs); diff != "" {
		t.Fatal(diff)
	}
}

func TestPushCopies(t *testing.T) {
	q := assembler.New(assembler.Config{})
	buf := []byte("original")
	q.Push(frame.OpBinary, buf, true)
	copy(buf, "CLOBBER!")
	m, _, _ := q.TryNext()
	if string(m.Data) != "original" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestNextWaitsAndCancels(t *testing.T) {
	q := assembler.New(assembler.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	push(t, q, frame.OpText, "part", false) // incomplete: Next must not return it
	if _, err := q.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// The queue is as it was: finishing the message delivers it whole.
	push(t, q, frame.OpContinuation, "ial", true)
	m, err := q.Next(context.Background())
	if err != nil || string(m.Data) != "partial" {
		t.Fatalf("got %q %v", m.Data, err)
	}
	// A waiting Next gets a message pushed later.
	done := make(chan assembler.Message)
	go func() {
		m, _ := q.Next(context.Background())
		done <- m
	}()
	time.Sleep(5 * time.Millisecond)
	push(t, q, frame.OpBinary, "later", true)
	select {
	case m := <-done:
		if string(m.Data) != "later" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not wake")
	}
}

func TestStreaming(t *testing.T) {
	q := assembler.New(assembler.Config{})
	push(t, q, frame.OpText, "hel", false)
	op, r, err := q.NextReader(context.Background())
	if err != nil || op != frame.OpText {
		t.Fatalf("%v %v", op, err)
	}
	buf := make([]byte, 2)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "he" {
		t.Fatalf("got %q", buf[:n])
	}
	n, _ = r.Read(buf)
	if string(buf[:n]) != "l" {
		t.Fatalf("got %q", buf[:n])
	}
	if _, _, err := q.TryNext(); !errors.Is(err, assembler.ErrStreamInProgress) {
		t.Fatalf("TryNext during a stream: %v", err)
	}
	// Cancel mid-stream, waiting for more: nothing consumed, and the
	// stream continues.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := r.ReadContext(ctx, buf); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %d %v", n, err)
	}
	// Read waits under NextReader's context: a Reader taken with a
	// cancelled one returns its error, and the next, with another, reads on.
	_, rc, _ := q.NextReader(ctx) // continues "hello"
	if n, err := rc.Read(buf); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("read under a cancelled NextReader context: %d %v", n, err)
	}
	push(t, q, frame.OpContinuation, "lo", true)
	push(t, q, frame.OpBinary, "next", true)
	op, r, _ = q.NextReader(context.Background()) // continues "hello"
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "lo" || op != frame.OpText {
		t.Fatalf("rest %q %v %v", rest, err, op)
	}
	m, ok, err := q.TryNext()
	if !ok || err != nil || string(m.Data) != "next" {
		t.Fatalf("after the stream: %q %v %v", m.Data, ok, err)
	}
}

func TestStreamCutByClose(t *testing.T) {
	q := assembler.New(assembler.Config{})
	push(t, q, frame.OpBinary, "abc", false)
	_, r, _ := q.NextReader(context.Background())
	go func() {
		time.Sleep(5 * time.Millisecond)
		q.Close(errPeerClosed)
	}()
	got, err := io.ReadAll(r)
	if string(got) != "abc" || !errors.Is(err, assembler.ErrIncompleteMessage) || !errors.Is(err, errPeerClosed) {
		t.Fatalf("got %q %v", got, err)
	}
	if _, _, err := q.NextReader(context.Background()); !errors.Is(err, errPeerClosed) {
		t.Fatalf("after: %v", err)
	}
}

func TestFlowControl(t *testing.T) {
	q := assembler.New(assembler.Config{HighWater: 1000, LowWater: 300})
	big := string(bytes.Repeat([]byte("x"), 400))
	push(t, q, frame.OpBinary, big, true)
	push(t, q, frame.OpBinary, big, true)
	if q.Paused() {
		t.Fatal("paused below the high mark")
	}
	select {
	case <-q.Resumed():
	default:
		t.Fatal("Resumed not ready while not paused")
	}
	push(t, q, frame.OpBinary, big, true) // 3×464 ≥ 1000
	if !q.Paused() {
		t.Fatal("not paused at the high mark")
	}
	resumed := q.Resumed()
	q.TryNext() // 928 left
	q.TryNext() // 464 left: above the low mark
	if !q.Paused() {
		t.Fatal("resumed above the low mark")
	}
	q.TryNext() // 0
	if q.Paused() {
		t.Fatal("still paused at the low mark")
	}
	select {
	case <-resumed:
	default:
		t.Fatal("Resumed channel not closed")
	}
	// Many empty messages pause too.
	for i := 0; i < 20; i++ {
		push(t, q, frame.OpText, "", true)
	}
	if !q.Paused() {
		t.Fatal("a flood of empty messages did not pause")
	}
	// Close releases a paused producer.
	ch := q.Resumed()
	q.Close(errPeerClosed)
	select {
	case <-ch:
	default:
		t.Fatal("Close did not release the paused producer")
	}
	if q.Paused() {
		t.Fatal("paused after Close")
	}
	// And the queued messages are still there.
	if msgs, _ := nextAll(q); len(msgs) != 20 {
		t.Fatalf("%d messages after close", len(msgs))
	}
}

// A message larger than HighWater never pauses the producer while it is
// incomplete: only its end lets the reader make progress.
func TestLargeIncompleteMessageDoesNotPause(t *testing.T) {
	q := assembler.New(assembler.Config{HighWater: 100, LowWater: 10})
	push(t, q, frame.OpBinary, string(make([]byte, 80)), false)
	push(t, q, frame.OpContinuation, string(make([]byte, 80)), false)
	if q.Paused() {
		t.Fatal("paused on an incomplete message: deadlock")
	}
	push(t, q, frame.OpContinuation, "", true)
	if !q.Paused() {
		t.Fatal("not paused once the message is complete")
	}
	push(t, q, frame.OpBinary, string(make([]byte, 80)), false) // the next one starts
	q.TryNext()
	if q.Paused() {
		t.Fatal("still paused with only an incomplete message left")
	}
	// A reader streaming the big message may pause the producer.
	push(t, q, frame.OpContinuation, string(make([]byte, 80)), false)
	if q.Paused() {
		t.Fatal("paused before a stream started")
	}
	q.NextReader(context.Background())
	if !q.Paused() {
		t.Fatal("not paused while a stream can drain the queue")
	}
}

func TestConcurrentNextGetDistinctMessages(t *testing.T) {
	q := assembler.New(assembler.Config{})
	const n = 200
	got := make(chan string, n)
	for i := 0; i < 4; i++ {
		go func() {
			for {
				m, err := q.Next(context.Background())
				if err != nil {
					return
				}
				got <- string(m.Data)
			}
		}()
	}
	for i := 0; i < n; i++ {
		q.Push(frame.OpBinary, []byte{byte(i), byte(i >> 8)}, true)
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		select {
		case s := <-got:
			if seen[s] {
				t.Fatalf("message %x delivered twice", s)
			}
			seen[s] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d messages delivered", i)
		}
	}
	q.Close(nil)
}

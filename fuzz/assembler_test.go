package fuzz

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"pgregory.net/rapid"
)

// modelQueue is the plain-slice model of an assembler.Queue.
type modelQueue struct {
	done               [][]byte // complete messages, oldest first
	ops                []frame.Opcode
	open               []byte // the unfinished message, if openOp != 0
	openOp             frame.Opcode
	closed             bool
	reportedIncomplete bool
}

var errModelClosed = errors.New("model closed")

// TestQueueAgainstModel: random Push and PushEvent (with any frame length
// announced), Close, Next, TryNext, NextAppend, cancelled Next and streamed
// reads; the queue and the model agree at every step, and no message Next
// or NextAppend returned changes afterwards.
func TestQueueAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := assembler.New(assembler.Config{MaxMessageSize: 64, HighWater: 200, LowWater: 50})
		var m modelQueue
		var taken, kept [][]byte // messages Next and NextAppend handed over, and copies
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		for i, n := 0, rapid.IntRange(1, 60).Draw(t, "steps"); i < n; i++ {
			switch rapid.IntRange(0, 6).Draw(t, "action") {
			case 0, 1, 2: // push
				data := rapid.SliceOfN(rapid.Byte(), 0, 30).Draw(t, "data")
				fin := rapid.Bool().Draw(t, "fin")
				op := frame.OpContinuation
				if m.openOp == 0 {
					op = rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary}).Draw(t, "op")
				}
				var err error
				if rapid.Bool().Draw(t, "event") {
					// As the engine pushes: a piece of a frame that goes on
					// announces the frame's length, which only sizes the
					// buffer (any value is allowed; one over the limit is
					// ignored).
					more := !fin && rapid.Bool().Draw(t, "more")
					hint := uint64(rapid.IntRange(0, 100).Draw(t, "frameLength"))
					err = q.PushEvent(protocol.Event{Kind: protocol.EventData, Opcode: op, Data: data, Fin: fin, More: more, FrameLength: hint})
				} else {
					err = q.Push(op, data, fin)
				}
				switch {
				case m.closed:
					if !errors.Is(err, errModelClosed) {
						t.Fatalf("Push after close: %v", err)
					}
				case len(m.open)+len(data) > 64:
					if !errors.Is(err, assembler.ErrTooBig) {
						t.Fatalf("Push over the limit: %v", err)
					}
				default:
					if err != nil {
						t.Fatalf("Push: %v", err)
					}
					if m.openOp == 0 {
						m.openOp = op
					}
					m.open = append(m.open, data...)
					if fin {
						m.done = append(m.done, m.open)
						m.ops = append(m.ops, m.openOp)
						m.open, m.openOp = nil, 0
					}
				}
			case 3:
				q.Close(errModelClosed)
				m.closed = true
			case 4, 5: // TryNext, or Next or NextAppend with a cancelled context
				var msg assembler.Message
				var ok bool
				var err error
				switch rapid.IntRange(0, 2).Draw(t, "take") {
				case 0:
					msg, ok, err = q.TryNext()
				case 1:
					msg, err = q.Next(cancelled)
					ok = err == nil
					if errors.Is(err, context.Canceled) {
						err = nil
					}
				case 2:
					// Appended after the caller's bytes, which stay; with
					// no message, the caller's bytes come back alone.
					prefix := rapid.SliceOfN(rapid.Byte(), 0, 5).Draw(t, "prefix")
					msg, err = q.NextAppend(cancelled, bytes.Clone(prefix))
					ok = err == nil
					if errors.Is(err, context.Canceled) {
						err = nil
					}
					if !bytes.HasPrefix(msg.Data, prefix) || !ok && len(msg.Data) != len(prefix) {
						t.Fatalf("NextAppend after %q returned %q (ok %v, %v)", prefix, msg.Data, ok, err)
					}
					msg.Data = msg.Data[len(prefix):]
				}
				if ok {
					// The caller owns it: nothing the queue does later
					// may change it (checked at the end).
					taken = append(taken, msg.Data)
					kept = append(kept, bytes.Clone(msg.Data))
				}
				checkTake(t, &m, msg, ok, err)
			case 6: // stream the head message if one is complete
				if len(m.done) == 0 {
					continue
				}
				op, r, err := q.NextReader(context.Background())
				if err != nil {
					t.Fatalf("NextReader: %v", err)
				}
				got, err := io.ReadAll(r)
				if err != nil || op != m.ops[0] || !bytes.Equal(got, m.done[0]) {
					t.Fatalf("streamed %v %q %v, model %v %q", op, got, err, m.ops[0], m.done[0])
				}
				m.done, m.ops = m.done[1:], m.ops[1:]
			}
			if want := len(m.done) + btoi(m.openOp != 0); q.Len() != want {
				t.Fatalf("Len %d, model %d", q.Len(), want)
			}
		}
		// Drain: everything queued comes out, in order, then the errors.
		q.Close(errModelClosed)
		m.closed = true
		for {
			msg, ok, err := q.TryNext()
			checkTake(t, &m, msg, ok, err)
			if err != nil && !errors.Is(err, assembler.ErrIncompleteMessage) {
				break
			}
		}
		if len(m.done) != 0 {
			t.Fatalf("%d messages never delivered", len(m.done))
		}
		for i := range taken {
			if !bytes.Equal(taken[i], kept[i]) {
				t.Fatalf("message %d changed after Next returned it: %q, was %q", i, taken[i], kept[i])
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkTake compares one take from the queue with the model and advances it.
func checkTake(t *rapid.T, m *modelQueue, msg assembler.Message, ok bool, err error) {
	switch {
	case len(m.done) > 0:
		if !ok || err != nil || msg.Opcode != m.ops[0] || !bytes.Equal(msg.Data, m.done[0]) {
			t.Fatalf("took %v %q %v %v, model %v %q", msg.Opcode, msg.Data, ok, err, m.ops[0], m.done[0])
		}
		m.done, m.ops = m.done[1:], m.ops[1:]
	case m.closed && m.openOp != 0:
		if !errors.Is(err, assembler.ErrIncompleteMessage) || !errors.Is(err, errModelClosed) {
			t.Fatalf("incomplete message: %v", err)
		}
		m.open, m.openOp = nil, 0
	case m.closed:
		if ok || !errors.Is(err, errModelClosed) {
			t.Fatalf("after close: %v %v", ok, err)
		}
	default:
		if ok || err != nil {
			t.Fatalf("empty queue gave %v %v", ok, err)
		}
	}
}

// TestQueueConcurrentReaders: one pusher, several readers (some taking
// with Next, some with NextAppend into a buffer each reuses), a random
// close time; every message pushed before Close is received exactly once,
// intact. Run it under -race.
func TestQueueConcurrentReaders(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := assembler.New(assembler.Config{HighWater: 1 << 30})
		n := rapid.IntRange(0, 300).Draw(t, "messages")
		closeAfter := rapid.IntRange(0, n).Draw(t, "closeAfter")
		readers := rapid.IntRange(1, 4).Draw(t, "readers")
		var mu sync.Mutex
		got := map[int]int{}
		wrong := 0 // messages of the wrong length
		var wg sync.WaitGroup
		appenders := rapid.IntRange(0, readers).Draw(t, "appenders")
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf []byte // NextAppend's, passed back
				for {
					var m assembler.Message
					var err error
					if r < appenders {
						m, err = q.NextAppend(context.Background(), buf[:0])
						buf = m.Data
					} else {
						m, err = q.Next(context.Background())
					}
					if err != nil {
						return
					}
					mu.Lock()
					if len(m.Data) != 2 {
						wrong++
						mu.Unlock()
						continue
					}
					got[int(m.Data[0])|int(m.Data[1])<<8]++
					mu.Unlock()
				}
			}()
		}
		pushed := 0
		for i := 0; i < n; i++ {
			if i == closeAfter {
				q.Close(nil)
			}
			if q.Push(frame.OpBinary, []byte{byte(i), byte(i >> 8)}, true) == nil {
				pushed++
			}
		}
		q.Close(nil)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("readers did not finish")
		}
		if pushed != min(n, closeAfter) && !(closeAfter == n && pushed == n) {
			t.Fatalf("pushed %d of %d, close after %d", pushed, n, closeAfter)
		}
		for i := 0; i < pushed; i++ {
			if got[i] != 1 {
				t.Fatalf("message %d received %d times", i, got[i])
			}
		}
		if len(got) != pushed || wrong != 0 {
			t.Fatalf("received %d distinct (%d of the wrong length), pushed %d", len(got), wrong, pushed)
		}
	})
}

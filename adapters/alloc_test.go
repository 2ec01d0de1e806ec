package adapters_test

import (
	"context"
	"io"
	"testing"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
)

// Steady-state messages over a real socket allocate nothing but what the
// API hands over: Read returns a message the caller owns (one allocation);
// Reader/Writer and OnMessage allocate nothing (Reader and Writer handles
// come from small slabs, amortised to zero), a stream of a frame larger
// than a read included.
func TestSteadyStateAllocations(t *testing.T) {
	opts := &adapters.Options{DisableCompression: true}
	c, s := connPair(t, opts, opts)
	ctx := context.Background()
	msg := []byte("a small steady-state message")
	buf := make([]byte, 64)
	big, bigBuf := make([]byte, 200<<10), make([]byte, 32<<10)
	var appended []byte // ReadAppend's buffer, passed back
	tests := []struct {
		name string
		max  float64
		run  func()
	}{
		{"Write+Read", 1, func() {
			c.Write(ctx, frame.OpText, msg)
			s.Read(ctx)
		}},
		{"Write+ReadAppend", 0, func() {
			c.Write(ctx, frame.OpText, msg)
			_, appended, _ = s.ReadAppend(ctx, appended[:0])
		}},
		{"Write+ReadAppend, 200 KiB in one frame", 0, func() {
			c.Write(ctx, frame.OpBinary, big)
			_, appended, _ = s.ReadAppend(ctx, appended[:0])
		}},
		{"Writer+Reader", 0, func() {
			w, _ := c.Writer(ctx, frame.OpBinary)
			w.Write(msg)
			w.Close()
			_, r, _ := s.Reader(ctx)
			for {
				if _, err := r.Read(buf); err == io.EOF {
					break
				}
			}
		}},
		{"Write+Reader, 200 KiB in one frame", 0, func() {
			// Larger than a read: the frame reaches the queue in pieces.
			c.Write(ctx, frame.OpBinary, big)
			_, r, _ := s.Reader(ctx)
			for {
				if _, err := r.Read(bigBuf); err == io.EOF {
					break
				}
			}
		}},
	}
	for _, tt := range tests {
		tt.run() // buffers grow once
		if got := testing.AllocsPerRun(500, tt.run); got > tt.max {
			t.Errorf("%s: %.2f allocations per message, want at most %.0f", tt.name, got, tt.max)
		}
	}
}

// OnMessage echoes without allocating: the message is the engine's bytes.
func TestOnMessageAllocations(t *testing.T) {
	got := make(chan struct{}, 1)
	c, _ := connPair(t, &adapters.Options{DisableCompression: true,
		OnMessage: func(*adapters.Conn, frame.Opcode, []byte) { got <- struct{}{} }},
		&adapters.Options{DisableCompression: true,
			OnMessage: func(s *adapters.Conn, op frame.Opcode, p []byte) { s.Write(context.Background(), op, p) }})
	msg := []byte("echo me")
	run := func() {
		c.Write(context.Background(), frame.OpText, msg)
		<-got
	}
	run()
	if n := testing.AllocsPerRun(500, run); n > 0 {
		t.Errorf("%.2f allocations per echoed message", n)
	}
}

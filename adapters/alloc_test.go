package adapters_test

import (
	"context"
	"io"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
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

// A keepalive round leaves an idle connection parked and allocates
// nothing: the pong comes in through the parked read's few bytes into the
// tiny read buffer the park kept, the read parks again at once, and the
// ping is framed into the tiny output buffer the park kept. (Before, 10,000
// idle members pinged every 20 s made 4.5 KiB of garbage each per round: a
// read buffer for the second until the read parked again, the ping's frame
// and the pong's bytes.) The clock is the test's: the rounds take no real
// time but the exchange itself.
func TestParkedKeepaliveAllocations(t *testing.T) {
	for _, sent := range []bool{false, true} {
		name := "idle"
		if sent {
			name = "a message sent each round" // its output buffers go to the pool
		}
		t.Run(name, func(t *testing.T) { parkedKeepaliveRounds(t, sent) })
	}
}

func parkedKeepaliveRounds(t *testing.T, sent bool) {
	if sent && raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers at random; the README's command runs this without it")
	}
	clock := newFakeClock()
	a, b := tcpPair(t)
	s, err := adapters.NewConn(b, protocol.RoleServer, &adapters.Options{Clock: clock,
		OnMessage: func(*adapters.Conn, frame.Opcode, []byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseNow()
	time.Sleep(20 * time.Millisecond) // the background reader is reading
	clock.Advance(2 * time.Second)    // its read has waited parkAfter: it parks
	time.Sleep(20 * time.Millisecond) // parked
	var hdr [2]byte
	var pong [2 + 4 + frame.MaxControlPayload]byte
	msg, got := make([]byte, 100), make([]byte, 2+100)
	round := func() {
		a.SetReadDeadline(time.Now().Add(5 * time.Second))
		if sent { // as a member of a room gets a broadcast between pings
			if err := s.Send(frame.OpBinary, msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(a, got); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(protocol.DefaultPingInterval) // the keepalive ping goes out
		if _, err := io.ReadFull(a, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if frame.Opcode(hdr[0]&0x0f) != frame.OpPing || n > frame.MaxControlPayload {
			t.Fatalf("a % x frame, not a ping", hdr)
		}
		pong[0], pong[1] = 0x80|byte(frame.OpPong), 0x80|byte(n) // under a zero mask
		if _, err := io.ReadFull(a, pong[6:6+n]); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write(pong[:6+n]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the pong is read
	}
	round()
	allocs, bytes := leastOfThreeBatches(10, round)
	if err := s.CloseStatus().Err; err != nil {
		t.Fatalf("the connection ended: %v", err)
	}
	// The test clock's slice of due timers grows now and then; the race
	// detector adds an allocation of 8 bytes a round of its own. With a
	// message each round the buffers go through the pool, whose Get misses
	// now and then what a Put left on another P (4 KiB made again); before,
	// each round made 2.4 allocations (the ping's frame among them).
	t.Logf("%.1f allocations, %.0f bytes per keepalive round", allocs, bytes)
	maxAllocs, maxBytes := 0.5, 64.0
	if sent {
		maxAllocs, maxBytes = 1.5, 2048
	}
	if allocs >= maxAllocs && !raceEnabled || bytes > maxBytes {
		t.Errorf("%.1f allocations, %.0f bytes per keepalive round of a parked connection, want under %.1f and %.0f", allocs, bytes, maxAllocs, maxBytes)
	}
}

// A connection that wakes from a park for a large message gets its read
// buffer, and the buffer the message is gathered in, back from the pool:
// the park gave both to it (the queue's spare through Options.Queue's
// Buffers; the read buffer grows through protocol.Conn.ReadBufferFrom).
// Before, each wake grew them again by allocation (4 to 64 KiB, most often
// with a frame cut across reads, so by the engine's own growth), for a
// 64 KiB message in 4 KiB fragments: 15 allocations and 380 KB with
// ReadAppend, 13 and 209 KB with Reader, 7 and 127 KB with OnMessage; now
// 2 or 3 allocations and 144 to 1,300 bytes. Each round parks the read (the test's clock), then the peer
// sends one such message.
func TestWakeFromParkAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers at random; the README's command runs this without it")
	}
	const size, fragment = 64 << 10, 4 << 10
	msg := protocoltest.EncodeFragments(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, make([]byte, size), fragment)
	ctx := context.Background()
	readers := []struct {
		name string
		// start begins taking messages from s and sends each one's length.
		start func(s *adapters.Conn, got chan<- int) *adapters.Options
	}{
		{"ReadAppend", func(s *adapters.Conn, got chan<- int) *adapters.Options {
			go func() {
				var buf []byte
				for {
					_, p, err := s.ReadAppend(ctx, buf[:0])
					if err != nil {
						close(got)
						return
					}
					got <- len(p)
					buf = p
				}
			}()
			return nil
		}},
		{"Reader", func(s *adapters.Conn, got chan<- int) *adapters.Options {
			go func() {
				for {
					_, r, err := s.Reader(ctx)
					if err != nil {
						close(got)
						return
					}
					n, _ := io.Copy(io.Discard, r)
					got <- int(n)
				}
			}()
			return nil
		}},
		{"OnMessage", nil},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			clock := newFakeClock()
			got := make(chan int, 1)
			opts := &adapters.Options{Clock: clock, DisableCompression: true}
			if rd.start == nil {
				opts.OnMessage = func(_ *adapters.Conn, _ frame.Opcode, p []byte) { got <- len(p) }
			}
			a, b := tcpPair(t)
			s, err := adapters.NewConn(b, protocol.RoleServer, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.CloseNow()
			if rd.start != nil {
				rd.start(s, got)
			}
			timeout := time.After(time.Minute) // one timer, not one a round
			round := func() {
				time.Sleep(10 * time.Millisecond) // the read is in the socket
				clock.Advance(2 * time.Second)    // it has waited parkAfter: it parks
				time.Sleep(10 * time.Millisecond) // parked
				if _, err := a.Write(msg); err != nil {
					t.Fatal(err)
				}
				select {
				case n := <-got:
					if n != size {
						t.Fatalf("a message of %d bytes, want %d", n, size)
					}
				case <-timeout:
					t.Fatal("the message did not arrive")
				}
			}
			round()
			round()
			allocs, bytes := leastOfThreeBatches(10, round)
			t.Logf("%.1f allocations, %.0f bytes per wake for a %d KiB message", allocs, bytes, size>>10)
			// What is left: the parked read's end (the socket's timeout
			// error) and the few bytes it read, copied into a small buffer
			// of the engine's.
			if allocs > 4 || bytes > 4<<10 {
				t.Errorf("%.1f allocations, %.0f bytes per wake from a park for a %d KiB message, want at most 4 and 4 KiB", allocs, bytes, size>>10)
			}
		})
	}
}

// leastOfThreeBatches runs round in three batches of n and returns the
// allocations and bytes per round of the batch that allocated least.
// MemStats counts the whole process: an earlier test's goroutines winding
// down (a net/http server's) allocate now and then too, and only add, so
// the least of three batches is the connection's.
func leastOfThreeBatches(n int, round func()) (allocs, bytes float64) {
	allocs, bytes = math.Inf(1), math.Inf(1)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			round()
		}
		runtime.ReadMemStats(&after)
		if a := float64(after.Mallocs-before.Mallocs) / float64(n); a < allocs {
			allocs, bytes = a, float64(after.TotalAlloc-before.TotalAlloc)/float64(n)
		}
	}
	return allocs, bytes
}

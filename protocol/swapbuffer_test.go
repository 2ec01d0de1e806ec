package protocol_test

import (
	"bytes"
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// An event loop lends its scratch buffer: the engine takes it only while it
// holds no input, parses in it, and gives it back once the frames in it are
// consumed; part of a frame keeps it until the rest comes.
func TestSwapReadBuffer(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	scratch := make([]byte, 0, 4096)
	old, ok := c.SwapReadBuffer(scratch)
	if !ok || old != nil {
		t.Fatalf("first swap: %v %v", old, ok)
	}
	f := wireFrame(protocol.RoleClient, frame.OpText, true, []byte("hello"))
	buf := c.ReadBuffer(64)
	if &buf[:1][0] != &scratch[:1][0] {
		t.Fatal("ReadBuffer is not the lent buffer")
	}
	// A frame and a half: the whole one is an event, the half stays.
	n := copy(buf, f)
	n += copy(buf[n:], f[:3])
	if err := c.ReceiveBuffered(t0, n); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.SwapReadBuffer(nil); ok {
		t.Fatal("swapped while an event points into the buffer")
	}
	if ev := c.NextEvent(); string(ev.Data) != "hello" || &ev.Data[0] != &scratch[:n][len(f)-5] {
		t.Fatalf("event %+v not in the lent buffer", ev)
	}
	c.NextEvent()
	if _, ok := c.SwapReadBuffer(nil); ok {
		t.Fatal("swapped while part of a frame waits")
	}
	if err := c.Receive(t0, f[3:]); err != nil {
		t.Fatal(err)
	}
	if ev := c.NextEvent(); string(ev.Data) != "hello" {
		t.Fatalf("second event %+v", ev)
	}
	c.NextEvent()
	back, ok := c.SwapReadBuffer(nil)
	if !ok || cap(back) == 0 || len(back) != 0 {
		t.Fatalf("swap back: len %d cap %d %v", len(back), cap(back), ok)
	}
}

// The event slice is lent the same way: events are queued in it, it comes
// back only when none is pending, and the engine allocates none while it
// has it.
func TestSwapEventBuffer(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	lent := make([]protocol.Event, 0, 8)
	if old, ok := c.SwapEventBuffer(lent); !ok || old != nil {
		t.Fatalf("first swap: %v %v", old, ok)
	}
	two := concat(wireFrame(protocol.RoleClient, frame.OpText, true, []byte("a")), wireFrame(protocol.RoleClient, frame.OpText, true, []byte("b")))
	allocs := testing.AllocsPerRun(100, func() {
		c.Receive(t0, two)
		for c.NextEvent().Kind != protocol.EventNone {
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round with a lent slice", allocs)
	}
	c.Receive(t0, two)
	if _, ok := c.SwapEventBuffer(nil); ok {
		t.Fatal("swapped while events are pending")
	}
	if ev := c.NextEvent(); string(ev.Data) != "a" {
		t.Fatalf("event %+v", ev)
	}
	if ev := c.NextEvent(); string(ev.Data) != "b" {
		t.Fatalf("event %+v", ev)
	}
	c.NextEvent()
	back, ok := c.SwapEventBuffer(nil)
	if !ok || len(back) != 0 || cap(back) != cap(lent) || &back[:1][0] != &lent[:1][0] {
		t.Fatalf("swap back: len %d cap %d %v", len(back), cap(back), ok)
	}
	for _, ev := range back[:cap(back)] {
		if ev.Data != nil {
			t.Fatalf("the returned slice still points at %q", ev.Data)
		}
	}
}

// After the handshake, ReleaseHandshake drops the request and keeps the
// subprotocol; before it, it does nothing.
func TestReleaseHandshake(t *testing.T) {
	for _, protos := range [][]string{nil, {"chat"}} {
		s := newServer(t, protocol.ServerOptions{Subprotocols: protos})
		s.ReleaseHandshake() // connecting: nothing to drop
		if err := s.Receive(t0, crlf(rfcRequest)); err != nil {
			t.Fatal(err)
		}
		drain(s)
		want := ""
		if protos != nil {
			want = "chat"
		}
		if s.Request() == nil || s.Subprotocol() != want {
			t.Fatalf("before: request %v, subprotocol %q", s.Request(), s.Subprotocol())
		}
		s.ReleaseHandshake()
		if s.Request() != nil || s.Response() != nil || s.Subprotocol() != want {
			t.Fatalf("after: request %v, subprotocol %q", s.Request(), s.Subprotocol())
		}
	}
}

// Going on after a stop does not move the input: a read of many small
// messages is parsed where it lies, message after message.
func TestStopAfterMessageKeepsInputInPlace(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	c.SetStopAfterMessage(true)
	f := wireFrame(protocol.RoleClient, frame.OpBinary, true, []byte("abc"))
	buf := c.ReadBuffer(3 * len(f))
	n := copy(buf, f)
	n += copy(buf[n:], f)
	n += copy(buf[n:], f)
	if err := c.ReceiveBuffered(t0, n); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ev := c.NextEvent()
		if string(ev.Data) != "abc" || &ev.Data[0] != &buf[i*len(f)+len(f)-3] {
			t.Fatalf("message %d: %+v moved", i, ev)
		}
		if c.NextEvent().Kind != protocol.EventNone {
			t.Fatal("more than one message per round")
		}
		if i < 2 != c.InputPending() {
			t.Fatalf("message %d: InputPending %v", i, c.InputPending())
		}
		c.Receive(t0, nil)
	}
}

// SwapWriteBuffer returns the buffer the driver owns after the call: the
// engine's old one when it takes spare, spare when it does not. With
// output waiting it takes only a larger buffer, which the output moves
// into (a partly written frame, and a pong that may still be replaced,
// included), so a coalescing driver grows output from its pool. The pong
// is the last of 16 that wait (the bound; see TestPingFloodPendingPongs),
// so the next ping's replaces it where it moved.
func TestSwapWriteBufferGrowsWaitingOutput(t *testing.T) {
	msg := make([]byte, 100)
	msgFrame := wireFrame(protocol.RoleServer, frame.OpBinary, true, msg)
	pong := func(p string) []byte { return wireFrame(protocol.RoleServer, frame.OpPong, true, []byte(p)) }
	for _, tc := range []struct {
		name    string
		first   int // cap of the first lent buffer
		written int // bytes of Outgoing written before the swap
		spare   int // cap of the spare offered, -1 for nil
		taken   bool
	}{
		{"smaller spare", 256, 0, 128, false},
		{"equal spare", 256, 0, 256, false},
		{"nil spare", 256, 0, -1, false},
		{"larger spare", 256, 0, 1024, true},
		{"larger spare, partly written", 256, 10, 1024, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := established(t, protocol.RoleServer, testConfig())
			first := make([]byte, 0, tc.first)
			s.SwapWriteBuffer(first)
			s.SendMessage(t0, frame.OpBinary, msg)
			var waiting []byte // the 16 pongs: to pings "a" to "p"
			for p := 'a'; p <= 'p'; p++ {
				s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpPing, true, []byte{byte(p)}))
				waiting = append(waiting, pong(string(p))...)
			}
			for s.NextEvent().Kind != protocol.EventNone {
			}
			wire := append([]byte(nil), s.Outgoing()[:tc.written]...)
			s.Advance(tc.written)
			var spare []byte
			if tc.spare >= 0 {
				spare = make([]byte, 0, tc.spare)
			}
			got := s.SwapWriteBuffer(spare)
			if tc.taken {
				if cap(got) != tc.first || len(got) != 0 || &got[:1][0] != &first[:1][0] {
					t.Fatalf("returned len %d cap %d, want the first buffer, emptied", len(got), cap(got))
				}
				if &s.Outgoing()[0] != &spare[:1][0] {
					t.Fatal("the output did not move into spare")
				}
				for i := range got[:cap(got)] {
					got[:cap(got)][i] = 0xee // the driver reuses it
				}
			} else if cap(got) != cap(spare) || (spare != nil && &got[:1][0] != &spare[:1][0]) {
				t.Fatalf("returned cap %d, want spare back", cap(got))
			}
			// Another ping's pong replaces the last one waiting, wherever it
			// is: the wire gets the message, 15 pongs and the new one.
			s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("q")))
			for s.NextEvent().Kind != protocol.EventNone {
			}
			wire = append(wire, s.Outgoing()...)
			if want := concat(msgFrame, waiting[:len(waiting)-3], pong("q")); string(wire) != string(want) {
				t.Fatalf("wire % x\nwant % x", wire, want)
			}
		})
	}
}

// A pooling driver's read buffer grows through its Buffers: the unparsed
// start of a frame moves into the larger buffer, and the outgrown one goes
// back, unless an event not yet taken points into it.
func TestReadBufferFrom(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	bufs := &countingBuffers{}
	big := bytes.Repeat([]byte("x"), 6000)
	f := wireFrame(protocol.RoleClient, frame.OpBinary, true, big)

	// No buffer yet: the first comes from Get.
	buf := c.ReadBufferFrom(bufs, 1000)
	if len(bufs.asked) != 1 || bufs.asked[0] != 1000 || len(buf) != 1000 {
		t.Fatalf("asked %v, got room for %d", bufs.asked, len(buf))
	}
	// The start of a frame, then room for more than is left: the start
	// moves into a buffer of twice the room, and the first goes back.
	n := copy(buf, f)
	if err := c.ReceiveBuffered(t0, n); err != nil {
		t.Fatal(err)
	}
	if ev := c.NextEvent(); ev.Kind != protocol.EventNone {
		t.Fatalf("an event from part of a frame: %+v", ev)
	}
	// (The header is parsed: the payload's bytes wait.)
	held := c.BufferedInput()
	if held == 0 || held > n {
		t.Fatalf("%d bytes buffered of the %d read", held, n)
	}
	buf = c.ReadBufferFrom(bufs, 2000)
	if got := bufs.asked[len(bufs.asked)-1]; got != held+2000 {
		t.Fatalf("asked for %d with %d bytes buffered and room for 2000 wanted, want %d", got, held, held+2000)
	}
	if len(bufs.put) != 1 || cap(bufs.put[0]) != 1000 {
		t.Fatalf("given back %d buffers, want the first", len(bufs.put))
	}
	// The rest of the frame, in two reads: it ends whole.
	rest := f[n:]
	for len(rest) > 0 {
		buf = c.ReadBufferFrom(bufs, len(rest))
		k := copy(buf, rest)
		rest = rest[k:]
		if err := c.ReceiveBuffered(t0, k); err != nil {
			t.Fatal(err)
		}
	}
	if ev := c.NextEvent(); ev.Kind != protocol.EventData || !bytes.Equal(ev.Data, big) {
		t.Fatalf("event %v of %d bytes, want the %d sent", ev.Kind, len(ev.Data), len(big))
	}

	// An event not yet taken points into the buffer: a growth leaves the
	// old one to the garbage collector, and the event's Data intact.
	small := wireFrame(protocol.RoleClient, frame.OpText, true, []byte("kept"))
	buf = c.ReadBufferFrom(bufs, len(small))
	n = copy(buf, small)
	c.SetStopAfterMessage(true)
	if err := c.ReceiveBuffered(t0, n); err != nil {
		t.Fatal(err)
	}
	put := len(bufs.put)
	c.ReadBufferFrom(bufs, 1<<20)
	if len(bufs.put) != put {
		t.Fatal("a buffer an event points into went back")
	}
	if ev := c.NextEvent(); string(ev.Data) != "kept" {
		t.Fatalf("event %+v after the growth", ev)
	}

	// Without Buffers it is ReadBuffer.
	before := len(bufs.asked)
	if got := c.ReadBufferFrom(nil, 10); len(got) < 10 || len(bufs.asked) != before {
		t.Fatal("ReadBufferFrom(nil) is not ReadBuffer")
	}
}

// countingBuffers records what is asked of it and given back, and makes
// each buffer to measure.
type countingBuffers struct {
	asked []int
	put   [][]byte
}

func (b *countingBuffers) Get(size int) []byte {
	b.asked = append(b.asked, size)
	return make([]byte, 0, size)
}

func (b *countingBuffers) Put(p []byte) { b.put = append(b.put, p) }

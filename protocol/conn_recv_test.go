package protocol_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Every receive-side rule of design.md §4, for the role that receives: the
// exact close frame the engine answers with and the error Receive returns.
func TestReceiveViolations(t *testing.T) {
	const C, S = protocol.RoleClient, protocol.RoleServer
	long := bytes.Repeat([]byte("x"), 126)
	tests := []struct {
		name string
		recv protocol.Role // the role receiving
		in   []byte
		want error
	}{
		{"unmasked client frame", S, wireFrame(S, frame.OpText, true, []byte("hi")), protocol.ErrUnmaskedClientFrame},
		{"masked server frame", C, wireFrame(C, frame.OpText, true, []byte("hi")), protocol.ErrMaskedServerFrame},
		{"RSV1 without extension", S, wireFrameRsv(C, frame.OpText, frame.Rsv1, true, []byte("hi")), protocol.ErrReservedBits},
		{"RSV2", C, wireFrameRsv(S, frame.OpBinary, frame.Rsv2, true, nil), protocol.ErrReservedBits},
		{"RSV3 on ping", S, wireFrameRsv(C, frame.OpPing, frame.Rsv3, true, nil), protocol.ErrReservedBits},
		{"reserved opcode 3", S, wireFrame(C, 3, true, nil), frame.ErrReservedOpcode},
		{"reserved opcode 0xB", C, wireFrame(S, 0xB, true, nil), frame.ErrReservedOpcode},
		{"continuation without start", S, wireFrame(C, frame.OpContinuation, true, []byte("x")), protocol.ErrUnexpectedCont},
		{"new message inside fragmented", S, concat(wireFrame(C, frame.OpText, false, []byte("a")), wireFrame(C, frame.OpText, true, []byte("b"))), protocol.ErrExpectedCont},
		{"binary inside fragmented text", C, concat(wireFrame(S, frame.OpText, false, []byte("a")), wireFrame(S, frame.OpBinary, true, []byte("b"))), protocol.ErrExpectedCont},
		{"fragmented ping", S, wireFrame(C, frame.OpPing, false, nil), frame.ErrFragmentedControl},
		{"ping over 125", S, wireFrame(C, frame.OpPing, true, long), frame.ErrControlTooLong},
		{"close over 125", C, wireFrame(S, frame.OpClose, true, long), frame.ErrControlTooLong},
		{"close one byte", S, wireFrame(C, frame.OpClose, true, []byte{3}), frame.ErrClosePayloadOneByte},
		{"close code 999", S, wireFrame(C, frame.OpClose, true, []byte{0x03, 0xE7}), frame.ErrCloseCodeInvalid},
		{"close code 1004", S, wireFrame(C, frame.OpClose, true, []byte{0x03, 0xEC}), frame.ErrCloseCodeInvalid},
		{"close code 1005", C, wireFrame(S, frame.OpClose, true, []byte{0x03, 0xED}), frame.ErrCloseCodeInvalid},
		{"close code 1006", S, wireFrame(C, frame.OpClose, true, []byte{0x03, 0xEE}), frame.ErrCloseCodeInvalid},
		{"close code 1015", S, wireFrame(C, frame.OpClose, true, []byte{0x03, 0xF7}), frame.ErrCloseCodeInvalid},
		{"close code 1016", S, wireFrame(C, frame.OpClose, true, []byte{0x03, 0xF8}), frame.ErrCloseCodeInvalid},
		{"close code 2999", S, wireFrame(C, frame.OpClose, true, []byte{0x0B, 0xB7}), frame.ErrCloseCodeInvalid},
		{"close code 5000", S, wireFrame(C, frame.OpClose, true, []byte{0x13, 0x88}), frame.ErrCloseCodeInvalid},
		{"close reason not UTF-8", S, wireFrame(C, frame.OpClose, true, []byte{0x03, 0xE8, 0xFF}), frame.ErrCloseReasonUTF8},
		{"text not UTF-8", S, wireFrame(C, frame.OpText, true, []byte("a\xFFb")), frame.ErrInvalidUTF8},
		{"text truncated UTF-8", C, wireFrame(S, frame.OpText, true, []byte("a\xE2\x82")), frame.ErrInvalidUTF8},
		{"text invalid across fragments", S, concat(wireFrame(C, frame.OpText, false, []byte("\xF4")), wireFrame(C, frame.OpContinuation, true, []byte("\x90\x80\x80"))), frame.ErrInvalidUTF8},
		{"message over max from header alone", S, []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4}, protocol.ErrMessageTooBig},
		{"64-bit length MSB", C, []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, frame.ErrLengthOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := established(t, tc.recv, testConfig())
			err := c.Receive(t0, tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Receive = %v, want %v", err, tc.want)
			}
			var pe *frame.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("%v is not a *frame.ProtocolError", err)
			}
			out, evs := drain(c)
			want := wireFrame(tc.recv, frame.OpClose, true, closePayload(pe.Code, pe.Reason))
			if !bytes.Equal(out, want) {
				t.Fatalf("sent % x, want % x", out, want)
			}
			if got := kinds(evs); got[len(got)-1] != protocol.EventClosed {
				t.Fatalf("events %v do not end with closed", got)
			}
			if !c.ShouldCloseTransport() || c.State() != protocol.StateClosed {
				t.Fatalf("state %v, close transport %v", c.State(), c.ShouldCloseTransport())
			}
			st := c.CloseStatus()
			if st.Code != pe.Code || !errors.Is(st.Err, tc.want) || !errors.Is(st.Err, &protocol.CloseError{Code: pe.Code}) {
				t.Fatalf("status %+v", st)
			}
			// Nothing more is read or sent.
			if err := c.Receive(t0, wireFrame(protocol.RoleClient, frame.OpPing, true, nil)); err != nil {
				t.Fatalf("Receive after failure: %v", err)
			}
			if out, evs := drain(c); len(out) != 0 || len(evs) != 0 {
				t.Fatalf("after failure: out % x, events %v", out, kinds(evs))
			}
		})
	}
}

func TestCloseCodesPerViolation(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code frame.CloseCode
	}{
		{protocol.ErrUnmaskedClientFrame, 1002}, {protocol.ErrReservedBits, 1002}, {frame.ErrInvalidUTF8, 1007},
		{frame.ErrCloseReasonUTF8, 1007}, {protocol.ErrFrameTooBig, 1009}, {protocol.ErrMessageTooBig, 1009},
	} {
		var pe *frame.ProtocolError
		if !errors.As(tc.err, &pe) || pe.Code != tc.code {
			t.Errorf("%v: code %v, want %v", tc.err, pe.Code, tc.code)
		}
	}
}

// Invalid UTF-8 fails at the fragment that proves it, before the message
// ends, and data already delivered stays delivered.
func TestInvalidUTF8FailsFast(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	if err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpText, false, []byte("ok"))); err != nil {
		t.Fatal(err)
	}
	err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpContinuation, false, []byte("\xC0")))
	if !errors.Is(err, frame.ErrInvalidUTF8) {
		t.Fatalf("got %v", err)
	}
	_, evs := drain(s)
	if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventData, protocol.EventClosed}) {
		t.Fatalf("events %v", got)
	}
	if string(evs[0].Data) != "ok" || evs[1].Code != frame.CloseInvalidPayload {
		t.Fatalf("events %+v", evs)
	}
}

func TestMessageTooBig(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageSize = 10
	t.Run("one frame, from the header", func(t *testing.T) {
		s := established(t, protocol.RoleServer, cfg)
		// Only the header: the payload is never needed to decide.
		err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 11))[:6])
		if !errors.Is(err, protocol.ErrMessageTooBig) {
			t.Fatalf("got %v", err)
		}
		if s.CloseStatus().Code != frame.CloseTooBig {
			t.Fatalf("status %+v", s.CloseStatus())
		}
	})
	t.Run("across fragments", func(t *testing.T) {
		s := established(t, protocol.RoleServer, cfg)
		in := concat(wireFrame(protocol.RoleClient, frame.OpBinary, false, make([]byte, 6)),
			wireFrame(protocol.RoleClient, frame.OpContinuation, true, make([]byte, 5)))
		if err := s.Receive(t0, in); !errors.Is(err, protocol.ErrMessageTooBig) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("frame limit", func(t *testing.T) {
		cfg := cfg
		cfg.MaxFrameSize = 4
		s := established(t, protocol.RoleServer, cfg)
		in := wireFrame(protocol.RoleClient, frame.OpBinary, false, make([]byte, 5))
		if err := s.Receive(t0, in); !errors.Is(err, protocol.ErrFrameTooBig) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		s := established(t, protocol.RoleServer, cfg)
		if err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpBinary, true, make([]byte, 10))); err != nil {
			t.Fatal(err)
		}
	})
}

// Data events: exact payloads at the length boundaries of the header
// encoding, both directions.
func TestDataRoundTripLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
			payload := bytes.Repeat([]byte("a"), n)
			for _, from := range []protocol.Role{protocol.RoleClient, protocol.RoleServer} {
				to := protocol.RoleServer
				if from == protocol.RoleServer {
					to = protocol.RoleClient
				}
				snd := established(t, from, testConfig())
				rcv := established(t, to, testConfig())
				if err := snd.Send(t0, op, payload, true); err != nil {
					t.Fatal(err)
				}
				wire, _ := drain(snd)
				if want := wireFrame(from, op, true, payload); !bytes.Equal(wire, want) {
					t.Fatalf("%v %v %d: wire differs (len %d, want %d)", from, op, n, len(wire), len(want))
				}
				if err := rcv.Receive(t0, wire); err != nil {
					t.Fatal(err)
				}
				_, evs := drain(rcv)
				want := []protocol.Event{{Kind: protocol.EventData, Opcode: op, Fin: true, Data: payload, FrameLength: uint64(n)}}
				if diff := cmp.Diff(want, evs); diff != "" {
					t.Fatalf("%v→%v %v %d:\n%s", from, to, op, n, diff)
				}
			}
		}
	}
}

// A fragmented message with pings between its fragments: the pings are
// answered, each (two pongs are far from the bound on waiting pongs), and
// the fragments arrive in order.
func TestFragmentedWithInterleavedPings(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	in := concat(
		wireFrame(protocol.RoleClient, frame.OpText, false, []byte("Hel")),
		wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("p1")),
		wireFrame(protocol.RoleClient, frame.OpContinuation, false, []byte("l")),
		wireFrame(protocol.RoleClient, frame.OpPing, true, []byte("p2")),
		wireFrame(protocol.RoleClient, frame.OpContinuation, true, []byte("o")),
	)
	if err := s.Receive(t0, in); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(s)
	wantOut := concat(wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("p1")),
		wireFrame(protocol.RoleServer, frame.OpPong, true, []byte("p2")))
	if !bytes.Equal(out, wantOut) {
		t.Fatalf("out % x, want % x", out, wantOut)
	}
	want := []protocol.Event{
		{Kind: protocol.EventData, Opcode: frame.OpText, Data: []byte("Hel"), FrameLength: 3},
		{Kind: protocol.EventPing, Opcode: frame.OpPing, Fin: true, Data: []byte("p1")},
		{Kind: protocol.EventData, Opcode: frame.OpContinuation, Data: []byte("l"), FrameLength: 1},
		{Kind: protocol.EventPing, Opcode: frame.OpPing, Fin: true, Data: []byte("p2")},
		{Kind: protocol.EventData, Opcode: frame.OpContinuation, Fin: true, Data: []byte("o"), FrameLength: 1},
	}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Fatal(diff)
	}
}

// A frame larger than 16 KiB is delivered in pieces as its bytes arrive,
// and UTF-8 is checked across the pieces.
func TestLargeFrameStreamsInPieces(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	payload := []byte(strings.Repeat("κόσμε", 10000)) // 110000 bytes
	wire := wireFrame(protocol.RoleServer, frame.OpText, true, payload)
	var got []byte
	var pieces int
	for len(wire) > 0 {
		n := min(len(wire), 7001) // splits characters and the header
		if err := c.Receive(t0, wire[:n]); err != nil {
			t.Fatal(err)
		}
		wire = wire[n:]
		_, evs := drain(c)
		for _, ev := range evs {
			if pieces == 0 && ev.Opcode != frame.OpText || pieces > 0 && ev.Opcode != frame.OpContinuation {
				t.Fatalf("piece %d opcode %v", pieces, ev.Opcode)
			}
			if ev.Fin == ev.More {
				t.Fatalf("piece %d: Fin %v More %v", pieces, ev.Fin, ev.More)
			}
			got = append(got, ev.Data...)
			pieces++
		}
	}
	if !bytes.Equal(got, payload) || pieces < 10 {
		t.Fatalf("got %d bytes in %d pieces", len(got), pieces)
	}
}

// The P1 lesson at the engine level: a message and a close frame in one
// Receive call give the message event first.
func TestMessageThenCloseInOneReceive(t *testing.T) {
	c := established(t, protocol.RoleClient, testConfig())
	in := concat(wireFrame(protocol.RoleServer, frame.OpText, true, []byte("last words")),
		wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseNormal, "bye")))
	if err := c.Receive(t0, in); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(c)
	if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventData, protocol.EventClose}) {
		t.Fatalf("events %v", got)
	}
	if string(evs[0].Data) != "last words" || evs[1].Code != frame.CloseNormal || evs[1].Reason != "bye" {
		t.Fatalf("events %+v", evs)
	}
	// The reply echoes the code, masked.
	if want := wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseNormal, "")); !bytes.Equal(out, want) {
		t.Fatalf("reply % x, want % x", out, want)
	}
}

func TestDataAfterCloseIgnored(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	in := concat(wireFrame(protocol.RoleClient, frame.OpClose, true, closePayload(frame.CloseGoingAway, "")),
		wireFrame(protocol.RoleClient, frame.OpText, true, []byte("too late")),
		[]byte{0xFF, 0xFF}) // even garbage
	if err := s.Receive(t0, in); err != nil {
		t.Fatal(err)
	}
	if err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpText, true, []byte("later"))); err != nil {
		t.Fatal(err)
	}
	_, evs := drain(s)
	if got := kinds(evs); !cmp.Equal(got, []protocol.EventKind{protocol.EventClose, protocol.EventClosed}) {
		t.Fatalf("events %v", got)
	}
}

// Unsolicited pongs are reported without latency and change nothing.
func TestUnsolicitedPongIgnored(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	if err := s.Receive(t0, wireFrame(protocol.RoleClient, frame.OpPong, true, []byte("?"))); err != nil {
		t.Fatal(err)
	}
	out, evs := drain(s)
	if len(out) != 0 || len(evs) != 1 || evs[0].Kind != protocol.EventPong || evs[0].Latency != 0 {
		t.Fatalf("out % x events %+v", out, evs)
	}
}

// Event data stays valid until the next Receive, whatever else is called in
// between: adapters deliver it without copying.
func TestEventDataValidUntilNextReceive(t *testing.T) {
	s := established(t, protocol.RoleServer, testConfig())
	s.Receive(t0, concat(wireFrame(protocol.RoleClient, frame.OpText, true, []byte("first")),
		wireFrame(protocol.RoleClient, frame.OpBinary, true, []byte("second"))))
	var held [][]byte
	for ev := s.NextEvent(); ev.Kind != protocol.EventNone; ev = s.NextEvent() {
		held = append(held, ev.Data)
	}
	s.SendMessage(at(time.Second), frame.OpText, bytes.Repeat([]byte("x"), 70000))
	s.Ping(at(time.Second), []byte("p"))
	s.HandleTimeout(at(time.Hour))
	s.Advance(len(s.Outgoing()))
	if string(held[0]) != "first" || string(held[1]) != "second" {
		t.Fatalf("data changed: %q %q", held[0], held[1])
	}
}

// A header violation is decided by the first bytes that prove it: the close
// frame goes out at once, and an EOF right after is still the peer's
// violation, not 1006.
func TestHeaderViolationFromFirstBytes(t *testing.T) {
	tests := []struct {
		name string
		role protocol.Role
		in   []byte
		want *frame.ProtocolError
	}{
		{"reserved opcode, one byte", protocol.RoleServer, []byte{0x83}, frame.ErrReservedOpcode},
		{"ff ff", protocol.RoleServer, []byte{0xff, 0xff}, frame.ErrReservedOpcode},
		{"fragmented ping", protocol.RoleServer, []byte{0x09}, frame.ErrFragmentedControl},
		{"RSV without extension", protocol.RoleServer, []byte{0xc1}, protocol.ErrReservedBits},
		{"continuation first", protocol.RoleServer, []byte{0x80}, protocol.ErrUnexpectedCont},
		{"long ping", protocol.RoleServer, []byte{0x89, 0xfe}, frame.ErrControlTooLong},
		{"unmasked to a server", protocol.RoleServer, []byte{0x81, 0x7f}, protocol.ErrUnmaskedClientFrame},
		{"masked to a client", protocol.RoleClient, []byte{0x81, 0xff}, protocol.ErrMaskedServerFrame},
		{"64-bit length overflow", protocol.RoleServer, []byte{0x82, 0xff, 0x80}, frame.ErrLengthOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := established(t, tt.role, testConfig())
			err := c.Receive(at(0), tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Receive: %v, want %v", err, tt.want)
			}
			out, _ := drain(c)
			if want := wireFrame(tt.role, frame.OpClose, true, closePayload(tt.want.Code, tt.want.Reason)); !bytes.Equal(out, want) {
				t.Fatalf("out % x, want % x", out, want)
			}
			c.ReceiveEOF(at(time.Second))
			if st := c.CloseStatus(); st.Code != frame.CloseProtocolError || !errors.Is(st.Err, tt.want) {
				t.Fatalf("status %+v", st)
			}
		})
	}
	// A valid start waits for the rest.
	c := established(t, protocol.RoleServer, testConfig())
	if err := c.Receive(at(0), []byte{0x81, 0xfe, 0x01}); err != nil || c.State() != protocol.StateOpen {
		t.Fatalf("valid prefix: %v %v", err, c.State())
	}
}

// Invalid UTF-8 in a small text frame fails at the piece that proves it,
// not when the frame is complete; nothing of the frame is delivered
// (Autobahn 6.4.3, 6.4.4).
func TestUTF8FailsBeforeTheFrameIsComplete(t *testing.T) {
	payload := []byte(strings.Repeat("κόσμε", 10) + "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited" + strings.Repeat("a", 40))
	wire := wireFrame(protocol.RoleClient, frame.OpText, true, payload)
	bad := len(wire) - len(payload) + bytes.IndexByte(payload, 0xed) // where the wire proves it
	c := established(t, protocol.RoleServer, testConfig())
	pieces := [][]byte{wire[:40], wire[40 : bad+2], wire[bad+2:]}
	if err := c.Receive(at(0), pieces[0]); err != nil {
		t.Fatal(err)
	}
	if out, evs := drain(c); len(out) != 0 || len(evs) != 0 {
		t.Fatalf("first piece: out % x events %v", out, kinds(evs))
	}
	err := c.Receive(at(time.Second), pieces[1])
	if !errors.Is(err, frame.ErrInvalidUTF8) {
		t.Fatalf("second piece: %v", err)
	}
	out, evs := drain(c)
	if want := wireFrame(protocol.RoleServer, frame.OpClose, true, closePayload(frame.CloseInvalidPayload, frame.ErrInvalidUTF8.Reason)); !bytes.Equal(out, want) {
		t.Fatalf("out % x", out)
	}
	if got := kinds(evs); len(got) != 1 || got[0] != protocol.EventClosed {
		t.Fatalf("events %v: the partial frame was delivered", got)
	}
	// The same frame, valid, in the same pieces: delivered whole, unmasked once.
	good := wireFrame(protocol.RoleClient, frame.OpText, true, []byte(strings.Repeat("κόσμε", 30)))
	c = established(t, protocol.RoleServer, testConfig())
	var got []protocol.Event
	for _, p := range [][]byte{good[:40], good[40:97], good[97:]} {
		if err := c.Receive(at(0), p); err != nil {
			t.Fatal(err)
		}
		_, evs := drain(c)
		got = append(got, evs...)
	}
	if len(got) != 1 || string(got[0].Data) != strings.Repeat("κόσμε", 30) {
		t.Fatalf("valid frame: %v", kinds(got))
	}
}

// A read of tiny frames leaves at most 256 events pending; the rest waits in
// the engine (InputPending) and comes with the next Receive(now, nil),
// nothing lost, and the memory one read holds is bounded.
func TestPendingEventsBounded(t *testing.T) {
	var in []byte
	in = append(in, wireFrame(protocol.RoleClient, frame.OpBinary, false, []byte{0})...)
	for i := 1; i < 9000; i++ {
		in = append(in, wireFrame(protocol.RoleClient, frame.OpContinuation, false, []byte{byte(i)})...)
	}
	in = append(in, wireFrame(protocol.RoleClient, frame.OpContinuation, true, []byte{0xff})...)
	cfg := testConfig()
	c := established(t, protocol.RoleServer, cfg)
	if err := c.Receive(at(0), in); err != nil {
		t.Fatal(err)
	}
	total, rounds := 0, 0
	for {
		_, evs := drainRound(c)
		if len(evs) > 256 {
			t.Fatalf("%d events pending after one call", len(evs))
		}
		total += len(evs)
		rounds++
		if !c.InputPending() {
			break
		}
		if err := c.Receive(at(0), nil); err != nil {
			t.Fatal(err)
		}
	}
	if total != 9001 || rounds < 9001/256 {
		t.Fatalf("%d events in %d rounds", total, rounds)
	}
}

// What 1,000 connections hold after each read a 64 KiB burst of 1-byte
// fragments, before their drivers drained anything: the read itself and
// 256 events, not an event per frame (measured ~3.2 MiB each before).
func TestTinyFragmentsMemoryPerConnection(t *testing.T) {
	var burst []byte
	burst = append(burst, wireFrame(protocol.RoleClient, frame.OpBinary, false, []byte{0})...)
	for len(burst) < 64<<10-7 {
		burst = append(burst, wireFrame(protocol.RoleClient, frame.OpContinuation, false, []byte{1})...)
	}
	cfg := testConfig()
	cfg.MaxMessageSize = 1 << 30
	const n = 200
	conns := make([]*protocol.Conn, n)
	before := heapInUse()
	for i := range conns {
		conns[i] = established(t, protocol.RoleServer, cfg)
		copy(conns[i].ReadBuffer(len(burst)), burst)
		conns[i].ReceiveBuffered(at(0), len(burst))
	}
	per := float64(heapInUse()-before) / n
	t.Logf("%.0f KiB per connection after a 64 KiB read of 1-byte fragments", per/1024)
	if per > 160<<10 {
		t.Fatalf("%.0f KiB per connection", per/1024)
	}
	runtime.KeepAlive(conns)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

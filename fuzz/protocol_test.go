package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
	"pgregory.net/rapid"
)

var key = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func fuzzConfig() protocol.Config {
	cfg := protocol.DefaultConfig()
	cfg.Rand = protocoltest.KeyReader(key)
	cfg.MaxMessageSize = 64 << 10
	return cfg
}

// encode builds a frame as role from would send it.
func encode(from protocol.Role, op frame.Opcode, rsv uint8, fin bool, p []byte) []byte {
	return protocoltest.EncodeFrame(from, key, op, rsv, fin, p)
}

// streamGen draws a byte stream a peer of role from might send: mostly
// well-formed frames, sometimes a broken one, sometimes garbage.
func streamGen(from protocol.Role, maxPayload int) *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		var out []byte
		n := rapid.IntRange(0, 8).Draw(t, "frames")
		for i := 0; i < n; i++ {
			switch rapid.IntRange(0, 9).Draw(t, "kind") {
			case 0, 1, 2:
				op := rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary, frame.OpContinuation}).Draw(t, "op")
				fin := rapid.Bool().Draw(t, "fin")
				var p []byte
				if op == frame.OpText || rapid.Bool().Draw(t, "textlike") {
					p = []byte(rapid.StringN(0, maxPayload/4, maxPayload).Draw(t, "text"))
				} else {
					p = rapid.SliceOfN(rapid.Byte(), 0, maxPayload).Draw(t, "bin")
				}
				out = append(out, encode(from, op, 0, fin, p)...)
			case 3:
				out = append(out, encode(from, frame.OpPing, 0, true, rapid.SliceOfN(rapid.Byte(), 0, 125).Draw(t, "ping"))...)
			case 4:
				out = append(out, encode(from, frame.OpPong, 0, true, rapid.SliceOfN(rapid.Byte(), 0, 10).Draw(t, "pong"))...)
			case 5:
				code := rapid.SampledFrom([]frame.CloseCode{1000, 1001, 1005, 1002, 4000, 999, 1006}).Draw(t, "code")
				var p []byte
				if code != frame.CloseNoStatus {
					p = append([]byte{byte(code >> 8), byte(code)}, rapid.StringN(0, 10, 20).Draw(t, "reason")...)
				}
				out = append(out, encode(from, frame.OpClose, 0, true, p)...)
			case 6:
				out = append(out, rapid.SliceOfN(rapid.Byte(), 1, 20).Draw(t, "garbage")...)
			default:
				p := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "any")
				out = append(out, encode(from, frame.OpBinary, 0, true, p)...)
			}
		}
		return out
	})
}

// outcome is everything observable from feeding a Conn a stream.
type outcome struct {
	Events []protocol.Event
	Out    []byte
	Err    string
	State  protocol.State
	Status string
}

// feed gives c the stream cut at cuts and merges the pieces of each data
// frame into one event. It drains the outputs after a call only where
// drainAt says so (always when nil) and after the last: events left pending
// across Receive calls must keep their data. A piece whose buffered entry
// is true goes in through ReadBuffer and ReceiveBuffered instead of Receive,
// with slack extra bytes asked for.
func feed(c *protocol.Conn, stream []byte, cuts []int, drainAt []bool, buffered ...[]bool) outcome {
	var o outcome
	prev := 0
	pieces := append(append([]int{}, cuts...), len(stream))
	for i, cut := range pieces {
		if cut < prev {
			continue
		}
		var err error
		if len(buffered) > 0 && i < len(buffered[0]) && buffered[0][i] {
			buf := c.ReadBuffer(cut - prev)
			if len(buf) < cut-prev {
				panic(fmt.Sprintf("ReadBuffer(%d) returned %d bytes", cut-prev, len(buf)))
			}
			n := copy(buf, stream[prev:cut])
			err = c.ReceiveBuffered(protocoltest.Epoch, n)
		} else {
			err = c.Receive(protocoltest.Epoch, stream[prev:cut])
		}
		if err != nil && o.Err == "" {
			o.Err = err.Error()
		}
		prev = cut
		if i < len(drainAt) && !drainAt[i] && i < len(pieces)-1 {
			continue
		}
		for {
			o.Out = append(o.Out, c.Outgoing()...)
			c.Advance(len(c.Outgoing()))
			for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
				ev.Data = bytes.Clone(ev.Data)
				if ev.Data == nil {
					ev.Data = []byte{}
				}
				o.Events = append(o.Events, ev)
			}
			if !c.InputPending() {
				break
			}
			if err := c.Receive(protocoltest.Epoch, nil); err != nil && o.Err == "" {
				o.Err = err.Error()
			}
		}
	}
	o.Events = protocoltest.MergePieces(o.Events)
	o.Out = collapsePongs(o.Out)
	o.State = c.State()
	if err := c.CloseStatus().Err; err != nil {
		o.Status = err.Error()
	}
	return o
}

// collapsePongs keeps, of each run of consecutive pongs in out, the last:
// the engine answers only the latest of the pings whose pongs were not yet
// drained (RFC 6455 §5.5.3), so how many pongs go out depends on when the
// driver drains, and which one is last does not.
func collapsePongs(out []byte) []byte {
	var kept []byte
	var pong []byte // the last pong of the current run
	for len(out) > 0 {
		h, n, err := frame.ParseHeader(out)
		if err != nil || n == 0 || uint64(len(out)-n) < h.Length {
			break // not whole frames: left as they are
		}
		f := out[:n+int(h.Length)]
		out = out[len(f):]
		if h.Opcode == frame.OpPong {
			pong = f
			continue
		}
		kept, pong = append(append(kept, pong...), f...), nil
	}
	return append(append(kept, pong...), out...)
}

// Property (a): any split of the same input gives the same events, the same
// output bytes (runs of pongs collapsed to their last, see collapsePongs),
// the same error and the same final status. Frames here stay
// within 16 KiB, where a frame is delivered in one event.
func TestAnySplitSameOutcome(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		role := rapid.SampledFrom([]protocol.Role{protocol.RoleClient, protocol.RoleServer}).Draw(t, "role")
		peer := protocol.RoleServer
		if role == protocol.RoleServer {
			peer = protocol.RoleClient
		}
		stream := streamGen(peer, 300).Draw(t, "stream")
		cuts := rapid.SliceOfN(rapid.IntRange(0, len(stream)), 0, 12).Draw(t, "cuts")
		drainAt := rapid.SliceOfN(rapid.Bool(), len(cuts), len(cuts)).Draw(t, "drainAt")
		buffered := rapid.SliceOfN(rapid.Bool(), len(cuts)+1, len(cuts)+1).Draw(t, "buffered")
		whole, err1 := protocol.NewEstablished(role, fuzzConfig(), protocoltest.Epoch)
		split, err2 := protocol.NewEstablished(role, fuzzConfig(), protocoltest.Epoch)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		a, b := feed(whole, stream, nil, nil), feed(split, stream, cuts, drainAt, buffered)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("split %v changed the outcome (-whole +split):\n%s", cuts, diff)
		}
	})
}

// Property (a) for large frames, streamed in pieces: valid input gives the
// same merged events whatever the split.
func TestAnySplitSameOutcomeLargeFrames(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var stream []byte
		for i, n := 0, rapid.IntRange(1, 3).Draw(t, "n"); i < n; i++ {
			size := rapid.IntRange(0, 60<<10).Draw(t, "size")
			unit := []byte("κόσμε!")
			p := bytes.Repeat(unit, size/len(unit))
			stream = append(stream, encode(protocol.RoleClient, frame.OpText, 0, true, p)...)
		}
		cuts := rapid.SliceOfN(rapid.IntRange(0, len(stream)), 0, 20).Draw(t, "cuts")
		drainAt := rapid.SliceOfN(rapid.Bool(), len(cuts), len(cuts)).Draw(t, "drainAt")
		buffered := rapid.SliceOfN(rapid.Bool(), len(cuts)+1, len(cuts)+1).Draw(t, "buffered")
		whole, _ := protocol.NewEstablished(protocol.RoleServer, fuzzConfig(), protocoltest.Epoch)
		split, _ := protocol.NewEstablished(protocol.RoleServer, fuzzConfig(), protocoltest.Epoch)
		a, b := feed(whole, stream, nil, nil), feed(split, stream, cuts, drainAt, buffered)
		if a.Err != "" {
			t.Fatalf("valid stream failed: %s", a.Err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("split %v changed the outcome:\n%s", cuts, diff)
		}
	})
}

// sentMessage is a message a side finished sending.
type sentMessage struct {
	Op   frame.Opcode
	Data []byte
}

// Property (b): a client/server pair under random sends, pings, closes,
// random chunking and random time steps delivers every finished message in
// order, never fails, and ends with consistent close statuses. Property (c)
// is checked on the way: nothing follows a close frame on the wire.
func TestPairDeliversEverything(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, err := protocoltest.NewPair(fuzzConfig(), fuzzConfig())
		if err != nil {
			t.Fatal(err)
		}
		pairProperty(t, p)
	})
}

// The same with permessage-deflate negotiated through a real handshake,
// under random parameters on both sides, random fragmentation and random
// uncompressed messages.
func TestCompressedPairDeliversEverything(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		dcfg := func(label string) deflate.Config {
			return deflate.Config{
				Level:                   rapid.SampledFrom([]int{1, 6, 9, -2}).Draw(t, label+" level"),
				Threshold:               rapid.SampledFrom([]int{-1, 0, 100}).Draw(t, label+" threshold"),
				ServerNoContextTakeover: rapid.Bool().Draw(t, label+" server_no_context_takeover"),
				ClientNoContextTakeover: rapid.Bool().Draw(t, label+" client_no_context_takeover"),
				ContextTakeover:         rapid.Bool().Draw(t, label+" context takeover"),
			}
		}
		c, err := protocol.NewClient(fuzzConfig(), protocol.ClientOptions{URL: "ws://h/", Extensions: []protocol.ClientExtension{dcfg("client").Client()}}, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		s, err := protocol.NewServer(fuzzConfig(), protocol.ServerOptions{Extensions: []protocol.ServerExtension{dcfg("server").Server()}}, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		p := protocoltest.Join(c, s, protocoltest.Epoch)
		p.Settle()
		if len(c.Extensions()) != 1 || len(s.Extensions()) != 1 {
			t.Fatalf("deflate not negotiated")
		}
		p.Client.Events, p.Server.Events = nil, nil
		pairProperty(t, p)
	})
}

// pairProperty drives a pair with random operations, then closes it, and
// checks that every finished message arrived in order, that nothing failed,
// that the close statuses agree, and that nothing follows a close frame.
func pairProperty(t *rapid.T, p *protocoltest.Pair) {
	p.Chunk = func(n int) int { return rapid.IntRange(1, n).Draw(t, "chunk") }
	sent := map[*protocoltest.Side][]sentMessage{}
	open := map[*protocoltest.Side]*sentMessage{}
	for i, n := 0, rapid.IntRange(0, 30).Draw(t, "ops"); i < n; i++ {
		side := []*protocoltest.Side{p.Client, p.Server}[rapid.IntRange(0, 1).Draw(t, "side (0 client, 1 server)")]
		switch rapid.IntRange(0, 9).Draw(t, "op") {
		case 0, 1, 2, 3:
			fin := rapid.Bool().Draw(t, "fin")
			var data []byte
			if rapid.Bool().Draw(t, "vocabulary") {
				// Words shared by every message, so compressed messages
				// refer back to earlier ones when context is kept.
				words := rapid.SliceOfN(rapid.SampledFrom([]string{`{"id":`, `"name":"wsengine"`, `,"tags":[`, "]}", " hello", " world", "42"}), 0, 60).Draw(t, "words")
				data = []byte(strings.Join(words, ""))
			} else {
				data = []byte(rapid.StringN(0, 50, 3000).Draw(t, "data"))
			}
			op := frame.OpContinuation
			if open[side] == nil {
				op = rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary}).Draw(t, "msgop")
			}
			o := protocol.SendOptions{Uncompressed: rapid.IntRange(0, 4).Draw(t, "uncompressed") == 0}
			if err := side.Conn.SendWith(p.Now, op, data, fin, o); err != nil {
				if !errors.Is(err, protocol.ErrClosing) && !errors.Is(err, protocol.ErrClosed) {
					t.Fatalf("Send: %v", err)
				}
				continue
			}
			if open[side] == nil {
				open[side] = &sentMessage{Op: op}
			}
			open[side].Data = append(open[side].Data, data...)
			if fin {
				sent[side] = append(sent[side], *open[side])
				open[side] = nil
			}
		case 4:
			side.Conn.Ping(p.Now, []byte(rapid.StringN(0, 10, 125).Draw(t, "ping")))
		case 5:
			code := rapid.SampledFrom([]frame.CloseCode{1000, 1001, 4001}).Draw(t, "code")
			if err := side.Conn.Close(p.Now, code, "bye"); err != nil {
				t.Fatalf("Close: %v", err)
			}
		case 6:
			p.Settle()
			p.JumpToDeadline()
		case 7:
			p.Advance(time.Duration(rapid.IntRange(0, 2000).Draw(t, "ms")) * time.Millisecond)
		default:
			for j, steps := 0, rapid.IntRange(1, 5).Draw(t, "steps"); j < steps; j++ {
				p.Step()
			}
		}
	}
	p.Settle()
	p.Client.Conn.Close(p.Now, frame.CloseNormal, "end")
	if err := p.RunUntilClosed(20); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*protocoltest.Side{{p.Client, p.Server}, {p.Server, p.Client}} {
		from, to := pair[0], pair[1]
		var got []sentMessage
		for _, m := range to.Messages() {
			got = append(got, sentMessage{m.Opcode, m.Data})
		}
		if diff := cmp.Diff(sent[from], got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
			t.Fatalf("messages lost or changed (-sent +received):\n%s", diff)
		}
		if len(to.Errs) > 0 {
			t.Fatalf("receive errors: %v", to.Errs)
		}
		if err := nothingAfterClose(from.Wire); err != nil {
			t.Fatal(err)
		}
	}
	cs, ss := p.Client.Conn.CloseStatus(), p.Server.Conn.CloseStatus()
	if !cs.Sent || !cs.Received || !ss.Sent || !ss.Received {
		t.Fatalf("incomplete close handshake: client %+v server %+v", cs, ss)
	}
	if cs.ReceivedCode != ss.SentCode || ss.ReceivedCode != cs.SentCode || cs.Code != cs.ReceivedCode || ss.Code != ss.ReceivedCode {
		t.Fatalf("inconsistent statuses: client %+v server %+v", cs, ss)
	}
}

// nothingAfterClose parses a side's whole output and checks that no data
// frame follows a close frame (property c): "After sending a Close frame,
// the endpoint MUST NOT send any further data frames" (§5.5.1); pings and
// pongs may follow.
func nothingAfterClose(wire []byte) error {
	if bytes.HasPrefix(wire, []byte("GET ")) || bytes.HasPrefix(wire, []byte("HTTP/")) {
		wire = wire[bytes.Index(wire, []byte("\r\n\r\n"))+4:]
	}
	closed := false
	for len(wire) > 0 {
		h, n, err := frame.ParseHeader(wire)
		if err != nil || n == 0 {
			return fmt.Errorf("unparsable output: %v", err)
		}
		if closed && !h.Opcode.IsControl() || closed && h.Opcode == frame.OpClose {
			return fmt.Errorf("%v frame after a close frame", h.Opcode)
		}
		closed = closed || h.Opcode == frame.OpClose
		wire = wire[n+int(h.Length):]
	}
	return nil
}

// FuzzReceive: arbitrary bytes for either role never panic, keep memory
// bounded by the limits, and any error is a typed *frame.ProtocolError whose
// code the status reports.
func FuzzReceive(f *testing.F) {
	f.Add(true, encode(protocol.RoleClient, frame.OpText, 0, true, []byte("hello")), uint16(3))
	f.Add(false, encode(protocol.RoleServer, frame.OpBinary, 0, false, []byte{1, 2, 3}), uint16(1))
	f.Add(true, encode(protocol.RoleClient, frame.OpClose, 0, true, []byte{3, 0xE8}), uint16(0))
	f.Add(false, []byte{0x81, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, uint16(5))
	f.Fuzz(func(t *testing.T, server bool, data []byte, chunk uint16) {
		role := protocol.RoleClient
		if server {
			role = protocol.RoleServer
		}
		cfg := fuzzConfig()
		cfg.MaxMessageSize = 4096
		c, err := protocol.NewEstablished(role, cfg, protocoltest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		step := int(chunk)%64 + 1
		for len(data) > 0 {
			n := min(step, len(data))
			err := c.Receive(protocoltest.Epoch, data[:n])
			data = data[n:]
			if err != nil {
				var pe *frame.ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("untyped error %T %v", err, err)
				}
				if st := c.CloseStatus(); st.Err == nil || c.State() != protocol.StateClosed {
					t.Fatalf("error %v but state %v", err, c.State())
				}
			}
			if out := len(c.Outgoing()); out > 1<<16 {
				t.Fatalf("%d bytes queued", out)
			}
			for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
				if len(ev.Data) > 4096 {
					t.Fatalf("event of %d bytes over the limit", len(ev.Data))
				}
			}
			c.Advance(len(c.Outgoing()))
		}
		c.ReceiveEOF(protocoltest.Epoch)
		if c.State() != protocol.StateClosed || c.CloseStatus().Err == nil {
			t.Fatalf("not closed after EOF: %v", c.State())
		}
	})
}

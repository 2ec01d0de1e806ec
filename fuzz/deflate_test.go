package fuzz

import (
	"bytes"
	"compress/flate"
	"errors"
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
	"pgregory.net/rapid"
)

// deflatedClient returns an open client Conn with permessage-deflate
// negotiated, and its message limit.
func deflatedClient(t testing.TB, limit int64) *protocol.Conn {
	cfg := fuzzConfig()
	cfg.MaxMessageSize = limit
	c, _ := protocol.NewClient(cfg, protocol.ClientOptions{URL: "ws://h/", Extensions: []protocol.ClientExtension{deflate.Config{}.Client()}}, protocoltest.Epoch)
	s, _ := protocol.NewServer(cfg, protocol.ServerOptions{Extensions: []protocol.ServerExtension{deflate.Config{}.Server()}}, protocoltest.Epoch)
	p := protocoltest.Join(c, s, protocoltest.Epoch)
	p.Settle()
	if len(c.Extensions()) != 1 {
		t.Fatal("deflate not negotiated")
	}
	for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
	}
	return c
}

func deflated(p []byte, level int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, level)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// FuzzInflate: arbitrary compressed payloads, in one or two frames, never
// panic, never produce more than the message limit, and fail only with a
// typed protocol error carrying 1002, 1007 or 1009.
func FuzzInflate(f *testing.F) {
	f.Add(deflated([]byte("Hello"), 6), true, uint8(2))
	f.Add(deflated(bytes.Repeat([]byte("a"), 10000), 9), false, uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff}, true, uint8(1))
	f.Add(deflated(make([]byte, 100000), 9), false, uint8(3))
	f.Fuzz(func(t *testing.T, payload []byte, text bool, split uint8) {
		const limit = 4096
		c := deflatedClient(t, limit)
		op := frame.OpBinary
		if text {
			op = frame.OpText
		}
		cut := min(int(split), len(payload))
		var wire []byte
		if cut > 0 && cut < len(payload) {
			wire = frame.AppendHeader(wire, frame.Header{Rsv: frame.Rsv1, Opcode: op, Length: uint64(cut)})
			wire = append(wire, payload[:cut]...)
			wire = frame.AppendHeader(wire, frame.Header{Fin: true, Opcode: frame.OpContinuation, Length: uint64(len(payload) - cut)})
			wire = append(wire, payload[cut:]...)
		} else {
			wire = frame.AppendHeader(wire, frame.Header{Fin: true, Rsv: frame.Rsv1, Opcode: op, Length: uint64(len(payload))})
			wire = append(wire, payload...)
		}
		err := c.Receive(protocoltest.Epoch, wire)
		total := 0
		for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
			total += len(ev.Data)
		}
		if total > limit {
			t.Fatalf("%d bytes delivered over a %d limit", total, limit)
		}
		if err != nil {
			var pe *frame.ProtocolError
			if !errors.As(err, &pe) || (pe.Code != 1002 && pe.Code != 1007 && pe.Code != 1009) {
				t.Fatalf("error %T %v", err, err)
			}
		}
	})
}

// Compress → decompress round trip at the extension level: random
// messages, levels, fragmentation and context takeover, message after
// message on one connection pair.
func TestDeflateRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := deflate.Config{
			Level:           rapid.SampledFrom([]int{-2, 1, 5, 9}).Draw(t, "level"),
			Threshold:       -1,
			ContextTakeover: rapid.Bool().Draw(t, "context takeover"),
		}
		s, _ := protocol.NewServer(fuzzConfig(), protocol.ServerOptions{Extensions: []protocol.ServerExtension{cfg.Server()}}, protocoltest.Epoch)
		c, _ := protocol.NewClient(fuzzConfig(), protocol.ClientOptions{URL: "ws://h/", Extensions: []protocol.ClientExtension{deflate.Config{}.Client()}}, protocoltest.Epoch)
		p := protocoltest.Join(c, s, protocoltest.Epoch)
		p.Settle()
		for i, n := 0, rapid.IntRange(1, 6).Draw(t, "messages"); i < n; i++ {
			msg := rapid.SliceOfN(rapid.SampledFrom([]byte("abcab \x00\xff")), 0, 5000).Draw(t, "msg")
			pieces := rapid.IntRange(1, 4).Draw(t, "fragments")
			p.Client.Events = nil
			rest := msg
			for k := 0; k < pieces; k++ {
				n := len(rest)
				if k < pieces-1 {
					n = rapid.IntRange(0, len(rest)).Draw(t, "cut")
				}
				op := frame.OpBinary
				if k > 0 {
					op = frame.OpContinuation
				}
				if err := s.Send(p.Now, op, rest[:n], k == pieces-1); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			p.Settle()
			got := p.Client.Messages()
			if len(got) != 1 || !bytes.Equal(got[0].Data, msg) {
				t.Fatalf("message %d: got %d messages", i, len(got))
			}
		}
	})
}

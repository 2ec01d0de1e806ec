package deflate_test

import (
	"bytes"
	"compress/flate"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
)

var t0 = protocoltest.Epoch

// pair negotiates permessage-deflate through a real handshake between a
// client and a server configured as given, and returns both Conns open.
func pair(t testing.TB, client, server deflate.Config, maxMessage int64) (*protocol.Conn, *protocol.Conn, string) {
	t.Helper()
	cfg := protocol.DefaultConfig()
	cfg.Rand = protocoltest.KeyReader{0, 0, 0, 0} // mask with zeros: wire bytes readable
	cfg.MaxMessageSize = maxMessage
	p, err := protocoltest.Handshake(cfg, protocol.ClientOptions{URL: "ws://h/", Extensions: []protocol.ClientExtension{client.Client()}},
		protocol.ServerOptions{Extensions: []protocol.ServerExtension{server.Server()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, s := p.Client.Conn, p.Server.Conn
	if !deflate.Negotiated(c.Extensions()) || !deflate.Negotiated(s.Extensions()) {
		t.Fatal("deflate not negotiated")
	}
	i := bytes.Index(p.Server.Wire, []byte("Sec-WebSocket-Extensions: "))
	ext := ""
	if i >= 0 {
		ext = string(p.Server.Wire[i+26 : i+bytes.Index(p.Server.Wire[i:], []byte("\r\n"))])
	}
	return c, s, ext
}

func drain(c *protocol.Conn) ([]byte, []protocol.Event) { return protocoltest.Take(c) }

// message joins the data events of one message.
func message(evs []protocol.Event) string {
	var b []byte
	for _, ev := range evs {
		if ev.Kind == protocol.EventData {
			b = append(b, ev.Data...)
		}
	}
	return string(b)
}

// The examples of RFC 7692 §7.2.3, as a server sends them (unmasked): each
// must be received as "Hello" (twice for the shared-window example).
func TestRFC7692ExamplesDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire []byte
		want string
	}{
		{"7.2.3.1 one frame", []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, "Hello"},
		{"7.2.3.1 two frames", []byte{0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}, "Hello"},
		{"7.2.3.2 shared window", []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}, "HelloHello"},
		{"7.2.3.3 no compression block", []byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, "Hello"},
		{"7.2.3.4 BFINAL set", []byte{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, "Hello"},
		{"7.2.3.5 two blocks", []byte{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}, "Hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := pair(t, deflate.Config{}, deflate.Config{}, 1<<20)
			drain(c)
			if err := c.Receive(t0, tc.wire); err != nil {
				t.Fatal(err)
			}
			_, evs := drain(c)
			if got := message(evs); got != tc.want {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// Sending "Hello" is byte-exact too: level 6 gives §7.2.3.1's block, level
// 1 the uncompressed-block form of §7.2.3.3.
func TestRFC7692ExamplesEncode(t *testing.T) {
	for _, tc := range []struct {
		level int
		want  []byte
	}{
		{flate.DefaultCompression, []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
		{flate.BestSpeed, []byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}},
	} {
		_, s, _ := pair(t, deflate.Config{}, deflate.Config{Level: tc.level, Threshold: -1}, 1<<20)
		drain(s)
		s.SendMessage(t0, frame.OpText, []byte("Hello"))
		if out, _ := drain(s); !bytes.Equal(out, tc.want) {
			t.Errorf("level %d: % x, want % x", tc.level, out, tc.want)
		}
	}
}

// Context takeover on: the second "Hello" refers to the first and is
// shorter; off: both messages compress alike.
func TestContextTakeover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		server   deflate.Config
		shorter  bool
		response string
	}{
		{"kept", deflate.Config{Level: 6, Threshold: -1, ContextTakeover: true}, true, "permessage-deflate"},
		{"reset (default)", deflate.Config{Level: 6, Threshold: -1}, false, "permessage-deflate"},
		{"negotiated off", deflate.Config{Level: 6, Threshold: -1, ContextTakeover: true, ServerNoContextTakeover: true}, false, "permessage-deflate; server_no_context_takeover"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s, resp := pair(t, deflate.Config{}, tc.server, 1<<20)
			if resp != tc.response {
				t.Fatalf("response %q", resp)
			}
			drain(s)
			drain(c)
			s.SendMessage(t0, frame.OpText, []byte("Hello"))
			first, _ := drain(s)
			s.SendMessage(t0, frame.OpText, []byte("Hello"))
			second, _ := drain(s)
			if (len(second) < len(first)) != tc.shorter {
				t.Fatalf("first % x, second % x", first, second)
			}
			c.Receive(t0, append(first, second...))
			if _, evs := drain(c); message(evs) != "HelloHello" {
				t.Fatalf("got %q", message(evs))
			}
		})
	}
}

// A driver parking an idle connection releases its buffers between
// messages (ReleaseReadBuffer, ReleaseWriteBuffer; the extension drops the
// buffers it gathers in). The contexts are state and stay: with context
// takeover both ways, each side's second "Hello" still refers to the first
// (it is shorter) and still inflates on the other side.
func TestReleasedBuffersKeepContext(t *testing.T) {
	takeover := deflate.Config{Level: 6, Threshold: -1, ContextTakeover: true}
	c, s, _ := pair(t, takeover, takeover, 1<<20)
	drain(c)
	drain(s)
	release := func() {
		for _, conn := range []*protocol.Conn{c, s} {
			if !conn.ReleaseReadBuffer() || !conn.ReleaseWriteBuffer() {
				t.Fatal("buffers not released between messages")
			}
		}
	}
	for _, dir := range []struct {
		name     string
		from, to *protocol.Conn
	}{{"server to client", s, c}, {"client to server", c, s}} {
		var wires [][]byte
		for range 2 {
			release()
			dir.from.SendMessage(t0, frame.OpText, []byte("Hello"))
			wire, _ := drain(dir.from)
			wires = append(wires, wire)
			release()
			dir.to.Receive(t0, wire)
			if _, evs := drain(dir.to); message(evs) != "Hello" {
				t.Fatalf("%s: got %q", dir.name, message(evs))
			}
		}
		if len(wires[1]) >= len(wires[0]) {
			t.Fatalf("%s: the compressor's context was lost: first % x, second % x", dir.name, wires[0], wires[1])
		}
	}
}

// RSV1 on the first frame only; a continuation or control frame with RSV1
// is a protocol error.
func TestRSV1Rules(t *testing.T) {
	c, s, _ := pair(t, deflate.Config{}, deflate.Config{Threshold: -1}, 1<<20)
	drain(c)
	drain(s)
	s.Send(t0, frame.OpBinary, bytes.Repeat([]byte("abc"), 100), false)
	s.Send(t0, frame.OpContinuation, bytes.Repeat([]byte("abc"), 100), true)
	out, _ := drain(s)
	h1, n1, _ := frame.ParseHeader(out)
	h2, _, _ := frame.ParseHeader(out[n1+int(h1.Length):])
	if h1.Rsv != frame.Rsv1 || h2.Rsv != 0 || h2.Opcode != frame.OpContinuation {
		t.Fatalf("rsv %d then %d", h1.Rsv, h2.Rsv)
	}
	c.Receive(t0, out)
	if _, evs := drain(c); message(evs) != strings.Repeat("abc", 200) {
		t.Fatal("fragmented compressed message not received")
	}
	for _, bad := range [][]byte{
		{0x41, 0x01, 0x00, 0xc0, 0x01, 0x00}, // RSV1 on a continuation
		{0xc9, 0x00},                         // RSV1 on a ping
	} {
		c, _, _ := pair(t, deflate.Config{}, deflate.Config{}, 1<<20)
		drain(c)
		if err := c.Receive(t0, bad); !errors.Is(err, protocol.ErrReservedBits) {
			t.Errorf("% x: %v", bad, err)
		}
	}
}

func TestThresholdAndUncompressedOption(t *testing.T) {
	_, s, _ := pair(t, deflate.Config{}, deflate.Config{Threshold: 100}, 1<<20)
	drain(s)
	s.SendMessage(t0, frame.OpText, []byte(strings.Repeat("a", 99)))
	s.SendMessage(t0, frame.OpText, []byte(strings.Repeat("a", 100)))
	s.SendWith(t0, frame.OpText, []byte(strings.Repeat("a", 500)), true, protocol.SendOptions{Uncompressed: true})
	out, _ := drain(s)
	var rsvs []uint8
	for len(out) > 0 {
		h, n, _ := frame.ParseHeader(out)
		rsvs = append(rsvs, h.Rsv)
		out = out[n+int(h.Length):]
	}
	if diff := cmp.Diff([]uint8{0, frame.Rsv1, 0}, rsvs); diff != "" {
		t.Fatal(diff)
	}
}

// zeroBomb returns a deflate payload (without the sync tail) that inflates
// to n MiB of zeros, built by repeating the compressed form of 1 MiB: each
// copy refers back only to zeros.
func zeroBomb(n int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(make([]byte, 1<<20))
	w.Flush()
	one := b.Bytes()
	return bytes.Repeat(one, n)
}

// A compression bomb (1 GiB of zeros in about 1 MiB) fails with 1009 while
// the memory allocated stays near the 4 MiB limit.
func TestCompressionBomb(t *testing.T) {
	const limit = 4 << 20
	bomb := zeroBomb(1024)
	t.Logf("bomb: %d bytes compressed, 1 GiB inflated", len(bomb))
	c, _, _ := pair(t, deflate.Config{}, deflate.Config{}, limit)
	drain(c)
	wire := frame.AppendHeader(nil, frame.Header{Fin: true, Rsv: frame.Rsv1, Opcode: frame.OpBinary, Length: uint64(len(bomb))})
	wire = append(wire, bomb...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := c.Receive(t0, wire)
	runtime.ReadMemStats(&after)
	var pe *frame.ProtocolError
	if !errors.As(err, &pe) || pe.Code != frame.CloseTooBig {
		t.Fatalf("got %v", err)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB while refusing the bomb", allocated>>10)
	// The engine's copy (1 MiB), the compressed message (1 MiB), the output
	// up to the limit and its doubling growth: about 10 MiB (12.5 MiB under
	// -race, where sync.Pool drops items), a small multiple of the limit,
	// never 1 GiB.
	if allocated > 4*limit {
		t.Fatalf("allocated %d bytes for a %d-byte limit", allocated, limit)
	}
	if st := c.CloseStatus(); st.Code != frame.CloseTooBig {
		t.Fatalf("status %+v", st)
	}
}

func TestNegotiatedIgnoresOtherExtensions(t *testing.T) {
	if deflate.Negotiated(nil) {
		t.Fatal("nothing negotiated reported as deflate")
	}
}

func TestCorruptStream(t *testing.T) {
	for _, tc := range []struct {
		op   byte
		code frame.CloseCode
	}{{0xc1, frame.CloseInvalidPayload}, {0xc2, frame.CloseProtocolError}} {
		c, _, _ := pair(t, deflate.Config{}, deflate.Config{}, 1<<20)
		drain(c)
		err := c.Receive(t0, []byte{tc.op, 0x03, 0xff, 0xff, 0xff})
		var pe *frame.ProtocolError
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("opcode %x: %v, want %v", tc.op&0xf, err, tc.code)
		}
	}
}

// negotiate runs the server side on a request with the given extension
// header lines and returns the response's extension header ("" when
// declined).
func negotiate(t *testing.T, cfg deflate.Config, lines ...string) string {
	t.Helper()
	req := "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, l := range lines {
		req += "Sec-WebSocket-Extensions: " + l + "\r\n"
	}
	s, _ := protocol.NewServer(protocol.DefaultConfig(), protocol.ServerOptions{Extensions: []protocol.ServerExtension{cfg.Server()}}, t0)
	if err := s.Receive(t0, []byte(req+"\r\n")); err != nil {
		t.Fatal(err)
	}
	out, _ := drain(s)
	resp, _ := http.ReadResponse(bufioReader(out), nil)
	return resp.Header.Get("Sec-WebSocket-Extensions")
}

func TestServerNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   deflate.Config
		lines []string
		want  string
	}{
		{"Chromium", deflate.Config{}, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate"},
		{"Firefox", deflate.Config{}, []string{"permessage-deflate"}, "permessage-deflate"},
		{"Safari", deflate.Config{}, []string{"permessage-deflate"}, "permessage-deflate"},
		{"Node ws", deflate.Config{}, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate"},
		{"Python websockets", deflate.Config{}, []string{"permessage-deflate; client_max_window_bits"}, "permessage-deflate"},
		{"server_no_context_takeover asked", deflate.Config{}, []string{"permessage-deflate; server_no_context_takeover"}, "permessage-deflate; server_no_context_takeover"},
		{"client_no_context_takeover echoed", deflate.Config{}, []string{"permessage-deflate; client_no_context_takeover"}, "permessage-deflate; client_no_context_takeover"},
		{"gorilla's offer", deflate.Config{}, []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"both imposed", deflate.Config{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, []string{"permessage-deflate"}, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"server_max_window_bits=15", deflate.Config{}, []string{"permessage-deflate; server_max_window_bits=15"}, "permessage-deflate; server_max_window_bits=15"},
		{"server_max_window_bits=10 accepted", deflate.Config{}, []string{"permessage-deflate; server_max_window_bits=10"}, "permessage-deflate; server_max_window_bits=10"},
		{"Autobahn 13.5", deflate.Config{}, []string{"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=8"}, "permessage-deflate; client_no_context_takeover; server_max_window_bits=8"},
		{"first honourable offer wins", deflate.Config{}, []string{"permessage-deflate; foo=1, permessage-deflate; server_no_context_takeover"}, "permessage-deflate; server_no_context_takeover"},
		{"offers on several lines", deflate.Config{}, []string{"permessage-deflate; server_max_window_bits=9; server_max_window_bits=9", "permessage-deflate"}, "permessage-deflate"},
		{"client_max_window_bits=12", deflate.Config{}, []string{"permessage-deflate; client_max_window_bits=12"}, "permessage-deflate"},
		{"unknown parameter", deflate.Config{}, []string{"permessage-deflate; foo=1"}, ""},
		{"duplicate parameter", deflate.Config{}, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ""},
		{"value on a flag", deflate.Config{}, []string{"permessage-deflate; client_no_context_takeover=1"}, ""},
		{"window bits 7", deflate.Config{}, []string{"permessage-deflate; client_max_window_bits=7"}, ""},
		{"window bits 16", deflate.Config{}, []string{"permessage-deflate; server_max_window_bits=16"}, ""},
		{"window bits 010", deflate.Config{}, []string{"permessage-deflate; server_max_window_bits=010"}, ""},
		{"window bits without value", deflate.Config{}, []string{"permessage-deflate; server_max_window_bits"}, ""},
		{"quoted value", deflate.Config{}, []string{`permessage-deflate; server_max_window_bits="15"`}, "permessage-deflate; server_max_window_bits=15"},
		{"other extension only", deflate.Config{}, []string{"x-webkit-deflate-frame"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := negotiate(t, tc.cfg, tc.lines...); got != tc.want {
				t.Fatalf("response %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClientNegotiation(t *testing.T) {
	offer := deflate.Config{}.Client().Offers()
	if len(offer) != 1 || offer[0].String() != "permessage-deflate; client_max_window_bits" {
		t.Fatalf("offer %v", offer)
	}
	asked := deflate.Config{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Client()
	if s := asked.Offers()[0].String(); s != "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits" {
		t.Fatalf("offer %q", s)
	}
	for _, tc := range []struct {
		name string
		c    protocol.ClientExtension
		resp string
		ok   bool
	}{
		{"plain", deflate.Config{}.Client(), "permessage-deflate", true},
		{"all parameters", deflate.Config{}.Client(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=15", true},
		{"client window limited (sends uncompressed)", deflate.Config{}.Client(), "permessage-deflate; client_max_window_bits=9", true},
		{"client_max_window_bits without value", deflate.Config{}.Client(), "permessage-deflate; client_max_window_bits", false},
		{"unknown", deflate.Config{}.Client(), "permessage-deflate; x=1", false},
		{"duplicate", deflate.Config{}.Client(), "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", false},
		{"request ignored", asked, "permessage-deflate", false},
	} {
		h := http.Header{"Sec-Websocket-Extensions": {tc.resp}}
		offers, err := protocol.ParseExtensions(h)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tc.c.Accept(offers[0])
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// A peer that limits this side's window below 15 bits (a client that
// offers server_max_window_bits=9, as Autobahn 13.3 and 13.5 do; a server
// that answers client_max_window_bits=9) gets messages compressed with
// Huffman codes only. Without back-references 4 KiB of one byte costs at
// least a bit a byte (512 bytes), where BestSpeed's references take it
// under 64; the message still shrinks, and inflates to itself.
func TestWindowLimitedCompressesWithoutBackReferences(t *testing.T) {
	msg := bytes.Repeat([]byte("a"), 4096)
	accept := func(ce protocol.ClientExtension, resp string) protocol.Extension {
		offers, _ := protocol.ParseExtensions(http.Header{"Sec-Websocket-Extensions": {resp}})
		ext, err := ce.Accept(offers[0])
		if err != nil {
			t.Fatal(err)
		}
		return ext
	}
	negotiateServer := func(offer string) protocol.Extension {
		offers, _ := protocol.ParseExtensions(http.Header{"Sec-Websocket-Extensions": {offer}})
		_, ext, ok := deflate.Config{}.Server().Negotiate(offers)
		if !ok {
			t.Fatalf("%q declined", offer)
		}
		return ext
	}
	for _, tc := range []struct {
		name           string
		ext            protocol.Extension
		minLen, maxLen int
	}{
		{"server, window 9", negotiateServer("permessage-deflate; server_max_window_bits=9"), 512, len(msg) / 2},
		{"client, window 9", accept(deflate.Config{}.Client(), "permessage-deflate; client_max_window_bits=9"), 512, len(msg) / 2},
		{"server, window 15", negotiateServer("permessage-deflate; server_max_window_bits=15"), 1, 64},
		{"client, no limit", accept(deflate.Config{}.Client(), "permessage-deflate"), 1, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, rsv, err := tc.ext.Encode(nil, msg, frame.OpBinary, true, true)
			if err != nil || rsv != frame.Rsv1 {
				t.Fatalf("rsv %d, err %v: not compressed", rsv, err)
			}
			if len(out) < tc.minLen || len(out) > tc.maxLen {
				t.Fatalf("compressed to %d bytes, want %d to %d", len(out), tc.minLen, tc.maxLen)
			}
			back, err := tc.ext.Decode(nil, out, frame.OpBinary, frame.Rsv1, true, 1<<20)
			if err != nil || !bytes.Equal(back, msg) {
				t.Fatalf("inflated to %d bytes (err %v), want the message", len(back), err)
			}
		})
	}
}

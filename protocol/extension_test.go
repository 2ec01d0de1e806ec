package protocol_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// xorExt is a toy extension on RSV1: it flips every byte with 0x55 and
// skips messages shorter than 3 bytes, like a compression threshold.
type xorExt struct{ skip bool }

func (*xorExt) Rsv() uint8 { return frame.Rsv1 }

func (x *xorExt) Encode(dst, p []byte, op frame.Opcode, first, fin bool) ([]byte, uint8, error) {
	if first {
		x.skip = len(p) < 3
	}
	if x.skip {
		return append(dst, p...), 0, nil
	}
	for _, b := range p {
		dst = append(dst, b^0x55)
	}
	return dst, frame.Rsv1, nil
}

var errTooMuch = &frame.ProtocolError{Code: frame.CloseTooBig, Reason: "decoded too big"}

func (*xorExt) Decode(dst, p []byte, op frame.Opcode, rsv uint8, fin bool, limit int64) ([]byte, error) {
	if int64(len(p)) > limit {
		return dst, errTooMuch
	}
	for _, b := range p {
		dst = append(dst, b^0x55)
	}
	return dst, nil
}

func xored(s string) []byte {
	b := []byte(s)
	for i := range b {
		b[i] ^= 0x55
	}
	return b
}

func TestExtensionHook(t *testing.T) {
	cfg := testConfig()
	cfg.Extensions = []protocol.Extension{&xorExt{}}
	s := established(t, protocol.RoleServer, cfg)

	// Sending: RSV1 on the first frame only, payload transformed; a short
	// message goes untransformed with no RSV bit.
	s.Send(t0, frame.OpText, []byte("hello"), false)
	s.Send(t0, frame.OpContinuation, []byte(" world"), true)
	s.SendMessage(t0, frame.OpBinary, []byte("hi"))
	out, _ := drain(s)
	want := concat(wireFrameRsv(protocol.RoleServer, frame.OpText, frame.Rsv1, false, xored("hello")),
		wireFrame(protocol.RoleServer, frame.OpContinuation, true, xored(" world")),
		wireFrame(protocol.RoleServer, frame.OpBinary, true, []byte("hi")))
	if !bytes.Equal(out, want) {
		t.Fatalf("out % x\nwant % x", out, want)
	}

	// Receiving: decoded data, UTF-8 checked on the decoded text.
	in := concat(wireFrameRsv(protocol.RoleClient, frame.OpText, frame.Rsv1, false, xored("κό")),
		wireFrame(protocol.RoleClient, frame.OpContinuation, true, xored("σμε")),
		wireFrame(protocol.RoleClient, frame.OpBinary, true, []byte("plain")))
	if err := s.Receive(t0, in); err != nil {
		t.Fatal(err)
	}
	_, evs := drain(s)
	wantEvs := []protocol.Event{
		{Kind: protocol.EventData, Opcode: frame.OpText, Rsv: frame.Rsv1, Data: []byte("κό"), FrameLength: 4},
		{Kind: protocol.EventData, Opcode: frame.OpContinuation, Fin: true, Data: []byte("σμε"), FrameLength: 6},
		{Kind: protocol.EventData, Opcode: frame.OpBinary, Fin: true, Data: []byte("plain"), FrameLength: 5},
	}
	if diff := cmp.Diff(wantEvs, evs); diff != "" {
		t.Fatal(diff)
	}
}

func TestExtensionReceiveRules(t *testing.T) {
	cfg := testConfig()
	cfg.Extensions = []protocol.Extension{&xorExt{}}
	cfg.MaxMessageSize = 4
	cfg.MaxFrameSize = 100 // the decoded size is what the message limit bounds
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"RSV1 on continuation", concat(wireFrameRsv(protocol.RoleClient, frame.OpText, frame.Rsv1, false, xored("a")),
			wireFrameRsv(protocol.RoleClient, frame.OpContinuation, frame.Rsv1, true, xored("b"))), protocol.ErrReservedBits},
		{"RSV1 on ping", wireFrameRsv(protocol.RoleClient, frame.OpPing, frame.Rsv1, true, nil), protocol.ErrReservedBits},
		{"RSV2 not owned", wireFrameRsv(protocol.RoleClient, frame.OpText, frame.Rsv2, true, nil), protocol.ErrReservedBits},
		{"decoded over the limit", wireFrameRsv(protocol.RoleClient, frame.OpBinary, frame.Rsv1, true, xored("12345")), errTooMuch},
		{"decoded text not UTF-8", wireFrameRsv(protocol.RoleClient, frame.OpText, frame.Rsv1, true, xored("\xff")), frame.ErrInvalidUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := established(t, protocol.RoleServer, cfg)
			if err := s.Receive(t0, tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// xorNegotiator offers and accepts "x-xor" in both roles.
type xorNegotiator struct{ acceptParam bool }

func (xorNegotiator) Name() string { return "x-xor" }

func (xorNegotiator) Offers() []protocol.ExtensionOffer {
	return []protocol.ExtensionOffer{{Name: "x-xor", Params: []protocol.ExtensionParam{{Name: "strong"}}}, {Name: "x-xor"}}
}

func (xorNegotiator) Accept(resp protocol.ExtensionOffer) (protocol.Extension, error) {
	if len(resp.Params) > 0 {
		return nil, errors.New("unexpected parameter")
	}
	return &xorExt{}, nil
}

func (n xorNegotiator) Negotiate(offers []protocol.ExtensionOffer) (protocol.ExtensionOffer, protocol.Extension, bool) {
	for _, o := range offers {
		if len(o.Params) == 0 || n.acceptParam {
			return protocol.ExtensionOffer{Name: "x-xor"}, &xorExt{}, true
		}
	}
	return protocol.ExtensionOffer{}, nil, false
}

func TestExtensionNegotiatedByHandshake(t *testing.T) {
	c, err := protocol.NewClient(testConfig(), protocol.ClientOptions{URL: "ws://h/", Extensions: []protocol.ClientExtension{xorNegotiator{}}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := drain(c)
	if !bytes.Contains(req, []byte("Sec-WebSocket-Extensions: x-xor; strong, x-xor\r\n")) {
		t.Fatalf("request %q", req)
	}
	s, _ := protocol.NewServer(testConfig(), protocol.ServerOptions{Extensions: []protocol.ServerExtension{xorNegotiator{}}}, t0)
	if err := s.Receive(t0, req); err != nil {
		t.Fatal(err)
	}
	resp, _ := drain(s)
	if !bytes.Contains(resp, []byte("\r\nSec-WebSocket-Extensions: x-xor\r\n")) || len(s.Extensions()) != 1 {
		t.Fatalf("response %q", resp)
	}
	if err := c.Receive(t0, resp); err != nil {
		t.Fatal(err)
	}
	drain(c)
	if len(c.Extensions()) != 1 {
		t.Fatal("client has no extension")
	}
	c.SendMessage(t0, frame.OpText, []byte("through the extension"))
	wire, _ := drain(c)
	if h, _, _ := frame.ParseHeader(wire); h.Rsv != frame.Rsv1 {
		t.Fatalf("rsv %d", h.Rsv)
	}
	s.Receive(t0, wire)
	_, evs := drain(s)
	if len(evs) != 1 || string(evs[0].Data) != "through the extension" {
		t.Fatalf("events %+v", evs)
	}
}

func TestParseExtensions(t *testing.T) {
	h := http.Header{"Sec-Websocket-Extensions": {
		`permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits="10"`,
		`x-foo ;a=1; b`,
	}}
	got, err := protocol.ParseExtensions(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.ExtensionOffer{
		{Name: "permessage-deflate", Params: []protocol.ExtensionParam{{Name: "client_max_window_bits"}}},
		{Name: "permessage-deflate", Params: []protocol.ExtensionParam{{Name: "server_max_window_bits", Value: "10", HasValue: true}}},
		{Name: "x-foo", Params: []protocol.ExtensionParam{{Name: "a", Value: "1", HasValue: true}, {Name: "b"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	for _, bad := range []string{`a;`, `a; b=`, `a; b="x y"`, `a b`, `;a`, `a; b="unterminated`, `a; =1`} {
		if _, err := protocol.ParseExtensions(http.Header{"Sec-Websocket-Extensions": {bad}}); !errors.Is(err, protocol.ErrBadExtensionHeader) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

package protocol_test

import (
	"bytes"
	"errors"
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

func (*xorExt) Decode(dst, p []byte, rsv uint8, fin bool, limit int64) ([]byte, error) {
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
		{Kind: protocol.EventData, Opcode: frame.OpText, Rsv: frame.Rsv1, Data: []byte("κό")},
		{Kind: protocol.EventData, Opcode: frame.OpContinuation, Fin: true, Data: []byte("σμε")},
		{Kind: protocol.EventData, Opcode: frame.OpBinary, Fin: true, Data: []byte("plain")},
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

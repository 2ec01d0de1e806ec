package frame_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
)

var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// The examples of RFC 6455 §5.7.
var rfcExamples = []struct {
	name    string
	wire    []byte
	header  frame.Header
	payload string // unmasked
}{
	{"unmasked Hello", []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
		frame.Header{Fin: true, Opcode: frame.OpText, Length: 5}, "Hello"},
	{"masked Hello", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
		frame.Header{Fin: true, Opcode: frame.OpText, Masked: true, Mask: rfcKey, Length: 5}, "Hello"},
	{"fragment Hel", []byte{0x01, 0x03, 0x48, 0x65, 0x6c},
		frame.Header{Opcode: frame.OpText, Length: 3}, "Hel"},
	{"fragment lo", []byte{0x80, 0x02, 0x6c, 0x6f},
		frame.Header{Fin: true, Opcode: frame.OpContinuation, Length: 2}, "lo"},
	{"unmasked ping", []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f},
		frame.Header{Fin: true, Opcode: frame.OpPing, Length: 5}, "Hello"},
	{"masked pong", []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
		frame.Header{Fin: true, Opcode: frame.OpPong, Masked: true, Mask: rfcKey, Length: 5}, "Hello"},
	{"256 bytes binary", append([]byte{0x82, 0x7E, 0x01, 0x00}, make([]byte, 256)...),
		frame.Header{Fin: true, Opcode: frame.OpBinary, Length: 256}, string(make([]byte, 256))},
	{"64KiB binary", append([]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, make([]byte, 65536)...),
		frame.Header{Fin: true, Opcode: frame.OpBinary, Length: 65536}, string(make([]byte, 65536))},
}

func TestParseHeaderRFCExamples(t *testing.T) {
	for _, tc := range rfcExamples {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := frame.ParseHeader(tc.wire)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.header, h); diff != "" {
				t.Fatalf("header (-want +got):\n%s", diff)
			}
			if n != frame.HeaderSize(h) || n != frame.NeedHeader(tc.wire) {
				t.Fatalf("n = %d, HeaderSize = %d, NeedHeader = %d", n, frame.HeaderSize(h), frame.NeedHeader(tc.wire))
			}
			payload := bytes.Clone(tc.wire[n:])
			if h.Masked {
				frame.Mask(payload, h.Mask, 0)
			}
			if string(payload) != tc.payload {
				t.Fatalf("payload = %q, want %q", payload, tc.payload)
			}
			if got := frame.AppendHeader(nil, h); !bytes.Equal(got, tc.wire[:n]) {
				t.Fatalf("AppendHeader = % x, want % x", got, tc.wire[:n])
			}
		})
	}
}

func TestParseHeaderNeedsMoreBytes(t *testing.T) {
	for _, tc := range rfcExamples {
		full := frame.NeedHeader(tc.wire)
		for i := 0; i < full; i++ {
			h, n, err := frame.ParseHeader(tc.wire[:i])
			if n != 0 || err != nil || h != (frame.Header{}) {
				t.Fatalf("%s: prefix %d: got %+v, %d, %v; want need-more", tc.name, i, h, n, err)
			}
			if need := frame.NeedHeader(tc.wire[:i]); need <= i {
				t.Fatalf("%s: prefix %d: NeedHeader = %d, must exceed what is there", tc.name, i, need)
			}
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	lengths := []uint64{0, 1, 125, 126, 127, 65535, 65536, 1 << 32, 1<<63 - 1}
	for _, l := range lengths {
		for _, op := range []frame.Opcode{frame.OpContinuation, frame.OpText, frame.OpBinary} {
			for rsv := uint8(0); rsv < 8; rsv++ {
				for _, masked := range []bool{false, true} {
					h := frame.Header{Fin: l%2 == 0, Rsv: rsv, Opcode: op, Masked: masked, Length: l}
					if masked {
						h.Mask = [4]byte{1, 2, 3, byte(l)}
					}
					wire := frame.AppendHeader([]byte("prefix"), h)
					if string(wire[:6]) != "prefix" {
						t.Fatal("AppendHeader clobbered dst")
					}
					got, n, err := frame.ParseHeader(wire[6:])
					if err != nil || n != len(wire)-6 || n != frame.HeaderSize(h) {
						t.Fatalf("%+v: n = %d, err = %v, wire % x", h, n, err, wire)
					}
					if diff := cmp.Diff(h, got); diff != "" {
						t.Fatalf("round trip (-want +got):\n%s", diff)
					}
				}
			}
		}
	}
}

func TestHeaderMinimalLength(t *testing.T) {
	for _, tc := range []struct {
		length uint64
		size   int
	}{{0, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}} {
		if got := frame.HeaderSize(frame.Header{Length: tc.length}); got != tc.size {
			t.Errorf("HeaderSize(len %d) = %d, want %d", tc.length, got, tc.size)
		}
		if got := frame.HeaderSize(frame.Header{Length: tc.length, Masked: true}); got != tc.size+4 {
			t.Errorf("HeaderSize(masked len %d) = %d, want %d", tc.length, got, tc.size+4)
		}
	}
}

func TestParseHeaderNonMinimalLengthAccepted(t *testing.T) {
	h, n, err := frame.ParseHeader([]byte{0x82, 0x7E, 0x00, 0x05})
	if err != nil || n != 4 || h.Length != 5 {
		t.Fatalf("got %+v, %d, %v", h, n, err)
	}
}

func TestParseHeaderMalformed(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want error
	}{
		{"reserved opcode 3", []byte{0x83, 0x00}, frame.ErrReservedOpcode},
		{"reserved opcode 7", []byte{0x87, 0x00}, frame.ErrReservedOpcode},
		{"reserved opcode B", []byte{0x8B, 0x00}, frame.ErrReservedOpcode},
		{"reserved opcode F", []byte{0x8F, 0x00}, frame.ErrReservedOpcode},
		{"64-bit length MSB", []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, frame.ErrLengthOverflow},
		{"ping 126", []byte{0x89, 0x7E, 0x00, 0x7E}, frame.ErrControlTooLong},
		{"close 126 in 16 bits", []byte{0x88, 0x7E, 0x00, 0x7E}, frame.ErrControlTooLong},
		{"pong with 64-bit length", []byte{0x8A, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, frame.ErrControlTooLong},
		{"fragmented ping", []byte{0x09, 0x00}, frame.ErrFragmentedControl},
		{"fragmented close", []byte{0x08, 0x02}, frame.ErrFragmentedControl},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := frame.ParseHeader(tc.wire)
			if !errors.Is(err, tc.want) || n != 0 || h != (frame.Header{}) {
				t.Fatalf("got %+v, %d, %v; want %v", h, n, err, tc.want)
			}
			var pe *frame.ProtocolError
			if !errors.As(err, &pe) || pe.Code != frame.CloseProtocolError {
				t.Fatalf("error %v is not a 1002 *ProtocolError", err)
			}
		})
	}
}

func TestParseHeaderRSVExposed(t *testing.T) {
	for rsv := uint8(0); rsv < 8; rsv++ {
		h, _, err := frame.ParseHeader([]byte{0x81 | rsv<<4, 0x00})
		if err != nil || h.Rsv != rsv {
			t.Fatalf("rsv %d: got %d, %v", rsv, h.Rsv, err)
		}
	}
	if frame.Rsv1 != 4 || frame.Rsv2 != 2 || frame.Rsv3 != 1 {
		t.Fatal("RSV bit constants are wrong")
	}
}

func TestParseHeaderZeroAllocs(t *testing.T) {
	good := rfcExamples[1].wire
	bad := []byte{0x89, 0x7E, 0x00, 0x7E}
	buf := make([]byte, 0, frame.MaxHeaderSize)
	allocs := testing.AllocsPerRun(100, func() {
		frame.ParseHeader(good)
		frame.ParseHeader(bad)
		frame.AppendHeader(buf, frame.Header{Length: 70000, Masked: true})
	})
	if allocs != 0 {
		t.Fatalf("ParseHeader/AppendHeader allocate %v times", allocs)
	}
}

package frame_test

import (
	"testing"

	"github.com/wsengine/ws/frame"
)

func TestOpcode(t *testing.T) {
	tests := []struct {
		op                   frame.Opcode
		control, data, valid bool
		name                 string
	}{
		{frame.OpContinuation, false, true, true, "continuation"},
		{frame.OpText, false, true, true, "text"},
		{frame.OpBinary, false, true, true, "binary"},
		{3, false, false, false, "reserved(0x3)"},
		{7, false, false, false, "reserved(0x7)"},
		{frame.OpClose, true, false, true, "close"},
		{frame.OpPing, true, false, true, "ping"},
		{frame.OpPong, true, false, true, "pong"},
		{0xB, true, false, false, "reserved(0xb)"},
		{0xF, true, false, false, "reserved(0xf)"},
	}
	for _, tc := range tests {
		if tc.op.IsControl() != tc.control || tc.op.IsData() != tc.data || tc.op.Valid() != tc.valid || tc.op.String() != tc.name {
			t.Errorf("%v: IsControl %v IsData %v Valid %v String %q", tc.op, tc.op.IsControl(), tc.op.IsData(), tc.op.Valid(), tc.op.String())
		}
	}
}

func TestCloseCodeValidOnWire(t *testing.T) {
	valid := func(c int) bool {
		return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999)
	}
	for c := 0; c <= 0xFFFF; c++ {
		if got := frame.CloseCode(c).ValidOnWire(); got != valid(c) {
			t.Fatalf("CloseCode(%d).ValidOnWire() = %v", c, got)
		}
	}
	for _, c := range []frame.CloseCode{1004, frame.CloseNoStatus, frame.CloseAbnormal, frame.CloseTLSHandshake, 1016, 2999, 999, 5000} {
		if c.ValidOnWire() {
			t.Errorf("%v must not be valid on the wire", c)
		}
	}
}

func TestCloseCodeString(t *testing.T) {
	tests := map[frame.CloseCode]string{
		frame.CloseNormal:         "1000 (normal)",
		frame.CloseAbnormal:       "1006 (abnormal closure)",
		frame.CloseInternalError:  "1011 (internal error)",
		frame.CloseInvalidPayload: "1007 (invalid payload data)",
		3001:                      "3001 (registered)",
		4000:                      "4000 (private)",
		1004:                      "1004 (invalid)",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("%d: %q, want %q", uint16(c), got, want)
		}
	}
}

package frame_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wsengine/ws/frame"
)

func TestParseClose(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		code    frame.CloseCode
		reason  string
		err     error
	}{
		{"empty is 1005", nil, frame.CloseNoStatus, "", nil},
		{"one byte", []byte{0x03}, 0, "", frame.ErrClosePayloadOneByte},
		{"1000 no reason", []byte{0x03, 0xE8}, frame.CloseNormal, "", nil},
		{"1001 with reason", append([]byte{0x03, 0xE9}, "bye"...), frame.CloseGoingAway, "bye", nil},
		{"4999 private", []byte{0x13, 0x87}, 4999, "", nil},
		{"3000 registered", []byte{0x0B, 0xB8}, 3000, "", nil},
		{"999", []byte{0x03, 0xE7}, 0, "", frame.ErrCloseCodeInvalid},
		{"1004 reserved", []byte{0x03, 0xEC}, 0, "", frame.ErrCloseCodeInvalid},
		{"1005 on wire", []byte{0x03, 0xED}, 0, "", frame.ErrCloseCodeInvalid},
		{"1006 on wire", []byte{0x03, 0xEE}, 0, "", frame.ErrCloseCodeInvalid},
		{"1015 on wire", []byte{0x03, 0xF7}, 0, "", frame.ErrCloseCodeInvalid},
		{"1016", []byte{0x03, 0xF8}, 0, "", frame.ErrCloseCodeInvalid},
		{"2999", []byte{0x0B, 0xB7}, 0, "", frame.ErrCloseCodeInvalid},
		{"5000", []byte{0x13, 0x88}, 0, "", frame.ErrCloseCodeInvalid},
		{"65535", []byte{0xFF, 0xFF}, 0, "", frame.ErrCloseCodeInvalid},
		{"reason not UTF-8", []byte{0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD}, 0, "", frame.ErrCloseReasonUTF8},
		{"reason UTF-8", append([]byte{0x03, 0xE8}, "κόσμε"...), frame.CloseNormal, "κόσμε", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, err := frame.ParseClose(tc.payload)
			if code != tc.code || reason != tc.reason || !errors.Is(err, tc.err) {
				t.Fatalf("got %v %q %v; want %v %q %v", code, reason, err, tc.code, tc.reason, tc.err)
			}
		})
	}
}

func TestParseCloseErrorCodes(t *testing.T) {
	for payload, want := range map[string]frame.CloseCode{
		"\x03":               frame.CloseProtocolError,
		"\x03\xEC":           frame.CloseProtocolError,
		"\x03\xE8\xFF":       frame.CloseInvalidPayload,
		"\x03\xE8ok\xC0\x80": frame.CloseInvalidPayload,
	} {
		_, _, err := frame.ParseClose([]byte(payload))
		var pe *frame.ProtocolError
		if !errors.As(err, &pe) || pe.Code != want {
			t.Errorf("% x: %v, want close code %v", payload, err, want)
		}
	}
}

func TestAppendClose(t *testing.T) {
	tests := []struct {
		name   string
		code   frame.CloseCode
		reason string
		want   string
		err    error
	}{
		{"normal", frame.CloseNormal, "", "\x03\xE8", nil},
		{"with reason", frame.CloseGoingAway, "bye", "\x03\xE9bye", nil},
		{"no status is empty", frame.CloseNoStatus, "", "", nil},
		{"no status with reason", frame.CloseNoStatus, "x", "", frame.ErrCloseReasonNoCode},
		{"abnormal", frame.CloseAbnormal, "", "", frame.ErrCloseCodeNotSendable},
		{"1004", 1004, "", "", frame.ErrCloseCodeNotSendable},
		{"TLS", frame.CloseTLSHandshake, "", "", frame.ErrCloseCodeNotSendable},
		{"5000", 5000, "", "", frame.ErrCloseCodeNotSendable},
		{"123 bytes", frame.CloseNormal, strings.Repeat("a", 123), "\x03\xE8" + strings.Repeat("a", 123), nil},
		{"124 bytes", frame.CloseNormal, strings.Repeat("a", 124), "", frame.ErrCloseReasonTooLong},
		{"invalid UTF-8", frame.CloseNormal, "\xff", "", frame.ErrCloseReasonInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := frame.AppendClose([]byte("x"), tc.code, tc.reason)
			if !errors.Is(err, tc.err) || string(got) != "x"+tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, "x"+tc.want, tc.err)
			}
			if err != nil {
				return
			}
			code, reason, err := frame.ParseClose(got[1:])
			if err != nil || code != tc.code || reason != tc.reason {
				t.Fatalf("round trip: %v %q %v", code, reason, err)
			}
		})
	}
}

// ParseClose allocates only the copy of a non-empty reason, as the package
// documentation says; errors and empty reasons allocate nothing.
func TestParseCloseAllocations(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    float64
	}{
		{"no status", nil, 0},
		{"code only", []byte{0x03, 0xe8}, 0},
		{"code and reason", append([]byte{0x03, 0xe8}, "going away"...), 1},
		{"one byte", []byte{0x03}, 0},
		{"invalid code", []byte{0x03, 0xed}, 0},
		{"invalid UTF-8", []byte{0x03, 0xe8, 0xff}, 0},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, func() { frame.ParseClose(tt.payload) }); got != tt.want {
			t.Errorf("%s: %.0f allocations, want %.0f", tt.name, got, tt.want)
		}
	}
}

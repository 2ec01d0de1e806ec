package frame

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxCloseReason is the longest close reason: a control payload holds 125
// bytes, two of which are the code.
const MaxCloseReason = MaxControlPayload - 2

// ParseClose decodes the payload of a close frame (RFC 6455 §5.5.1).
// An empty payload means the peer gave no status: the result is
// CloseNoStatus (1005) with no reason. A one-byte payload or a code not
// valid on the wire is ErrClosePayloadOneByte or ErrCloseCodeInvalid (1002);
// a reason that is not UTF-8 is ErrCloseReasonUTF8 (1007). The reason is
// a copy, so it outlives p: the only allocation in this package, and only
// when the reason is not empty.
func ParseClose(p []byte) (CloseCode, string, error) {
	switch len(p) {
	case 0:
		return CloseNoStatus, "", nil
	case 1:
		return 0, "", ErrClosePayloadOneByte
	}
	code := CloseCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return 0, "", ErrCloseCodeInvalid
	}
	// "the data MAY contain UTF-8-encoded data [...] the data is not
	// guaranteed to be human readable", but it MUST be valid UTF-8 (§5.5.1).
	if !utf8.Valid(p[2:]) {
		return 0, "", ErrCloseReasonUTF8
	}
	return code, string(p[2:]), nil
}

// AppendClose appends the payload of a close frame to dst. CloseNoStatus
// with an empty reason appends nothing: a close frame with an empty payload
// is how "no status" is sent. Any other code must be valid on the wire, and
// the reason must be UTF-8 of at most MaxCloseReason bytes; otherwise dst is
// returned unchanged with ErrCloseCodeNotSendable, ErrCloseReasonNoCode,
// ErrCloseReasonTooLong or ErrCloseReasonInvalid.
func AppendClose(dst []byte, code CloseCode, reason string) ([]byte, error) {
	if code == CloseNoStatus {
		if reason != "" {
			return dst, ErrCloseReasonNoCode
		}
		return dst, nil
	}
	if !code.ValidOnWire() {
		return dst, ErrCloseCodeNotSendable
	}
	if len(reason) > MaxCloseReason {
		return dst, ErrCloseReasonTooLong
	}
	if !utf8.ValidString(reason) {
		return dst, ErrCloseReasonInvalid
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...), nil
}

package frame

import "strconv"

// CloseCode is the status code of a close frame (RFC 6455 §7.4).
type CloseCode uint16

// Registered close codes (RFC 6455 §7.4.1 and the IANA registry).
// CloseNoStatus, CloseAbnormal and CloseTLSHandshake are reported to the
// application but never sent on the wire.
const (
	CloseNormal             CloseCode = 1000
	CloseGoingAway          CloseCode = 1001
	CloseProtocolError      CloseCode = 1002
	CloseUnsupportedData    CloseCode = 1003
	CloseNoStatus           CloseCode = 1005
	CloseAbnormal           CloseCode = 1006
	CloseInvalidPayload     CloseCode = 1007
	ClosePolicyViolation    CloseCode = 1008
	CloseTooBig             CloseCode = 1009
	CloseMandatoryExtension CloseCode = 1010
	CloseInternalError      CloseCode = 1011
	CloseServiceRestart     CloseCode = 1012
	CloseTryAgainLater      CloseCode = 1013
	CloseBadGateway         CloseCode = 1014
	CloseTLSHandshake       CloseCode = 1015
)

// ValidOnWire reports whether code may appear in a close frame: 1000–1003,
// 1007–1014 and 3000–4999. 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be
// set as a status code in a Close control frame"; 1016–2999 are reserved for
// future RFCs and 0–999 and ≥ 5000 are not used (RFC 6455 §7.4.2).
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// String reads "1000 (normal)", for logs.
func (c CloseCode) String() string {
	var name string
	switch c {
	case CloseNormal:
		name = "normal"
	case CloseGoingAway:
		name = "going away"
	case CloseProtocolError:
		name = "protocol error"
	case CloseUnsupportedData:
		name = "unsupported data"
	case CloseNoStatus:
		name = "no status"
	case CloseAbnormal:
		name = "abnormal closure"
	case CloseInvalidPayload:
		name = "invalid payload data"
	case ClosePolicyViolation:
		name = "policy violation"
	case CloseTooBig:
		name = "message too big"
	case CloseMandatoryExtension:
		name = "mandatory extension"
	case CloseInternalError:
		name = "internal error"
	case CloseServiceRestart:
		name = "service restart"
	case CloseTryAgainLater:
		name = "try again later"
	case CloseBadGateway:
		name = "bad gateway"
	case CloseTLSHandshake:
		name = "TLS handshake"
	default:
		switch {
		case c >= 3000 && c <= 3999:
			name = "registered"
		case c >= 4000 && c <= 4999:
			name = "private"
		default:
			name = "invalid"
		}
	}
	return strconv.Itoa(int(c)) + " (" + name + ")"
}

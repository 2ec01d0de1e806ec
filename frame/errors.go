package frame

import "errors"

// ProtocolError is a violation of RFC 6455 by the peer. Code is the close
// code the connection must be failed with (1002, 1007 or 1009); Reason is a
// short text safe to send in that close frame.
//
// Parsers return the preallocated values below so that failing costs no
// allocation; match them with errors.Is, or any of them with errors.As.
type ProtocolError struct {
	Code   CloseCode
	Reason string
}

// Error reads "websocket: <reason> (close <code>)".
func (e *ProtocolError) Error() string {
	return "websocket: " + e.Reason + " (close " + e.Code.String() + ")"
}

// Peer violations found by this package.
var (
	ErrReservedOpcode      = &ProtocolError{CloseProtocolError, "reserved opcode"}
	ErrFragmentedControl   = &ProtocolError{CloseProtocolError, "fragmented control frame"}
	ErrControlTooLong      = &ProtocolError{CloseProtocolError, "control frame payload over 125 bytes"}
	ErrLengthOverflow      = &ProtocolError{CloseProtocolError, "64-bit payload length with the most significant bit set"}
	ErrClosePayloadOneByte = &ProtocolError{CloseProtocolError, "close payload of one byte"}
	ErrCloseCodeInvalid    = &ProtocolError{CloseProtocolError, "close code not valid on the wire"}
	ErrCloseReasonUTF8     = &ProtocolError{CloseInvalidPayload, "close reason is not valid UTF-8"}
	ErrInvalidUTF8         = &ProtocolError{CloseInvalidPayload, "text is not valid UTF-8"}
)

// Caller mistakes when building a close payload. They are not protocol
// errors: nothing was received.
var (
	ErrCloseCodeNotSendable = errors.New("websocket: close code may not be sent on the wire")
	ErrCloseReasonTooLong   = errors.New("websocket: close reason longer than 123 bytes")
	ErrCloseReasonInvalid   = errors.New("websocket: close reason is not valid UTF-8")
	ErrCloseReasonNoCode    = errors.New("websocket: close reason without a close code")
)

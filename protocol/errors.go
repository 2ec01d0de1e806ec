package protocol

import (
	"errors"
	"strconv"

	"github.com/wsengine/ws/frame"
)

// API misuse. These say the caller did something the state forbids; nothing
// was sent or changed. Each of ErrNotOpen, ErrClosing, ErrClosed,
// ErrMessageInProgress and ErrNoMessage matches
// errors.Is(err, ErrInvalidState), one test for "the caller misused the
// API".
var (
	ErrInvalidState            = errors.New("websocket: operation not allowed in this state")
	ErrNotOpen           error = &stateError{"websocket: connection is not open yet"}
	ErrClosing           error = &stateError{"websocket: close frame already sent"}
	ErrClosed            error = &stateError{"websocket: connection closed"}
	ErrMessageInProgress error = &stateError{"websocket: a fragmented message is being sent; finish it first"}
	ErrNoMessage         error = &stateError{"websocket: continuation without a message in progress"}
	ErrBadOpcode               = errors.New("websocket: opcode is not text, binary or continuation")
	ErrControlTooLong          = errors.New("websocket: control payload over 125 bytes")
	ErrInvalidText             = errors.New("websocket: text message is not valid UTF-8")
)

// stateError is a misuse error that is also an ErrInvalidState.
type stateError struct{ msg string }

func (e *stateError) Error() string        { return e.msg }
func (e *stateError) Is(target error) bool { return target == ErrInvalidState }

// Reasons a connection ended, wrapped by *CloseError.
var (
	// ErrKeepaliveTimeout: a keepalive ping got no pong in time; the
	// connection was failed with 1011.
	ErrKeepaliveTimeout = errors.New("keepalive ping timeout")
	// ErrCloseTimeout: the close handshake did not finish in time.
	ErrCloseTimeout = errors.New("close handshake timeout")
	// ErrOpenTimeout: the opening handshake did not finish in time.
	ErrOpenTimeout = errors.New("opening handshake timeout")
	// ErrWriteTimeout: output waited and none of it was written for
	// Config.WriteTimeout: the peer stopped reading. No close frame can
	// reach such a peer, so the connection ends without one (1006).
	ErrWriteTimeout = errors.New("write timeout: the peer stopped reading")
	// ErrSendQueueFull: a message would have taken the unsent output past
	// the driver's send limit: the peer does not keep up (see AdmitSend).
	ErrSendQueueFull = errors.New("send queue full: the peer does not keep up")
	// ErrTransportClosed: the transport ended before the close handshake did.
	ErrTransportClosed = errors.New("transport closed")
	// ErrInternal: the engine failed itself (1011); details stay local.
	ErrInternal = errors.New("internal error")
)

// Close frame errors on the receive side are *frame.ProtocolError values
// from package frame; these are the ones the engine adds.
var (
	ErrUnmaskedClientFrame = &frame.ProtocolError{Code: frame.CloseProtocolError, Reason: "client frame not masked"}
	ErrMaskedServerFrame   = &frame.ProtocolError{Code: frame.CloseProtocolError, Reason: "server frame masked"}
	ErrReservedBits        = &frame.ProtocolError{Code: frame.CloseProtocolError, Reason: "RSV bits set without a negotiated extension"}
	ErrUnexpectedCont      = &frame.ProtocolError{Code: frame.CloseProtocolError, Reason: "continuation frame without a message"}
	ErrExpectedCont        = &frame.ProtocolError{Code: frame.CloseProtocolError, Reason: "new message inside a fragmented message"}
	ErrFrameTooBig         = &frame.ProtocolError{Code: frame.CloseTooBig, Reason: "frame too big"}
	ErrMessageTooBig       = &frame.ProtocolError{Code: frame.CloseTooBig, Reason: "message too big"}
)

// CloseError says how a connection ended. Code is the connection's close
// code: the code of the close frame received if there was one; otherwise the
// code this side failed the connection with (1002, 1007, 1009, 1011); 1006
// when no close frame was received and this side did not fail it.
//
// errors.Is(err, &CloseError{Code: c}) matches by code, and errors.Is
// reaches the cause (ErrKeepaliveTimeout, ErrCloseTimeout,
// ErrTransportClosed, a *frame.ProtocolError).
type CloseError struct {
	Code   frame.CloseCode
	Reason string
	// Message describes what each side saw, e.g. "sent 1000 (normal); no
	// close frame received".
	Message string
	Cause   error
}

// Error reads "websocket: closed <code> <reason>: <what each side saw>".
func (e *CloseError) Error() string {
	s := "websocket: closed " + e.Code.String()
	if e.Reason != "" {
		s += " " + strconv.Quote(e.Reason)
	}
	return s + ": " + e.Message
}

// Unwrap returns the cause (ErrKeepaliveTimeout, a *frame.ProtocolError, ...).
func (e *CloseError) Unwrap() error { return e.Cause }

// Is matches another *CloseError with the same code.
func (e *CloseError) Is(target error) bool {
	t, ok := target.(*CloseError)
	return ok && t.Code == e.Code
}

// CloseCodeOf returns the close code of a *CloseError in err's chain, or 0
// if err is not a close error (nil, a decode error of the application's, a
// ctx error): a 0 is never a connection's end, and a 1006 always is.
func CloseCodeOf(err error) frame.CloseCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// ErrInvalidRole: a Role other than RoleClient or RoleServer.
var ErrInvalidRole = errors.New("websocket: role must be RoleClient or RoleServer")

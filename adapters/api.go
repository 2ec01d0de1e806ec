package adapters

import (
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// What an application needs from the lower packages, so that importing
// adapters is enough: message types, close codes, the close error and its
// helpers, the configuration. They are aliases: the types are the same as
// in frame and protocol, which stay for those who drive the engine
// themselves.

// Opcode is a message or frame type; applications send OpText and OpBinary.
type Opcode = frame.Opcode

// Message types.
const (
	OpText   = frame.OpText
	OpBinary = frame.OpBinary
)

// CloseCode is a close status code (RFC 6455 §7.4).
type CloseCode = frame.CloseCode

// Close codes an application sends or meets. 1006 is never on the wire: it
// says no close frame came. 1005 says a close frame came without a code:
// Close(CloseNoStatus, "") sends one (an empty close frame, RFC 6455's
// way to close without a status), and it is a clean end (IsClean).
const (
	CloseNormal             = frame.CloseNormal
	CloseGoingAway          = frame.CloseGoingAway
	CloseProtocolError      = frame.CloseProtocolError
	CloseUnsupportedData    = frame.CloseUnsupportedData
	CloseNoStatus           = frame.CloseNoStatus
	CloseAbnormal           = frame.CloseAbnormal
	CloseInvalidPayload     = frame.CloseInvalidPayload
	ClosePolicyViolation    = frame.ClosePolicyViolation
	CloseTooBig             = frame.CloseTooBig
	CloseMandatoryExtension = frame.CloseMandatoryExtension
	CloseInternalError      = frame.CloseInternalError
	CloseServiceRestart     = frame.CloseServiceRestart
	CloseTryAgainLater      = frame.CloseTryAgainLater
	CloseBadGateway         = frame.CloseBadGateway
)

// PreparedMessage is a message encoded once per wire form, for
// WritePrepared, SendPrepared and Broadcast to any number of connections
// (see protocol.PreparedMessage).
type PreparedMessage = protocol.PreparedMessage

// NewPreparedMessage prepares a whole message (OpText or OpBinary); data
// is copied, and text must be UTF-8.
func NewPreparedMessage(op Opcode, data []byte) (*PreparedMessage, error) {
	return protocol.NewPreparedMessage(op, data)
}

// CloseError says how a connection ended: every call returns it once the
// connection is over. errors.Is(err, &CloseError{Code: c}) matches by code.
type CloseError = protocol.CloseError

// CloseStatus is what Conn.CloseStatus reports: the code, the reason, and
// which close frames went each way.
type CloseStatus = protocol.CloseStatus

// HandshakeError is a refused opening handshake (Dial's error for a
// response other than 101, Accept's for a request it answered with an
// HTTP error).
type HandshakeError = protocol.HandshakeError

// Config is a connection's configuration; every zero field means its
// default, Disabled turns a timer off.
type Config = protocol.Config

// Disabled, as a Config duration, turns that timer off.
const Disabled = protocol.Disabled

// DefaultConfig returns the defaults: 1 MiB messages, a keepalive ping after
// 20 s of silence, 20 s for its pong, 10 s for the close and opening
// handshakes.
func DefaultConfig() Config { return protocol.DefaultConfig() }

// Role says which end of a connection NewConn runs: clients mask their
// frames, servers do not.
type Role = protocol.Role

// The two roles.
const (
	RoleClient = protocol.RoleClient
	RoleServer = protocol.RoleServer
)

// CompressionConfig tunes permessage-deflate (Options.Compression): level,
// threshold, context takeover. See package protocol/deflate for what each
// setting costs.
type CompressionConfig = deflate.Config

// SendOptions are per-message options of WriteWith.
type SendOptions = protocol.SendOptions

// ServerOptions are Accept's handshake policies (AcceptOptions.Server).
type ServerOptions = protocol.ServerOptions

// Reasons a connection ended, for errors.Is on its close error.
var (
	// ErrKeepaliveTimeout: a keepalive ping got no pong in time (1011).
	ErrKeepaliveTimeout = protocol.ErrKeepaliveTimeout
	// ErrCloseTimeout: the close handshake did not finish in time.
	ErrCloseTimeout = protocol.ErrCloseTimeout
	// ErrWriteTimeout: the peer took none of our bytes for
	// Config.WriteTimeout (1006: no close frame can reach it).
	ErrWriteTimeout = protocol.ErrWriteTimeout
	// ErrOpenTimeout: the opening handshake did not finish in time.
	ErrOpenTimeout = protocol.ErrOpenTimeout
	// ErrTransportClosed: the transport ended before the close handshake.
	ErrTransportClosed = protocol.ErrTransportClosed
	// ErrInvalidState: the call is not allowed now (after the close, say).
	ErrInvalidState = protocol.ErrInvalidState
)

// CloseCodeOf returns the close code of a *CloseError in err's chain, or 0
// if err is not a close error: 1000 and 1001 are clean ends, 1006 a dropped
// connection, 1011 a keepalive timeout or an internal error.
func CloseCodeOf(err error) CloseCode { return protocol.CloseCodeOf(err) }

// IsClean reports whether err is the close error of a clean end: 1000
// (normal), 1001 (going away), or 1005 (the peer's close frame carried no
// code, as python-websockets also counts it). A reconnecting client stops
// on it and retries on anything else.
func IsClean(err error) bool {
	switch CloseCodeOf(err) {
	case CloseNormal, CloseGoingAway, CloseNoStatus:
		return true
	}
	return false
}

package protocol

import (
	"io"
	"time"

	"github.com/wsengine/ws/frame"
)

// Role says which end of the connection a Conn is. It decides masking:
// clients mask every frame they send, servers none.
type Role uint8

const (
	// RoleClient: the end that opened the connection; it masks every frame.
	RoleClient Role = iota + 1
	// RoleServer: the end that accepted it; it never masks.
	RoleServer
)

// String returns "client" or "server".
func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleServer:
		return "server"
	}
	return "invalid role"
}

// Defaults, the values users of other libraries already know.
const (
	DefaultMaxMessageSize = 1 << 20
	DefaultPingInterval   = 20 * time.Second
	DefaultPongTimeout    = 20 * time.Second
	DefaultCloseTimeout   = 10 * time.Second
	DefaultOpenTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 20 * time.Second
)

// Disabled, as the value of a Config duration, turns that timer off. (A
// zero duration means the default: a Config that sets only MaxMessageSize,
// as a user of other libraries writes it, keeps keepalive and the close and
// open timeouts, which are what prevent silent 1006 drops.)
const Disabled time.Duration = -1

// Config holds the settings of one connection. Every zero field means its
// default, so Config{} is DefaultConfig(); a timer is turned off only by
// setting it to Disabled (or any negative duration).
type Config struct {
	// MaxMessageSize bounds the payload of a received message, after any
	// extension decoded it (default 1 MiB). A larger one fails the
	// connection with 1009, detected from the frame header before the
	// payload is read.
	MaxMessageSize int64
	// MaxFrameSize bounds the payload of one received frame (default:
	// MaxMessageSize).
	MaxFrameSize int64

	// PingInterval: after this long without receiving a byte, send a
	// keepalive ping (default 20 s; Disabled: no keepalive).
	PingInterval time.Duration
	// PongTimeout: fail the connection with 1011 if a keepalive ping is not
	// answered within this time (default 20 s; Disabled: wait forever).
	PongTimeout time.Duration
	// CloseTimeout bounds the close handshake: the wait for the peer's close
	// frame after sending one and, for a client, the wait for the server to
	// close the transport (default 10 s; Disabled: wait forever).
	CloseTimeout time.Duration
	// OpenTimeout bounds the opening handshake (default 10 s; Disabled:
	// wait forever).
	OpenTimeout time.Duration
	// WriteTimeout: fail the connection (1006, ErrWriteTimeout) when output
	// waits and none of it is written for this long: the peer stopped
	// reading our bytes (default 20 s; Disabled: wait forever). Only the
	// peer's progress counts, not the application's pace: a connection with
	// nothing to write never times out, and a slow peer that takes some
	// bytes in every interval never does either. See Conn's output bound.
	WriteTimeout time.Duration

	// Rand is the source of masking keys and handshake nonces
	// (crypto/rand.Reader when nil). Tests inject a fixed one.
	Rand io.Reader

	// Extensions are the negotiated extensions, in negotiation order. The
	// handshake fills this in; set it yourself only with NewEstablished.
	Extensions []Extension
}

// DefaultConfig returns the recommended settings: 1 MiB messages, a
// keepalive ping after 20 s of silence, 20 s to answer it, 10 s for the close
// and opening handshakes, 20 s for a peer that takes none of our bytes.
func DefaultConfig() Config {
	return Config{
		MaxMessageSize: DefaultMaxMessageSize,
		PingInterval:   DefaultPingInterval,
		PongTimeout:    DefaultPongTimeout,
		CloseTimeout:   DefaultCloseTimeout,
		OpenTimeout:    DefaultOpenTimeout,
		WriteTimeout:   DefaultWriteTimeout,
	}
}

// orDefault is d, its default when zero, or 0 (off) when negative.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def
	}
	return d
}

// PingIntervalOrDefault and the three below are the durations in force:
// the default for a zero field, 0 for a Disabled one.
func (c *Config) PingIntervalOrDefault() time.Duration {
	return orDefault(c.PingInterval, DefaultPingInterval)
}

// PongTimeoutOrDefault is the pong timeout in force (0: off).
func (c *Config) PongTimeoutOrDefault() time.Duration {
	return orDefault(c.PongTimeout, DefaultPongTimeout)
}

// CloseTimeoutOrDefault is the close timeout in force (0: off).
func (c *Config) CloseTimeoutOrDefault() time.Duration {
	return orDefault(c.CloseTimeout, DefaultCloseTimeout)
}

// OpenTimeoutOrDefault is the open timeout in force (0: off).
func (c *Config) OpenTimeoutOrDefault() time.Duration {
	return orDefault(c.OpenTimeout, DefaultOpenTimeout)
}

// WriteTimeoutOrDefault is the write timeout in force (0: off).
func (c *Config) WriteTimeoutOrDefault() time.Duration {
	return orDefault(c.WriteTimeout, DefaultWriteTimeout)
}

func (c *Config) maxMessage() int64 {
	if c.MaxMessageSize > 0 {
		return c.MaxMessageSize
	}
	return DefaultMaxMessageSize
}

func (c *Config) maxFrame() int64 {
	if c.MaxFrameSize > 0 {
		return c.MaxFrameSize
	}
	return c.maxMessage()
}

// Extension transforms message payloads (RFC 6455 §9); permessage-deflate
// is one. The engine calls it only for messages it owns: on the receive
// side, messages whose first frame has one of its RSV bits set.
//
// An Extension may also have either of two methods the engine calls if
// present: ReleaseBuffers(), when the driver parks an idle connection
// (Conn.ReleaseReadBuffer), to drop the buffers it keeps only for reuse
// between messages (never its state, such as the history a peer's
// compressor refers to, nor a message it is gathering); and Release(),
// once the connection is closed (Conn.Release), to drop everything.
type Extension interface {
	// Rsv returns the RSV bits the extension may set on a message's first
	// frame. A frame with an RSV bit that no extension owns, or a
	// continuation or control frame with any RSV bit, is a protocol error.
	Rsv() uint8
	// Encode appends the transformed form of one fragment of an outgoing
	// message to dst. first and fin say whether p starts or ends the
	// message; op is the message's opcode (text or binary). On the first fragment it returns the RSV bits to set (zero
	// leaves the message untransformed; later fragments follow the first).
	Encode(dst, p []byte, op frame.Opcode, first, fin bool) ([]byte, uint8, error)
	// Decode appends the decoded form of a piece of a received message whose
	// first frame had RSV bits rsv; op is the message's opcode and fin marks
	// the last piece. It may hold pieces back and decode them at fin. It
	// must fail with a *frame.ProtocolError (1009) rather than append more
	// than limit bytes, and with 1007 or 1002 for a corrupt payload.
	Decode(dst, p []byte, op frame.Opcode, rsv uint8, fin bool, limit int64) ([]byte, error)
}

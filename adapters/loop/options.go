package loop

import (
	"net/http"
	"slices"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Options configure a Server. The zero value serves WebSockets with the
// engine's defaults (1 MiB messages, keepalive, permessage-deflate offered
// to whoever asks) and no callbacks.
type Options struct {
	// OnOpen runs when a connection opens, before its first message.
	OnOpen func(c *Conn)
	// OnMessage receives every message; p is valid until it returns (it
	// points into the loop's buffers): copy what you keep. Send from inside
	// it goes out before anything the next bytes cause.
	OnMessage func(c *Conn, op frame.Opcode, p []byte)
	// OnClose runs once when an opened connection ends, with its close
	// error (a *protocol.CloseError; adapters.IsClean says whether the
	// close handshake completed with 1000 or 1001). The socket may still
	// linger for the peer's EOF afterwards; Send fails from now on.
	OnClose func(c *Conn, err error)
	// OnPing runs for every ping received, after the engine queued its
	// pong; OnPong for every pong, with the round-trip time when it
	// answered a ping of ours (keepalive included), else zero. On a loop
	// they run like the other callbacks, in order with the messages, and
	// payload is valid until they return; on a goroutine-driven connection
	// as adapters.Options.OnPing and OnPong do (a goroutine of the
	// connection's, a copy of the payload, a flood coalesced).
	OnPing func(c *Conn, payload []byte)
	OnPong func(c *Conn, payload []byte, rtt time.Duration)

	// CheckRequest, when set, looks at every WebSocket request before it is
	// accepted (its path, a token) and returns 0 to accept it or an HTTP
	// status to refuse it with (404, 403). It runs on the loop: it must not
	// block.
	CheckRequest func(r *http.Request) int

	// HTTP serves the requests that are not WebSocket upgrades (a page, a
	// health check): their connections leave the loop for net/http's
	// ordinary serving, where the open timeout bounds a request's header
	// block and the wait for the next request, and an upgrade among their
	// requests comes back. When nil they get 426 Upgrade Required.
	HTTP http.Handler

	// Config is the engine's configuration: message limit, keepalive,
	// timeouts (nil: protocol.DefaultConfig()).
	Config *protocol.Config
	// Server holds the handshake policies: origins, subprotocols, extra
	// response headers, header limits. ManualAccept is ignored.
	Server protocol.ServerOptions
	// Compression configures permessage-deflate (nil: deflate.Config{});
	// DisableCompression neither offers nor accepts it.
	Compression        *deflate.Config
	DisableCompression bool

	// SendLimit bounds the output a connection may hold unsent (0:
	// adapters.DefaultSendLimit); SendFull says what a Send past it does,
	// as in package adapters. A message larger than the limit is taken when
	// nothing is queued.
	SendLimit int64
	SendFull  adapters.SendFullPolicy
	// HighWater: while a connection's unsent output is above it, that
	// connection is not read (its replies pile up otherwise), until the
	// output is down to a quarter of it (0: 64 KiB). Goroutine-driven
	// connections apply it too (adapters.Options.OutputHighWater).
	HighWater int64

	// Loops is the number of event loops (0: GOMAXPROCS).
	Loops int
}

func (o *Options) engineConfig() protocol.Config {
	if o.Config != nil {
		return *o.Config
	}
	return protocol.DefaultConfig()
}

func (o *Options) highWater() int64 {
	if o.HighWater > 0 {
		return o.HighWater
	}
	return 64 << 10
}

func (o *Options) sendLimit() int64 {
	if o.SendLimit > 0 {
		return o.SendLimit
	}
	return adapters.DefaultSendLimit
}

// serverOptions are the engine's handshake policies, permessage-deflate
// first unless it is disabled.
func (o *Options) serverOptions() protocol.ServerOptions {
	so := o.Server
	so.ManualAccept = o.CheckRequest != nil
	if !o.DisableCompression {
		d := deflateConfig(o)
		so.Extensions = append([]protocol.ServerExtension{d.Server()}, slices.Clip(so.Extensions)...)
	}
	return so
}

// acceptOptions are the same settings for connections the goroutine
// driver runs (wss, and every connection where epoll does not exist).
func (o *Options) acceptOptions() *adapters.AcceptOptions {
	return &adapters.AcceptOptions{
		Options: adapters.Options{Config: o.Config, Compression: o.Compression,
			DisableCompression: o.DisableCompression, SendLimit: o.SendLimit, SendFull: o.SendFull,
			OutputHighWater: o.highWater()},
		Server: o.Server,
	}
}

func deflateConfig(o *Options) deflate.Config {
	if o.Compression != nil {
		return *o.Compression
	}
	return deflate.Config{}
}

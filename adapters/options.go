package adapters

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Options are shared by Dial, Accept and NewConn.
type Options struct {
	// Config is the engine's configuration; nil means
	// protocol.DefaultConfig() (1 MiB messages, keepalive on).
	Config *protocol.Config
	// Queue bounds the receive queue (assembler defaults when zero; its
	// MaxMessageSize follows Config's when unset, and its Buffers is the
	// pool the Conn's other buffers come from).
	Queue assembler.Config
	// Clock is the time source (real time when nil).
	Clock Clock
	// Compression configures permessage-deflate, on by default like
	// browsers and peers: nil means deflate.Config{} (see package deflate
	// for what each field costs).
	Compression *deflate.Config
	// DisableCompression neither offers nor accepts permessage-deflate.
	DisableCompression bool
	// OnMessage, when set, receives every message in the connection's read
	// goroutine instead of the queue (Read and Reader then return only the
	// close error). It saves a goroutine hand-off per message, the model of
	// event-driven servers; p is valid until it returns. It may call Write,
	// but while it runs nothing is read: a Write blocked on a peer that does
	// not read stalls keepalive and the close handshake until it returns.
	OnMessage func(c *Conn, op frame.Opcode, p []byte)
	// OnPing is called for every ping received, after the engine already
	// queued its pong (gorilla's SetPingHandler, coder's OnPingReceived,
	// without the duty to answer). OnPong is called for every pong, with
	// the round-trip time when it answered a ping of ours (keepalive
	// included), else zero. The calls run one at a time on a goroutine of
	// the connection's own, each with a copy of the payload it may keep, so
	// a slow hook cannot stall reading, keepalive or the close handshake;
	// pings (and pongs) that come while a call runs are coalesced, and the
	// next call sees the latest, so a peer's ping flood costs no goroutine
	// per ping. Calls are not ordered with messages.
	OnPing func(c *Conn, payload []byte)
	OnPong func(c *Conn, payload []byte, rtt time.Duration)

	// ReadAhead is how much a connection reads ahead of the application
	// before it stops reading the socket (the queue's high water mark; it
	// reads again at a quarter of it): 0 means DefaultReadAhead, 64 KiB,
	// sized for 10,000 connections and more. A larger message still
	// streams through. Queue.HighWater, when set, is used instead.
	ReadAhead int64
	// SendLimit bounds the output a connection may hold unsent, what Send
	// and SendPrepared queued and what the socket has not taken yet (0:
	// DefaultSendLimit, 1 MiB); SendFull says what a message that would
	// pass it does (FailSlowConsumer, the zero value, or RefuseSend). A
	// message larger than the limit is taken when nothing is queued.
	// Write and WritePrepared wait for the socket instead.
	SendLimit int64
	SendFull  SendFullPolicy
	// OutputHighWater, when set, makes the output bound reading: while
	// the unsent output is above it the connection is not read, until it
	// is down to a quarter of it (protocol.Conn.HoldInput), so a peer that
	// sends faster than it reads the replies (echoes sent from OnMessage)
	// is slowed by TCP rather than dropped at SendLimit. 0 applies none:
	// reading and writing are independent, and a blocked Write stops no
	// Read. Package adapters/loop applies its HighWater this way.
	OutputHighWater int64
}

// DefaultReadAhead is Options.ReadAhead when zero.
const DefaultReadAhead = 64 << 10

// DialOptions configure Dial.
type DialOptions struct {
	Options
	// TLSConfig for wss:// (ServerName is set from the URL if empty).
	TLSConfig *tls.Config
	// DialContext opens the TCP connection (a net.Dialer's when nil).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Header, Origin and Subprotocols go into the request. Extensions are
	// offered after permessage-deflate.
	Header       http.Header
	Origin       string
	Subprotocols []string
	Extensions   []protocol.ClientExtension
	// Proxy returns the HTTP proxy for a request (nil: connect directly),
	// as http.Transport's Proxy does; nil means http.ProxyFromEnvironment
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY; loopback is never proxied). The
	// request's URL is the target with ws:// and wss:// taken as http://
	// and https://. A proxy is reached with CONNECT, authenticated with its
	// URL's userinfo; wss:// runs TLS inside the tunnel.
	Proxy func(*http.Request) (*url.URL, error)
	// HTTP2, when set, opens the WebSocket as a stream of an HTTP/2
	// connection (RFC 8441) through it, sharing the connection with the
	// other WebSockets and requests to the server. The URL must be wss://;
	// TLSConfig, DialContext and Proxy are not used (HTTP2's Transport
	// dials). A server that does not speak HTTP/2 fails with ErrNoHTTP2, one
	// that did not enable extended CONNECT with ErrExtendedConnectOff: Dial
	// does not fall back to HTTP/1.1 by itself.
	HTTP2 *HTTP2Client
	// Jar, when set, gives the request its cookies for the URL (as an
	// http.Client would, ws:// and wss:// taken as http:// and https://)
	// and receives the cookies the 101 response sets.
	Jar http.CookieJar
}

// AcceptOptions configure Accept.
type AcceptOptions struct {
	Options
	// Subprotocols the server speaks, in its order of preference (the
	// first one the client offered is chosen), and Header, extra headers
	// for the 101 response: named as in DialOptions. Each is used before
	// Server's field of the same name, which keeps working.
	Subprotocols []string
	Header       http.Header
	// Server holds the other handshake policies: origins
	// (AllowedOrigins, CheckOrigin), SelectSubprotocol, extensions
	// (permessage-deflate is added unless disabled), header limits.
	// ManualAccept is ignored.
	Server protocol.ServerOptions
}

// serverOptions returns the engine's handshake policies for Accept.
func (o *AcceptOptions) serverOptions() protocol.ServerOptions {
	so := o.Server
	so.ManualAccept = false
	if len(o.Subprotocols) > 0 {
		so.Subprotocols = append(slices.Clip(o.Subprotocols), so.Subprotocols...)
	}
	so.Header = responseHeader(o.Header, so.Header)
	if d, ok := o.deflateConfig(); ok {
		so.Extensions = append([]protocol.ServerExtension{d.Server()}, so.Extensions...)
	}
	return so
}

func (o *Options) deflateConfig() (deflate.Config, bool) {
	if o.DisableCompression {
		return deflate.Config{}, false
	}
	if o.Compression != nil {
		return *o.Compression, true
	}
	return deflate.Config{}, true
}

func (o *Options) engineConfig() protocol.Config {
	if o.Config != nil {
		return *o.Config
	}
	return protocol.DefaultConfig()
}

func (o *Options) queueConfig(cfg protocol.Config) assembler.Config {
	q := o.Queue
	if q.MaxMessageSize == 0 {
		q.MaxMessageSize = cfg.MaxMessageSize
	}
	if q.HighWater == 0 {
		q.HighWater = o.ReadAhead
		if q.HighWater <= 0 {
			q.HighWater = DefaultReadAhead
		}
	}
	if q.Buffers == nil {
		// Streams, ReadAppend and messages in pieces are gathered in
		// the pool the output and OnMessage use, and the spare buffer
		// a parked read lets go of (Trim) goes back to it.
		q.Buffers = &buffers
	}
	return q
}

func (o *Options) clock() Clock {
	if o.Clock != nil {
		return o.Clock
	}
	return realClock{}
}

package bench

import (
	"context"
	"net"
	"strings"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol/deflate"
)

// The event-loop servers: wsengine's (package adapters/loop, the
// "wsengine-loop" row) and lesismal/nbio's non-blocking mode ("nbio", in
// cmd/nbioserver, a binary of its own: see nbioServer), each echoing from
// a callback on its loops, without a goroutine per connection.

// EventLoop reports whether lib's server runs its connections on event
// loops, without a goroutine each.
func EventLoop(lib string) bool { return strings.HasPrefix(lib, "wsengine-loop") || lib == "nbio" }

// serveLoop runs wsengine's loop echo server on ln until ctx ends, with
// DEFLATE f (nil: compress/flate).
func serveLoop(ctx context.Context, ln net.Listener, compress bool, f deflate.Flate) error {
	srv, err := loop.NewServer(loop.Options{
		Config:             &adapters.Config{MaxMessageSize: MaxMessage},
		SendLimit:          2 * MaxMessage,
		DisableCompression: !compress,
		Compression:        &deflate.Config{Flate: f},
		OnMessage:          func(c *loop.Conn, op frame.Opcode, p []byte) { c.Send(op, p) },
	})
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != loop.ErrServerClosed {
		return err
	}
	return nil
}

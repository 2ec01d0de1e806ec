package bench

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol/deflate"
)

// The event-loop servers: wsengine's (package adapters/loop, the
// "wsengine-loop" row) and lesismal/nbio's non-blocking mode ("nbio"),
// each echoing from a callback on its loops, without a goroutine per
// connection.

// EventLoop reports whether lib's server runs its connections on event
// loops, without a goroutine each.
func EventLoop(lib string) bool { return strings.HasPrefix(lib, "wsengine-loop") || lib == "nbio" }

// serveLoop runs wsengine's loop echo server on ln until ctx ends, with
// DEFLATE f (nil: compress/flate).
func serveLoop(ctx context.Context, ln net.Listener, compress bool, f deflate.Flate) error {
	srv, err := loop.NewServer(loop.Options{
		Config:             &adapters.Config{MaxMessageSize: maxMessage},
		SendLimit:          2 * maxMessage,
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

// serveNbio runs nbio's echo server (IOModNonBlocking) on ln until ctx
// ends.
func serveNbio(ctx context.Context, ln net.Listener, compress bool) error {
	up := nbws.NewUpgrader()
	up.EnableCompression(compress)
	up.MessageLengthLimit = maxMessage
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) { c.WriteMessage(mt, data) })
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		IOMod:   nbhttp.IOModNonBlocking,
		MaxLoad: 1 << 20,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			up.Upgrade(w, r, nil)
		}),
		ReleaseWebsocketPayload: true,
	})
	if err := engine.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	engine.Stop()
	return nil
}

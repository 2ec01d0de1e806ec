package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
)

// LoopServer is the echo server of -loop: the same endpoints (/ and /echo
// echo, /page is the page), its WebSockets run by event loops. logf
// receives one line per connection that ends abnormally.
func LoopServer(logf func(format string, args ...any)) (*loop.Server, error) {
	return loop.NewServer(LoopOptions(logf))
}

// LoopOptions are LoopServer's options.
func LoopOptions(logf func(format string, args ...any)) loop.Options {
	page := Handler(logf)
	return loop.Options{
		Config: &adapters.Config{MaxMessageSize: MaxMessageSize},
		// A demo: any page may connect.
		Server: adapters.ServerOptions{AllowedOrigins: []string{"*"}},
		// Room for a whole largest message behind one still going out.
		SendLimit: 2 * MaxMessageSize,
		CheckRequest: func(r *http.Request) int {
			if r.URL.Path == "/" || r.URL.Path == "/echo" {
				return 0
			}
			return http.StatusNotFound
		},
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
			c.Send(op, p)
		},
		OnClose: func(c *loop.Conn, err error) {
			if !adapters.IsClean(err) {
				logf("echo (loop): %v", err)
			}
		},
		HTTP: page,
	}
}

// runLoop is main with -loop.
func runLoop(addr string, useTLS bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv, err := LoopServer(func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
	if err != nil {
		return err
	}
	scheme, pageScheme := "ws", "http"
	if useTLS {
		scheme, pageScheme = "wss", "https"
	}
	fmt.Printf("echo server (event loops) on %s://%s/echo — page at %s://%s/page (Ctrl-C to stop)\n", scheme, ln.Addr(), pageScheme, ln.Addr())
	var hs *http.Server
	if useTLS {
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		// TLS is net/http's; the loop server upgrades its requests and
		// runs them on goroutines.
		mux := http.NewServeMux()
		mux.Handle("/{$}", srv)
		mux.Handle("/echo", srv)
		mux.Handle("/page", Handler(nil))
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	}
	serve := srv.Serve
	if hs != nil {
		serve = func(ln net.Listener) error { return hs.ServeTLS(ln, "", "") }
	}
	// The process ends once every WebSocket's close handshake is done
	// (srv.Shutdown waits for them, the wss ones too), so that no client
	// sees its connection end without the 1001.
	return serveUntilSignal(func() error { return serve(ln) }, func(ctx context.Context) error {
		if hs == nil {
			return srv.Shutdown(ctx)
		}
		// At once: srv closes the WebSockets, and the wss ones over
		// HTTP/2 are handlers that hs waits for.
		errs := make(chan error, 2)
		go func() { errs <- srv.Shutdown(ctx) }()
		go func() { errs <- hs.Shutdown(ctx) }()
		return errors.Join(<-errs, <-errs)
	})
}

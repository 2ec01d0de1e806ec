// Command echo is a conformance-grade WebSocket echo server built on
// wsengine: every message comes back with its type (text or binary), up to
// 16 MiB, with strict UTF-8. /page is a small browser client.
//
//	go run ./examples/echo               # ws://127.0.0.1:9001/echo, page at http://127.0.0.1:9001/page
//	go run ./examples/echo -tls          # wss:// with a generated self-signed certificate
//	go run ./examples/echo -addr :9002
//	go run ./examples/echo -loop         # the same endpoints, served by event loops (package loop)
//
// With -loop the WebSockets run in a few epoll loops (GOMAXPROCS of them)
// instead of a goroutine each, and the page through net/http; with -tls
// as well, the wss connections run on goroutines (a loop reads plain
// sockets only).
//
// With -tls it serves HTTP/1.1 and HTTP/2. Browsers open their WebSockets
// over HTTP/2 (RFC 8441) only when the server advertises extended CONNECT,
// which Go's net/http does only in a process started with
// GODEBUG=http2xconnect=1 (it reads the variable once, at init; setting it
// from main is too late):
//
//	GODEBUG=http2xconnect=1 go run ./examples/echo -tls
//
// Without it browsers use HTTP/1.1 on a connection of its own. A handler
// sees which protocol a WebSocket used in r.Proto; the log shows it for
// connections that end abnormally.
//
// Ctrl-C (or SIGTERM) shuts down gracefully: every WebSocket gets 1001
// ("server shutting down"), and the process exits once their close
// handshakes are done, or after 5 seconds.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsengine/ws/adapters"
)

//go:embed page.html
var page []byte

// MaxMessageSize is what the echo server accepts, as the Autobahn suite
// and browsers' large-message tests expect.
const MaxMessageSize = 16 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	useTLS := flag.Bool("tls", false, "serve wss:// with a self-signed certificate")
	useLoop := flag.Bool("loop", false, "serve the WebSockets from event loops (epoll) instead of a goroutine each")
	flag.Parse()
	if *useLoop {
		if err := runLoop(*addr, *useTLS); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(*addr, *useTLS); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, useTLS bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv, err := NewServer(log.Printf, useTLS)
	if err != nil {
		return err
	}
	// Shutdown forgets hijacked connections: the process waits for their
	// handlers, which return once the close handshake is done, so that
	// no client sees its connection end without the 1001.
	var handlers running
	srv.Handler = handlers.track(srv.Handler)
	scheme, pageScheme := "ws", "http"
	if useTLS {
		scheme, pageScheme = "wss", "https"
	}
	fmt.Printf("echo server on %s://%s/echo — page at %s://%s/page (Ctrl-C to stop)\n", scheme, ln.Addr(), pageScheme, ln.Addr())
	if useTLS {
		fmt.Printf("WebSockets over HTTP/2: %v (GODEBUG=http2xconnect=1 turns them on)\n", HTTP2WebSockets())
	}
	return serveUntilSignal(func() error { return Serve(srv, ln) }, func(ctx context.Context) error {
		return errors.Join(srv.Shutdown(ctx), handlers.wait(ctx))
	})
}

// serveUntilSignal runs serve until it fails, or until Ctrl-C or SIGTERM:
// then shutdown, bounded by shutdownTimeout.
func serveUntilSignal(serve func() error, shutdown func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serve() }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	bounded, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return shutdown(bounded)
}

// shutdownTimeout bounds a shutdown: the close handshakes of peers that do
// not answer are cut then.
const shutdownTimeout = 5 * time.Second

// running counts the requests a handler is serving, WebSockets included,
// for a shutdown to wait for.
type running struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while nobody waits
}

// track wraps h so that r counts its requests.
func (r *running) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.n++
		r.mu.Unlock()
		defer r.done()
		h.ServeHTTP(w, req)
	})
}

func (r *running) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n--; r.n == 0 && r.idle != nil {
		close(r.idle)
		r.idle = nil
	}
}

// wait returns once no request is served, or ctx's error when ctx ends
// first.
func (r *running) wait(ctx context.Context) error {
	r.mu.Lock()
	if r.n == 0 {
		r.mu.Unlock()
		return nil
	}
	if r.idle == nil {
		r.idle = make(chan struct{})
	}
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewServer returns the echo server; with useTLS it has a self-signed
// certificate and speaks HTTP/1.1 and HTTP/2 (see Serve).
//
// Its Shutdown closes every WebSocket with 1001: requests' contexts come
// from a base context that shutdown cancels, and each echo closes its
// connection when its request's context ends. Shutdown alone would not: it
// forgets hijacked HTTP/1.1 connections, and waits for HTTP/2 handlers,
// which a WebSocket keeps running.
func NewServer(logf func(format string, args ...any), useTLS bool) (*http.Server, error) {
	base, shutdown := context.WithCancel(context.Background())
	// The handlers find base itself in their requests' contexts: a
	// request's context also ends when its client goes (over HTTP/2, with
	// the stream), and a client that left is not a shutdown.
	withBase := context.WithValue(base, shutdownKey{}, base)
	srv := &http.Server{Handler: Handler(logf), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		BaseContext: func(net.Listener) context.Context { return withBase }}
	srv.RegisterOnShutdown(shutdown)
	if useTLS {
		cert, err := selfSigned()
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	return srv, nil
}

// Serve serves srv on ln, with TLS (ALPN h2 and http/1.1) if srv has a
// TLS configuration.
func Serve(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// HTTP2WebSockets reports whether this process's HTTP/2 server advertises
// extended CONNECT, so that browsers open WebSockets over HTTP/2.
func HTTP2WebSockets() bool {
	return strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1")
}

// Handler serves the echo endpoint at / and /echo and the page at /page.
// logf receives one line per connection that ends abnormally.
func Handler(logf func(format string, args ...any)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	echo := EchoHandler(logf)
	mux.Handle("/{$}", echo)
	mux.Handle("/echo", echo)
	return mux
}

// shutdownKey is the key of NewServer's shutdown context in its requests'
// contexts.
type shutdownKey struct{}

// EchoHandler upgrades every request and echoes its messages.
func EchoHandler(logf func(format string, args ...any)) http.Handler {
	opts := &adapters.AcceptOptions{
		Options: adapters.Options{Config: &adapters.Config{MaxMessageSize: MaxMessageSize}},
		// A demo: any page may connect.
		Server: adapters.ServerOptions{AllowedOrigins: []string{"*"}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return // the rejection was written
		}
		// Over HTTP/2 the WebSocket is this request's stream, which ends
		// when the handler returns: the Close below returns once the
		// stream is released, so the handler may return after it.
		ctx := context.WithoutCancel(r.Context())
		// The server's shutdown closes with 1001 (see NewServer); a
		// client that leaves ends the connection by itself (1006 if it
		// sent no close frame), and is logged as such.
		shutdown, ok := r.Context().Value(shutdownKey{}).(context.Context)
		if !ok { // a server of the caller's own: its request's context
			shutdown = r.Context()
		}
		defer context.AfterFunc(shutdown, func() { c.Close(adapters.CloseGoingAway, "server shutting down") })()
		for {
			op, p, err := c.Read(ctx)
			if err == nil {
				err = c.Write(ctx, op, p)
			}
			if err != nil {
				if !adapters.IsClean(err) {
					logf("echo %s (%s): %v", c.RemoteAddr(), r.Proto, err)
				}
				c.Close(adapters.CloseNormal, "")
				return
			}
		}
	})
}

// selfSigned makes a certificate for localhost and 127.0.0.1, valid a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wsengine echo"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

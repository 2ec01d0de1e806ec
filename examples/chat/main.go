// Command chat is a chat server built on wsengine: rooms, where every text
// message a member sends goes to every member of the room, the sender
// included. A member that does not keep up is dropped (1008) and delays no
// other: a message is prepared once and handed to each member's bounded
// send queue (adapters.Broadcast), never written under a lock or in turn.
//
//	go run ./examples/chat                 # page at http://127.0.0.1:9002/, WebSocket at ws://127.0.0.1:9002/ws?room=NAME
//	go run ./examples/chat -addr :8080
//	go run ./examples/chat -nats nats://127.0.0.1:4222
//
// With -nats the rooms span every node connected to that NATS server: a
// message is published once, and every node (the sender's included)
// delivers it to its own members of the room. That is how a chat grows past
// one machine.
//
// Ctrl-C (or SIGTERM) shuts down gracefully: every member gets 1001
// ("server shutting down"), and the server stops once they have closed, or
// after 5 seconds.
//
// The NATS client is a small one of its own (nats.go), in the standard
// library, so that wsengine's module still depends on nothing.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

//go:embed page.html
var page []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "address to listen on")
	natsURL := flag.String("nats", "", "NATS server URL: rooms span every node connected to it")
	flag.Parse()
	if err := run(*addr, *natsURL); err != nil {
		log.Fatal(err)
	}
}

func run(addr, natsURL string) error {
	hub := NewHub(log.Printf)
	if natsURL != "" {
		bus, err := DialNATS(natsURL, hub.Deliver, log.Printf)
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		defer bus.Close()
		hub.SetBus(bus)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: Handler(hub), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	fmt.Printf("chat on http://%s/ (WebSocket ws://%s/ws?room=NAME)", ln.Addr(), ln.Addr())
	if natsURL != "" {
		fmt.Printf(", rooms shared through %s", natsURL)
	}
	fmt.Println(" — Ctrl-C to stop")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return Shutdown(shutdown, srv, hub)
}

// Shutdown stops srv gracefully: no new connections, 1001 to every member,
// and it returns once they have closed or ctx ends.
func Shutdown(ctx context.Context, srv *http.Server, hub *Hub) error {
	// WebSockets are hijacked connections, which srv.Shutdown forgets: the
	// hub closes them, and both wait, each bounded by ctx.
	errs := make(chan error, 2)
	go func() { errs <- hub.Shutdown(ctx) }()
	go func() { errs <- srv.Shutdown(ctx) }()
	return errors.Join(<-errs, <-errs)
}

// Handler serves the page at / and the chat's WebSocket at /ws?room=NAME.
func Handler(hub *Hub) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.Handle("/ws", hub)
	return mux
}

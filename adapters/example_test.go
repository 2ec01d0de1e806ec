package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/wsengine/ws/adapters"
)

// README: server
func echoHandler(w http.ResponseWriter, r *http.Request) {
	c, err := adapters.Accept(w, r, &adapters.AcceptOptions{
		Subprotocols: []string{"chat.v1"},
	})
	if err != nil {
		return // Accept wrote an HTTP error response (err is a *adapters.HandshakeError)
	}
	defer c.CloseNow() // after a clean Close this does nothing
	ctx := r.Context()
	for {
		op, msg, err := c.Read(ctx)
		if err != nil {
			// The connection's end: adapters.IsClean(err) for 1000/1001,
			// errors.Is(err, adapters.ErrKeepaliveTimeout) for a peer gone silent.
			return
		}
		if err := c.Write(ctx, op, msg); err != nil {
			return
		}
	}
}

// README: client
func chat(ctx context.Context, url string) error {
	c, resp, err := adapters.Dial(ctx, url, nil) // resp: the 101 (headers, cookies), or the refusal
	if err != nil {
		return err
	}
	defer c.Close(adapters.CloseNormal, "bye")
	_ = resp.Header.Get("Set-Cookie")
	if err := c.Write(ctx, adapters.OpText, []byte("hello")); err != nil {
		return err
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", msg)
	return nil
}

// README: end

// A server: Accept in a net/http handler, then a Read/Write loop in the
// handler's goroutine (the Read reads the socket itself).
func ExampleAccept() {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()
	if err := chat(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")); err != nil {
		fmt.Println(err)
	}
	// Output: hello
}

// An echo loop that reuses one buffer for every message: ReadAppend
// appends each message to the slice passed back, so the loop allocates
// nothing once the buffer has grown to the messages' size. (Read allocates
// each message, for the caller to keep.)
func ExampleConn_ReadAppend() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		var buf []byte
		for {
			op, msg, err := c.ReadAppend(ctx, buf[:0])
			if err != nil {
				return
			}
			buf = msg // msg is valid until the next ReadAppend into buf
			if err := c.Write(ctx, op, msg); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	if err := chat(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")); err != nil {
		fmt.Println(err)
	}
	// Output: hello
}

// A client that reads, writes, pings and closes cleanly.
func ExampleDial() {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &adapters.DialOptions{
		Subprotocols: []string{"chat.v1"},
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	fmt.Println(resp.Status, c.Subprotocol())
	c.SetReadLimit(64 << 10) // per connection, like gorilla's and coder's SetReadLimit
	c.WriteJSON(ctx, map[string]string{"text": "hi"})
	var echo map[string]string
	c.ReadJSON(ctx, &echo)
	fmt.Println(echo["text"])
	if rtt, err := c.Ping(ctx); err == nil && rtt > 0 {
		fmt.Println("pong")
	}
	fmt.Println(c.Close(adapters.CloseNormal, "done"))
	// Output:
	// 101 Switching Protocols chat.v1
	// hi
	// pong
	// <nil>
}

// A hub: connections join rooms, a message to a room goes to everyone in
// it, and a graceful shutdown closes every connection with 1001 going away
// (http.Server.Shutdown does not track hijacked connections, so the hub
// registers its own shutdown). The message is prepared once and queued to
// every member (Broadcast): nothing waits on a socket under the lock, and a
// member that does not keep up is dropped by its own send limit (1008)
// without delaying the others. examples/chat is the whole server, with a
// page and rooms across nodes over NATS.
func Example_hub() {
	type hub struct {
		mu    sync.Mutex
		rooms map[string]map[*adapters.Conn]bool
	}
	h := &hub{rooms: map[string]map[*adapters.Conn]bool{}}
	broadcast := func(room string, msg []byte) {
		m, err := adapters.NewPreparedMessage(adapters.OpText, msg)
		if err != nil {
			return // not UTF-8
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.rooms[room] {
			c.SendPrepared(m) // queues; never waits on the socket
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/room/{name}", func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, nil)
		if err != nil {
			return
		}
		room := r.PathValue("name")
		h.mu.Lock()
		if h.rooms[room] == nil {
			h.rooms[room] = map[*adapters.Conn]bool{}
		}
		h.rooms[room][c] = true
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			delete(h.rooms[room], c)
			h.mu.Unlock()
		}()
		for {
			_, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			broadcast(room, msg)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.RegisterOnShutdown(func() {
		h.mu.Lock()
		var all []*adapters.Conn
		for _, members := range h.rooms {
			for c := range members {
				all = append(all, c)
			}
		}
		h.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range all {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close(adapters.CloseGoingAway, "server shutting down") }()
		}
		wg.Wait()
	})
	srv.Start()

	ctx := context.Background()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/room/go"
	alice, _, _ := adapters.Dial(ctx, url, nil)
	bob, _, _ := adapters.Dial(ctx, url, nil)
	for { // wait until both joined
		h.mu.Lock()
		n := len(h.rooms["go"])
		h.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	alice.Write(ctx, adapters.OpText, []byte("hi, room"))
	_, msg, _ := bob.Read(ctx)
	fmt.Printf("bob got %q\n", msg)

	srv.Config.Shutdown(ctx)
	_, _, err := bob.Read(ctx)
	fmt.Println("bob:", adapters.CloseCodeOf(err), adapters.IsClean(err))
	srv.Close()
	// Output:
	// bob got "hi, room"
	// bob: 1001 (going away) true
}

// A client that reconnects with exponential backoff and jitter after a
// failure (1006 dropped, 1011 keepalive timeout...), and stops on a clean
// close (1000 or 1001): what applications otherwise write by hand, often
// telling the two apart wrongly.
func Example_reconnect() {
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		c.Write(r.Context(), adapters.OpText, []byte(fmt.Sprint("welcome #", attempt)))
		if attempt < 3 {
			c.CloseNow() // a dropped connection: the client sees 1006
			return
		}
		c.Close(adapters.CloseGoingAway, "done for today")
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	backoff := 10 * time.Millisecond
	for {
		err := func() error {
			c, _, err := adapters.Dial(context.Background(), url, nil)
			if err != nil {
				return err
			}
			defer c.CloseNow()
			backoff = 10 * time.Millisecond // connected: start over
			for {
				_, msg, err := c.Read(context.Background())
				if err != nil {
					return err
				}
				fmt.Printf("%s\n", msg)
			}
		}()
		if adapters.IsClean(err) {
			fmt.Println("closed cleanly:", adapters.CloseCodeOf(err))
			return
		}
		fmt.Println("failed:", adapters.CloseCodeOf(err))
		sleep := backoff/2 + rand.N(backoff/2+1) // jitter: between half and all of backoff
		time.Sleep(sleep)
		backoff = min(2*backoff, 5*time.Second)
	}
	// Output:
	// welcome #1
	// failed: 1006 (abnormal closure)
	// welcome #2
	// failed: 1006 (abnormal closure)
	// welcome #3
	// closed cleanly: 1001 (going away)
}

// A WebSocket over HTTP/2 (RFC 8441) when the server takes it, else over
// HTTP/1.1, as browsers do. A Go server takes it only when started with
// GODEBUG=http2xconnect=1; this one is not, so the fallback runs.
func ExampleHTTP2Client() {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	tr := srv.Client().Transport.(*http.Transport) // it trusts the test certificate
	h2 := adapters.NewHTTP2Client(tr)              // share it: its WebSockets share a TCP connection
	c, resp, err := adapters.Dial(ctx, url, &adapters.DialOptions{HTTP2: h2})
	if errors.Is(err, adapters.ErrExtendedConnectOff) || errors.Is(err, adapters.ErrNoHTTP2) {
		c, resp, err = adapters.Dial(ctx, url, &adapters.DialOptions{TLSConfig: tr.TLSClientConfig})
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(adapters.CloseNormal, "")
	_ = resp.ProtoMajor // 2 over HTTP/2 (status 200), 1 over HTTP/1.1 (status 101)
	c.Write(ctx, adapters.OpText, []byte("hello"))
	_, msg, err := c.Read(ctx)
	fmt.Println(string(msg), err)
	// Output: hello <nil>
}

// A server that hands each message to slow work elsewhere pauses the
// connection meanwhile: nothing more is read from it, TCP holds the
// client back, and Resume reads on. Messages keep their order.
func ExampleConn_Pause() {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, &adapters.AcceptOptions{Options: adapters.Options{
			OnMessage: func(c *adapters.Conn, op adapters.Opcode, p []byte) {
				c.Pause() // until the work is done
				job := string(p)
				go func() {
					time.Sleep(10 * time.Millisecond) // the slow work
					fmt.Println("done:", job)
					if job == "third" {
						close(done)
					}
					c.Resume()
				}()
			}}})
		if err != nil {
			return
		}
		<-c.Done()
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range []string{"first", "second", "third"} {
		c.Write(ctx, adapters.OpText, []byte(m))
	}
	<-done
	c.Close(adapters.CloseNormal, "")
	// Output:
	// done: first
	// done: second
	// done: third
}

// SendPing pings without waiting: the pong comes to OnPong with its
// round-trip time (Ping is the call that waits for it).
func ExampleConn_SendPing() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Read(r.Context()) // reading answers pings, until the end
	}))
	defer srv.Close()

	pongs := make(chan string, 1)
	ctx := context.Background()
	c, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &adapters.DialOptions{
		Options: adapters.Options{OnPong: func(_ *adapters.Conn, p []byte, rtt time.Duration) {
			pongs <- fmt.Sprintf("pong %q, round trip measured: %v", p, rtt > 0)
		}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.SendPing([]byte("are you there?")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-pongs)
	c.Close(adapters.CloseNormal, "")
	// Output:
	// pong "are you there?", round trip measured: true
}

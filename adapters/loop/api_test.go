package loop_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
)

// A client dialed on the loop talks to a goroutine-driven server (and
// the loop's own): OnOpen before Dial returns, messages to OnMessage.
func TestDial(t *testing.T) {
	server, url, _ := serve(t, loop.Options{OnMessage: echo})
	got := make(chan string, 10)
	var opened atomic.Bool
	client, _, _ := serve(t, loop.Options{
		OnOpen:    func(c *loop.Conn) { opened.Store(true) },
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) { got <- string(p) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !opened.Load() {
		t.Fatal("Dial returned before OnOpen")
	}
	for i := range 3 {
		c.Send(frame.OpText, fmt.Appendf(nil, "hello %d", i))
		if m := <-got; m != fmt.Sprintf("hello %d", i) {
			t.Fatalf("got %q", m)
		}
	}
	c.Close(frame.CloseNormal, "")
	if _, err := client.Dial(ctx, "ws://127.0.0.1:1/", nil); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	// Both ends let go of the connection: the server's EOF reached the
	// client even when it came with the close frame.
	for client.Len()+server.Len() > 0 {
		if ctx.Err() != nil {
			t.Fatalf("connections left: client %d, server %d", client.Len(), server.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// One prepared message to many connections: every member gets it, from
// another goroutine than the loops'.
func TestBroadcast(t *testing.T) {
	var mu sync.Mutex
	var members []*loop.Conn
	joined := make(chan struct{}, 100)
	_, url, _ := serve(t, loop.Options{
		OnOpen: func(c *loop.Conn) {
			mu.Lock()
			members = append(members, c)
			mu.Unlock()
			joined <- struct{}{}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 50
	var clients []*adapters.Conn
	for i := range n {
		clients = append(clients, dial(t, ctx, url, i%2 == 0)) // half of them compressed
		<-joined
	}
	m, err := loop.NewPreparedMessage(frame.OpText, []byte(strings.Repeat("news ", 1000)))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sent := loop.Broadcast(m, members...)
	mu.Unlock()
	if sent != n {
		t.Fatalf("Broadcast took %d of %d", sent, n)
	}
	for _, c := range clients {
		if _, p, err := c.Read(ctx); err != nil || string(p) != strings.Repeat("news ", 1000) {
			t.Fatalf("%d bytes %v", len(p), err)
		}
		c.Close(frame.CloseNormal, "")
	}
}

// Pause stops OnMessage until Resume; messages wait, none is lost. The same
// over wss, where the goroutine driver runs the connection.
func TestPause(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprint("wss=", wss), func(t *testing.T) {
			got := make(chan string, 100)
			url, _, dopts := serveBoth(t, loop.Options{
				OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
					got <- string(p)
					if string(p) == "pause" {
						c.Pause()
						go func() {
							time.Sleep(300 * time.Millisecond)
							got <- "resuming"
							c.Resume()
						}()
					}
				},
			}, wss)
			ctx, c := dialed(t, url, dopts)
			for _, m := range []string{"a", "pause", "b", "c"} {
				c.Write(ctx, frame.OpText, []byte(m))
			}
			var seq []string
			for len(seq) < 5 {
				select {
				case m := <-got:
					seq = append(seq, m)
				case <-ctx.Done():
					t.Fatalf("got %q", seq)
				}
			}
			if strings.Join(seq, ",") != "a,pause,resuming,b,c" {
				t.Fatalf("order %q", seq)
			}
			c.Close(frame.CloseNormal, "")
		})
	}
}

// Ping sends a ping with the caller's payload, over ws and wss alike.
func TestPing(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprint("wss=", wss), func(t *testing.T) {
			url, _, dopts := serveBoth(t, loop.Options{
				OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
					if err := c.Ping(p); err != nil {
						t.Errorf("Ping: %v", err)
					}
				},
			}, wss)
			pings := make(chan string, 1)
			dopts.Options.OnPing = func(_ *adapters.Conn, p []byte) { pings <- string(p) }
			ctx, c := dialed(t, url, dopts)
			c.Write(ctx, frame.OpText, []byte("ping me"))
			go c.Read(ctx) // the client reads, and so sees the ping
			expect(ctx, t, pings, "ping me")
		})
	}
}

// wss: the loop server as a net/http handler behind TLS runs the
// connection on the goroutine driver with the same callbacks.
func TestTLSOnGoroutines(t *testing.T) {
	var rec record
	srv, err := loop.NewServer(loop.Options{
		OnOpen: func(c *loop.Conn) { rec.add("open " + c.Request().URL.Path) },
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
			rec.add("message")
			c.Send(op, p)
		},
		OnClose: func(c *loop.Conn, err error) { rec.add(fmt.Sprint("close ", int(adapters.CloseCodeOf(err)))) },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := adapters.Dial(ctx, "wss"+strings.TrimPrefix(hs.URL, "https")+"/secure",
		&adapters.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(ctx, frame.OpText, []byte("over tls"))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "over tls" {
		t.Fatalf("%q %v", p, err)
	}
	if srv.Len() != 1 {
		t.Fatalf("Len %d", srv.Len())
	}
	c.Close(frame.CloseNormal, "")
	shut, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	srv.Shutdown(shut)
	if got := rec.String(); got != "open /secure,message,close 1000" {
		t.Fatalf("callbacks %q", got)
	}
}

// Sends from OnOpen go past SendLimit before the loop has written anything
// (the 101 included: while it dispatches a connection, commands leave
// their output to its settle). At the bound what waits is written first, so
// a peer that reads gets the 101 and every message, and is not failed as a
// slow consumer.
func TestSendsFromOnOpenPastTheLimit(t *testing.T) {
	const n, size = 10, 32 << 10
	sendErrs := make(chan error, n)
	_, url, closes := serve(t, loop.Options{
		SendLimit: 256 << 10,
		OnOpen: func(c *loop.Conn) {
			p := make([]byte, size)
			for range n {
				sendErrs <- c.Send(frame.OpBinary, p)
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := dial(t, ctx, url, false)
	for i := range n {
		if err := <-sendErrs; err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		if _, p, err := c.Read(ctx); err != nil || len(p) != size {
			t.Fatalf("message %d: %d bytes, %v", i, len(p), err)
		}
	}
	c.Close(frame.CloseNormal, "")
	if e := waitEnd(t, closes); !adapters.IsClean(e.err) {
		t.Fatalf("OnClose: %v", e.err)
	}
}

// HighWater: an echo server stops reading a client that does not read its
// echoes once they pile up, so TCP holds the client's writes back, and
// when the client reads again every echo arrives; over wss too, where the
// goroutine driver runs the connection. With HighWater above SendLimit the
// echoes reach the limit first, and the client is dropped as a slow
// consumer.
func TestHighWaterHoldsInput(t *testing.T) {
	tests := []struct {
		name string
		high int64
		wss  bool
	}{
		{"ws, HighWater 64 KiB (default)", 0, false},
		{"ws, HighWater past SendLimit", 64 << 20, false},
		{"wss, HighWater 64 KiB (default)", 0, true},
		{"wss, HighWater past SendLimit", 64 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, closes, dopts := serveBoth(t, loop.Options{OnMessage: echo, DisableCompression: true,
				SendLimit: 256 << 10, HighWater: tt.high}, tt.wss)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var d net.Dialer
			dopts.Options = adapters.Options{DisableCompression: true}
			dopts.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := d.DialContext(ctx, network, addr)
				if err == nil {
					nc.(*net.TCPConn).SetReadBuffer(32 << 10)
				}
				return nc, err
			}
			client, _, err := adapters.Dial(ctx, url, dopts)
			if err != nil {
				t.Fatal(err)
			}
			defer client.CloseNow()
			const n = 1024 // of 16 KiB: 16 MiB, far past every buffer
			got, err := echotest.UnreadEchoes(ctx, client, n, 16<<10, 300*time.Millisecond)
			switch {
			case tt.high == 0 && err != nil:
				t.Fatalf("echo %d of %d: %v", got, n, err)
			case tt.high != 0 && err == nil:
				t.Fatal("every echo arrived past SendLimit: the test shows nothing")
			case tt.high != 0:
				if e := waitEnd(t, closes); !errors.Is(e.err, adapters.ErrSendQueueFull) {
					t.Fatalf("the server ended with %v, want a slow consumer's drop", e.err)
				}
				// The close frame reaches the client behind what was sent:
				// no frame cut, no reset.
				if !errors.Is(err, &protocol.CloseError{Code: frame.ClosePolicyViolation}) {
					t.Fatalf("the client got %d echoes, then %v; want the 1008 close frame", got, err)
				}
			default:
				client.Close(frame.CloseNormal, "")
			}
		})
	}
}

// A ping or a close frame that came in the same read as a message whose
// echo passes HighWater is answered once the echo is written
// (echotest.ControlBehindMessage). It used to wait for the engine's next
// deadline (the write watchdog's look, seconds later): the write that ended
// the hold came after dispatch had stopped with the frame left in the
// engine, and no socket event announced it again.
func TestControlBehindHeldEchoIsAnswered(t *testing.T) {
	for _, op := range []frame.Opcode{frame.OpPing, frame.OpClose} {
		t.Run(op.String(), func(t *testing.T) {
			cfg := protocol.DefaultConfig()
			cfg.PingInterval = time.Minute // no deadline within the test's bound
			cfg.WriteTimeout = time.Minute
			_, url, _ := serve(t, loop.Options{Config: &cfg, OnMessage: echo, DisableCompression: true})
			nc, br := rawClient(t, url, "/")
			if err := echotest.ControlBehindMessage(nc, br, 100<<10, op, 3*time.Second); err != nil { // HighWater is 64 KiB
				t.Fatal(err)
			}
		})
	}
}

// The accessors a goroutine-driven adapters.Conn has, on loop-driven and
// goroutine-driven (wss) connections alike: addresses, compression, the
// keepalive's latency, and a read limit set in OnOpen that fails a larger
// message with 1009.
func TestConnAccessors(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprint("wss=", wss), func(t *testing.T) {
			type seen struct {
				local, remote string
				compressed    bool
			}
			opened := make(chan seen, 1)
			cfg := protocol.DefaultConfig()
			cfg.PingInterval = 20 * time.Millisecond
			url, closes, dopts := serveBoth(t, loop.Options{
				Config: &cfg,
				OnOpen: func(c *loop.Conn) {
					c.SetReadLimit(100)
					opened <- seen{fmt.Sprint(c.LocalAddr()), fmt.Sprint(c.RemoteAddr()), c.Compressed()}
				},
				OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
					if string(p) == "latency?" {
						c.Send(op, []byte(fmt.Sprint(c.Latency() > 0)))
						return
					}
					c.Send(op, p)
				},
			}, wss)
			ctx, c := dialed(t, url, dopts)
			s := <-opened
			if s.local != fmt.Sprint(c.RemoteAddr()) || s.remote != fmt.Sprint(c.LocalAddr()) {
				t.Errorf("server's addresses %s, %s; the client's %s, %s", s.local, s.remote, c.RemoteAddr(), c.LocalAddr())
			}
			if !s.compressed || !c.Compressed() {
				t.Errorf("compressed: server %v, client %v; want both", s.compressed, c.Compressed())
			}
			// The keepalive pings a connection idle for PingInterval, and
			// the client answers while it reads: the server has a latency
			// after the first pong.
			for {
				c.Write(ctx, frame.OpText, []byte("latency?"))
				_, p, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("no latency before %v", err)
				}
				if string(p) == "true" {
					break
				}
				time.Sleep(3 * cfg.PingInterval) // idle: a ping comes
			}
			// 100 bytes pass the limit; 101 fail the connection with 1009.
			if err := c.Write(ctx, frame.OpBinary, make([]byte, 100)); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.Read(ctx); err != nil || len(p) != 100 {
				t.Fatalf("the 100-byte message: %d bytes, %v", len(p), err)
			}
			c.Write(ctx, frame.OpBinary, make([]byte, 101))
			if _, _, err := c.Read(ctx); adapters.CloseCodeOf(err) != frame.CloseTooBig {
				t.Fatalf("after 101 bytes the client read %v, want a 1009 close", err)
			}
			if e := waitEnd(t, closes); adapters.CloseCodeOf(e.err) != frame.CloseTooBig {
				t.Fatalf("the server ended with %v, want 1009", e.err)
			}
		})
	}
}

// CloseNow drops a connection without the close handshake, from a callback
// or another goroutine: OnClose reports ErrClosedNow, the peer sees the
// socket end (1006), and a send after it returns the close error.
func TestCloseNow(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprint("wss=", wss), func(t *testing.T) {
			sendAfter := make(chan error, 1)
			url, closes, dopts := serveBoth(t, loop.Options{
				OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
					c.CloseNow()
					sendAfter <- c.Send(op, p)
				},
			}, wss)
			ctx, c := dialed(t, url, dopts)
			c.Write(ctx, frame.OpText, []byte("drop me"))
			if _, _, err := c.Read(ctx); adapters.CloseCodeOf(err) != frame.CloseAbnormal {
				t.Fatalf("the client read %v, want the socket's end (1006)", err)
			}
			if e := waitEnd(t, closes); !errors.Is(e.err, adapters.ErrClosedNow) {
				t.Fatalf("OnClose reported %v, want ErrClosedNow", e.err)
			}
			if err := <-sendAfter; !errors.Is(err, adapters.ErrClosedNow) {
				t.Fatalf("Send after CloseNow returned %v, want ErrClosedNow", err)
			}
		})
	}
}

// OnPing and OnPong: the server sees the client's ping, and the pong to
// its own ping with a round-trip time, over ws and wss alike.
func TestPingPongHooks(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprint("wss=", wss), func(t *testing.T) {
			pings := make(chan string, 4)
			pongs := make(chan string, 4)
			url, _, dopts := serveBoth(t, loop.Options{
				OnOpen: func(c *loop.Conn) { c.Ping([]byte("from the server")) },
				OnPing: func(c *loop.Conn, p []byte) { pings <- string(p) },
				OnPong: func(c *loop.Conn, p []byte, rtt time.Duration) {
					pongs <- fmt.Sprintf("%s, rtt>0 %v", p, rtt > 0)
				},
			}, wss)
			ctx, c := dialed(t, url, dopts)
			go c.Read(ctx) // the client reads: it answers the server's ping
			if err := c.SendPing([]byte("from the client")); err != nil {
				t.Fatal(err)
			}
			expect(ctx, t, pings, "from the client")
			expect(ctx, t, pongs, "from the server, rtt>0 true")
		})
	}
}

// NewConn takes a connection whose handshake was done elsewhere: a plain
// TCP one runs on a loop, anything else (here a net.Pipe) on the goroutine
// driver, a server's or a client's, with OnOpen before NewConn returns and
// the server's callbacks after.
func TestNewConn(t *testing.T) {
	opened := make(chan string, 4)
	srv, _, closes := serve(t, loop.Options{
		DisableCompression: true,
		OnOpen:             func(c *loop.Conn) { opened <- fmt.Sprint(c.Request() == nil) },
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
			if string(p) == "echo: from the loop's client" {
				c.Close(frame.CloseNormal, "")
				return
			}
			c.Send(op, append([]byte("echo: "), p...))
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A server's connection upgraded by hand, then handed over.
	handed := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			err = upgradeByHand(nc)
		}
		if err == nil {
			_, err = srv.NewConn(nc, protocol.RoleServer)
		}
		handed <- err
	}()
	client, _, err := adapters.Dial(ctx, "ws://"+ln.Addr().String()+"/", &adapters.DialOptions{Options: adapters.Options{DisableCompression: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	if err := <-handed; err != nil {
		t.Fatal(err)
	}
	if got := <-opened; got != "true" {
		t.Fatalf("OnOpen: the request is known (%s)", got)
	}
	client.Write(ctx, frame.OpText, []byte("over a handed TCP connection"))
	if _, p, err := client.Read(ctx); err != nil || string(p) != "echo: over a handed TCP connection" {
		t.Fatalf("%q %v", p, err)
	}
	client.Close(frame.CloseNormal, "")
	if e := waitEnd(t, closes); !adapters.IsClean(e.err) {
		t.Fatalf("the handed connection ended with %v", e.err)
	}

	// A client's connection, over a pipe: the goroutine driver.
	a, b := net.Pipe()
	peer, err := adapters.NewConn(b, protocol.RoleServer, &adapters.Options{DisableCompression: true,
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Send(op, append([]byte("echo: "), p...)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.CloseNow()
	c, err := srv.NewConn(a, protocol.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	<-opened
	c.Send(frame.OpText, []byte("from the loop's client"))
	// The server's OnMessage gets the echo and closes: a clean end.
	if e := waitEnd(t, closes); e.c != c || !adapters.IsClean(e.err) {
		t.Fatalf("the piped client ended with %v", e.err)
	}
}

// upgradeByHand answers a WebSocket upgrade request on nc with a 101, as
// an application's own handshake code would.
func upgradeByHand(nc net.Conn) error {
	r, err := http.ReadRequest(bufio.NewReader(nc))
	if err != nil {
		return err
	}
	h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, err = fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(h[:]))
	return err
}

// Done is closed when the connection ends, for a goroutine that feeds it:
// one started in OnOpen stops when the peer closes, and in OnClose Done is
// closed already. Over ws and wss alike.
func TestDone(t *testing.T) {
	for _, wss := range []bool{false, true} {
		t.Run(fmt.Sprint("wss=", wss), func(t *testing.T) {
			stopped := make(chan int, 1)
			doneInOnClose := make(chan bool, 1)
			url, _, dopts := serveBoth(t, loop.Options{
				OnOpen: func(c *loop.Conn) {
					go func() { // a feed: a message every 5 ms until the end
						sent := 0
						tick := time.NewTicker(5 * time.Millisecond)
						defer tick.Stop()
						for {
							select {
							case <-c.Done():
								stopped <- sent
								return
							case <-tick.C:
								if c.Send(frame.OpText, []byte("tick")) == nil {
									sent++
								}
							}
						}
					}()
				},
				OnClose: func(c *loop.Conn, err error) {
					select {
					case <-c.Done():
						doneInOnClose <- true
					default:
						doneInOnClose <- false
					}
				},
			}, wss)
			ctx, c := dialed(t, url, dopts)
			for range 3 { // the feed runs
				if _, p, err := c.Read(ctx); err != nil || string(p) != "tick" {
					t.Fatalf("%q %v", p, err)
				}
			}
			c.Close(frame.CloseNormal, "")
			select {
			case n := <-stopped:
				if n < 3 {
					t.Fatalf("the feed stopped after %d messages", n)
				}
			case <-ctx.Done():
				t.Fatal("the feed did not stop at the end")
			}
			if !<-doneInOnClose {
				t.Fatal("Done was not closed in OnClose")
			}
		})
	}
}

// A wss Dial runs on the goroutine driver with the dialing server's
// options and callbacks, as a ws one on a loop: OnOpen before Dial
// returns, the echoes to OnMessage, Ping's pongs to OnPong. dopts gives
// only what the dial itself needs (its TLS configuration).
func TestDialWSS(t *testing.T) {
	url, _, dopts := serveBoth(t, loop.Options{OnMessage: echo}, true)
	got := make(chan string, 10)
	pongs := make(chan string, 1)
	var opened atomic.Bool
	client, _, _ := serve(t, loop.Options{
		OnOpen:    func(c *loop.Conn) { opened.Store(true) },
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) { got <- string(p) },
		OnPong:    func(c *loop.Conn, p []byte, _ time.Duration) { pongs <- string(p) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url+"/x", dopts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if !opened.Load() {
		t.Fatal("Dial returned before OnOpen")
	}
	c.Send(frame.OpText, []byte("over wss"))
	c.Ping([]byte("p"))
	expect(ctx, t, got, "over wss")
	expect(ctx, t, pongs, "p")
}

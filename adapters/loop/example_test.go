package loop_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// An echo server on event loops, and a client on the same loops.
func Example() {
	srv, err := loop.NewServer(loop.Options{
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) { c.Send(op, p) },
	})
	if err != nil {
		panic(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := adapters.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		panic(err)
	}
	c.Write(ctx, frame.OpText, []byte("hello, loop"))
	_, p, _ := c.Read(ctx)
	fmt.Println(string(p))
	c.Close(frame.CloseNormal, "")
	// Output: hello, loop
}

// Broadcast one message, encoded once, to every connection of a room.
func ExampleBroadcast() {
	var room []*loop.Conn // filled in OnOpen, emptied in OnClose
	m, _ := loop.NewPreparedMessage(frame.OpText, []byte("news"))
	fmt.Println(loop.Broadcast(m, room...))
	// Output: 0
}

// A small read limit until the peer has logged in, a larger one after, and
// a peer that breaks the rules dropped at once: a too-large message fails
// the connection with 1009 by itself.
func ExampleConn_SetReadLimit() {
	srv, err := loop.NewServer(loop.Options{
		OnOpen: func(c *loop.Conn) { c.SetReadLimit(128) }, // a login fits
		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
			switch {
			case c.Data() == nil && string(p) == "login alice":
				c.SetData("alice")
				c.SetReadLimit(1 << 20)
				c.Send(frame.OpText, []byte("welcome"))
			case c.Data() == nil:
				c.CloseNow() // anything else before the login
			default:
				c.Send(op, p)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws://" + ln.Addr().String() + "/"
	c, _, _ := adapters.Dial(ctx, url, nil)
	c.Write(ctx, frame.OpText, []byte("login alice"))
	_, p, _ := c.Read(ctx)
	fmt.Println(string(p))
	c.Close(frame.CloseNormal, "")

	intruder, _, _ := adapters.Dial(ctx, url, nil)
	intruder.Write(ctx, frame.OpText, []byte("hello?"))
	_, _, err = intruder.Read(ctx)
	fmt.Println(adapters.CloseCodeOf(err))
	// Output:
	// welcome
	// 1006 (abnormal closure)
}

// A connection whose handshake was done elsewhere (here one end of a pipe,
// which runs on the goroutine driver; a plain TCP connection would run on
// a loop) joins the server and gets its callbacks.
func ExampleServer_NewConn() {
	got := make(chan string, 1)
	srv, err := loop.NewServer(loop.Options{
		DisableCompression: true,
		OnMessage:          func(c *loop.Conn, op frame.Opcode, p []byte) { got <- string(p) },
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ours, theirs := net.Pipe()
	peer, _ := adapters.NewConn(theirs, protocol.RoleClient, &adapters.Options{DisableCompression: true})
	defer peer.CloseNow()
	if _, err := srv.NewConn(ours, protocol.RoleServer); err != nil {
		panic(err)
	}
	peer.Send(frame.OpText, []byte("handed over"))
	fmt.Println(<-got)
	// Output: handed over
}

// A goroutine that feeds a connection stops when it ends.
func ExampleConn_Done() {
	stopped := make(chan struct{})
	srv, err := loop.NewServer(loop.Options{
		OnOpen: func(c *loop.Conn) {
			go func() {
				defer close(stopped)
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-c.Done():
						return
					case <-tick.C:
						c.Send(frame.OpText, []byte("tick"))
					}
				}
			}()
		},
	})
	if err != nil {
		panic(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, _ := adapters.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	_, p, _ := c.Read(ctx)
	fmt.Println(string(p))
	c.Close(frame.CloseNormal, "")
	<-stopped
	fmt.Println("feed stopped")
	// Output:
	// tick
	// feed stopped
}

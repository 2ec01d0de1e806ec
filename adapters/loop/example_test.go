package loop_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
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

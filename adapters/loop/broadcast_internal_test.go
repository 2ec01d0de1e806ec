//go:build linux

package loop

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
)

// Broadcast leaves the write to the member's loop, so that what queues
// before the loop gets there goes out in one system call; past
// coalesceLimit of unsent output the caller writes. One loop, kept busy by
// another connection's OnMessage, shows both: while it is blocked the
// small broadcasts stay in the member's output, the one that crosses the
// limit goes out from the caller, and the member's client gets every
// message in order.
func TestBroadcastLeavesTheWriteToTheLoop(t *testing.T) {
	blocked, unblock := make(chan struct{}), make(chan struct{})
	opened := make(chan *Conn, 2)
	srv, err := NewServer(Options{
		Loops:              1,
		DisableCompression: true,
		OnOpen:             func(c *Conn) { opened <- c },
		OnMessage: func(c *Conn, op frame.Opcode, p []byte) {
			close(blocked)
			<-unblock
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	defer release() // before the server's Close, which waits for the loop
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws://" + ln.Addr().String()
	blocker, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.CloseNow()
	<-opened
	member, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer member.CloseNow()
	c := <-opened

	blocker.Send(frame.OpText, []byte("block the loop"))
	<-blocked
	unsent := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.eng.UnsentOutput()
	}
	var want []string
	send := func(s string) {
		m, err := NewPreparedMessage(frame.OpText, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if n := Broadcast(m, c); n != 1 {
			t.Fatalf("Broadcast took %d", n)
		}
		want = append(want, s)
	}
	framed := 0
	for i := range 3 {
		s := fmt.Sprintf("small %d", i)
		send(s)
		framed += 2 + len(s)
	}
	if got := unsent(); got != framed {
		t.Fatalf("unsent output %d bytes while the loop is busy, want the %d of three frames", got, framed)
	}
	send(strings.Repeat("x", coalesceLimit))
	if got := unsent(); got != 0 {
		t.Fatalf("unsent output %d bytes past the limit, want the caller to have written it", got)
	}
	release()
	for i, w := range want {
		_, p, err := member.Read(ctx)
		if err != nil || string(p) != w {
			t.Fatalf("message %d: %d bytes, %v", i, len(p), err)
		}
	}
}

package adapters

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
)

// A Read that looked at the queue just before a reader pushed a message
// and gave the read token back (the background reader does when the
// message pauses the queue) takes that message: its fill sees that the
// queue changed since the look and returns without reading the socket,
// where nothing more may come while the message waits (it waited until
// the read was parked, a second later).
func TestFillAfterPushSinceLook(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, RoleServer, &Options{DisableCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	seen := c.q.Version() // the Read's look: nothing queued
	c.mu.Lock()           // a token holder's push, as in takeEvents
	if err := c.q.Push(frame.OpText, []byte("pushed meanwhile"), true); err != nil {
		t.Fatal(err)
	}
	c.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- c.fill(context.Background(), seen) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(parkAfter / 4):
		// Without the check the socket read would end only when parked.
		t.Fatal("fill waited on the socket with a message queued")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, p, err := c.Read(ctx); err != nil || string(p) != "pushed meanwhile" {
		t.Fatalf("Read: %q %v", p, err)
	}
}

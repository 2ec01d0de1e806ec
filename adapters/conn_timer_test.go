package adapters_test

import (
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// One timer per connection, from the injected clock, created once and
// reset: keepalive cycles driven by the fake clock, with the application
// reading and writing in between, never make a second one; the pongs are
// read although the application does not read.
func TestOneTimerPerConnection(t *testing.T) {
	checkLeaks(t)
	clock := newFakeClock()
	a, b := tcpPair(t)
	pongs := make(chan struct{}, 10)
	s, _ := adapters.NewConn(b, protocol.RoleServer, &adapters.Options{Clock: clock,
		OnPong: func(*adapters.Conn, []byte, time.Duration) { pongs <- struct{}{} }})
	c, _ := adapters.NewConn(a, protocol.RoleClient, nil)
	defer c.CloseNow()
	defer s.CloseNow()
	ctx := ctxT(t)
	go echo(c) // the client answers at once
	for cycle := 0; cycle < 5; cycle++ {
		s.Write(ctx, frame.OpText, []byte("hello"))
		if _, p, err := s.Read(ctx); err != nil || string(p) != "hello" {
			t.Fatal(p, err)
		}
		clock.Advance(protocol.DefaultPingInterval) // the keepalive ping goes out
		select {                                    // its pong comes back and is read
		case <-pongs:
		case <-time.After(5 * time.Second):
			t.Fatalf("cycle %d: no pong", cycle)
		}
		// Answered: nothing fails up to the pong deadline (stopping short of
		// it, where the next keepalive ping would start to overlap the next
		// cycle).
		clock.Advance(protocol.DefaultPongTimeout - time.Millisecond)
		if err := s.CloseStatus().Err; err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
	}
	if s.Latency() == 0 {
		t.Fatal("no pong was read")
	}
	if n := clock.Created(); n != 1 {
		t.Fatalf("%d timers made for one connection", n)
	}
	if err := s.Close(frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
}

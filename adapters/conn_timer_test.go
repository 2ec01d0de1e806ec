package adapters_test

import (
	"context"
	"errors"
	"io"
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

// The background reader that skips setting the timer before a read (the
// timer already fires by the park) still sets it after a round whose
// events moved the engine's deadline earlier: a client that answered the
// server's close frame waits for the server to close the TCP connection
// for the close timeout, and gives up on time, not at the park a second
// later. (Nothing else sets the timer then: the client does not close the
// transport first.)
func TestBackgroundReaderFollowsTheCloseTimeout(t *testing.T) {
	checkLeaks(t)
	clock := newFakeClock()
	peer, b := tcpPair(t) // the peer is the server
	cfg := protocol.DefaultConfig()
	cfg.CloseTimeout = 100 * time.Millisecond
	c, err := adapters.NewConn(b, protocol.RoleClient, &adapters.Options{Clock: clock, Config: &cfg,
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Write(context.Background(), op, p) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 3; i++ { // rounds of data only: the reads keep the timer as set
		peer.Write(serverFrame(frame.OpText, 0, true, []byte("hello")))
		if h, p, err := readFrameFrom(peer, true); err != nil || h.Opcode != frame.OpText || string(p) != "hello" {
			t.Fatalf("echo %d: %v %q %v", i, h, p, err)
		}
	}
	peer.Write(serverFrame(frame.OpClose, 0, true, closeBody(frame.CloseNormal))) // the server never closes
	if h, _, err := readFrameFrom(peer, true); err != nil || h.Opcode != frame.OpClose {
		t.Fatalf("close reply: %v %v", h, err)
	}
	time.Sleep(50 * time.Millisecond) // the reader is back on the socket, waiting
	clock.Advance(cfg.CloseTimeout)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client still waits for the server's close after the close timeout")
	}
	var one [1]byte
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Read(one[:]); !errors.Is(err, io.EOF) {
		t.Fatalf("the client did not close the socket: %v", err)
	}
}

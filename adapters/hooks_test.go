package adapters_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
)

// OnPing and OnPong see every ping and pong, with the round-trip time when
// the pong answered a ping of ours; the pong to the peer's ping goes out
// whatever the hook does, even a hook that blocks.
func TestPingPongHooks(t *testing.T) {
	checkLeaks(t)
	pings := make(chan string, 1)
	pongs := make(chan time.Duration, 1)
	release := make(chan struct{})
	c, _ := connPair(t, &adapters.Options{
		OnPong: func(_ *adapters.Conn, payload []byte, rtt time.Duration) { pongs <- rtt }},
		&adapters.Options{OnPing: func(_ *adapters.Conn, payload []byte) {
			pings <- string(payload)
			<-release // a hook that blocks does not stall the connection
		}})
	ctx := ctxT(t)
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 {
		t.Fatalf("Ping: %v %v", rtt, err)
	}
	if p := <-pings; p != "wsengine ping 1" {
		t.Fatalf("OnPing got %q", p)
	}
	if got := <-pongs; got <= 0 {
		t.Fatalf("OnPong rtt %v", got)
	}
	close(release)
}

type chatMessage struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// JSON in and out; a message that does not decode is the application's
// error, not the connection's end.
func TestJSON(t *testing.T) {
	checkLeaks(t)
	c, s := connPair(t, nil, nil)
	ctx := ctxT(t)
	if err := c.WriteJSON(ctx, chatMessage{"go", "hello"}); err != nil {
		t.Fatal(err)
	}
	c.Write(ctx, adapters.OpText, []byte("not json"))
	var m chatMessage
	if err := s.ReadJSON(ctx, &m); err != nil || m != (chatMessage{"go", "hello"}) {
		t.Fatalf("%+v %v", m, err)
	}
	err := s.ReadJSON(ctx, &m)
	if err == nil || adapters.CloseCodeOf(err) != 0 || s.CloseStatus().Err != nil {
		t.Fatalf("bad JSON: %v (code %v), status %v", err, adapters.CloseCodeOf(err), s.CloseStatus().Err)
	}
	c.Close(adapters.CloseGoingAway, "bye")
	err = s.ReadJSON(context.Background(), &m)
	var ce *adapters.CloseError
	if !errors.As(err, &ce) || !adapters.IsClean(err) || ce.Code != adapters.CloseGoingAway {
		t.Fatalf("after close: %v", err)
	}
}

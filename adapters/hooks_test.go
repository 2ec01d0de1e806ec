package adapters_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
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

// Three Ping calls in flight and a peer that answers only the last ping:
// its pong answers the earlier pings too (the engine numbers them,
// protocol.Event.Answered), so every call returns with the round trip.
func TestOnePongAnswersEarlierPingCalls(t *testing.T) {
	checkLeaks(t)
	url := scriptServer(t, "", func(nc net.Conn, br *bufio.Reader) {
		var last []byte
		for n := 0; n < 3; {
			f, err := readClientFrame(br)
			if err != nil {
				return
			}
			if f.h.Opcode == frame.OpPing {
				last, n = f.payload, n+1
			}
		}
		nc.Write(serverFrame(frame.OpPong, 0, true, last))
		for {
			if _, err := readClientFrame(br); err != nil {
				return
			}
		}
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			rtt, err := c.Ping(ctx)
			if err == nil && rtt <= 0 {
				err = errors.New("no round-trip time")
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
}

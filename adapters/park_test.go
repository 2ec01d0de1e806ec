package adapters_test

import (
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
)

// An idle connection parks its reads (no read buffer held) and wakes up
// for the next message and for the close handshake.
func TestParkedConnectionWakes(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	c, _ := adapters.NewConn(a, adapters.RoleClient, nil)
	s, _ := adapters.NewConn(b, adapters.RoleServer, nil)
	ctx := ctxT(t)
	got := make(chan string, 1)
	go func() {
		_, p, err := s.Read(ctx)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(p)
	}()
	time.Sleep(1500 * time.Millisecond) // both ends park
	msg := make([]byte, 300)            // more than a parked read takes at once
	copy(msg, "after the park")
	start := time.Now()
	c.Write(ctx, adapters.OpText, msg)
	if p := <-got; p[:14] != "after the park" || len(p) != 300 {
		t.Fatalf("got %q", p)
	}
	if err := c.Close(adapters.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

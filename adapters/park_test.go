package adapters_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
)

// An idle connection parks its reads (no read buffer held) and wakes up
// for the next message and for the close handshake.
func TestParkedConnectionWakes(t *testing.T) {
	checkLeaks(t)
	c, s := connPair(t, nil, nil)
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

// Parking works over TLS too: the interrupted and the parked reads leave
// the TLS stream intact.
func TestParkedTLSConnectionWakes(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := adapters.Accept(w, r, nil); err == nil {
			echo(c)
		}
	}))
	defer srv.Close()
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"),
		&adapters.DialOptions{TLSConfig: &tls.Config{RootCAs: certPool(srv)}})
	if err != nil {
		t.Fatal(err)
	}
	for i, pause := range []time.Duration{0, 1500 * time.Millisecond, 1500 * time.Millisecond} {
		time.Sleep(pause) // the server's Read parks; so does the client's background reader
		msg := strings.Repeat(fmt.Sprint(i), 5000)
		c.Write(ctx, adapters.OpText, []byte(msg))
		if _, p, err := c.Read(ctx); err != nil || string(p) != msg {
			t.Fatalf("round %d: %d bytes, %v", i, len(p), err)
		}
	}
	if err := c.Close(adapters.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
}

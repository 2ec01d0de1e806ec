package adapters_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

func TestEchoRoundTrips(t *testing.T) {
	checkLeaks(t)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: bigConfig()}}, echo)
	ctx := ctxT(t)
	c, resp, err := adapters.Dial(ctx, url, &adapters.DialOptions{Options: adapters.Options{Config: bigConfig()}})
	if err != nil {
		t.Fatal(err)
	}
	if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Status != "101 Switching Protocols" ||
		resp.Header.Get("Upgrade") != "websocket" || resp.Header.Get("Sec-WebSocket-Accept") == "" {
		t.Fatalf("101 response: %+v", resp)
	}
	echoSizes(t, ctx, c)
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 {
		t.Fatalf("ping: %v %v", rtt, err)
	}
	if err := c.Close(frame.CloseNormal, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if st := c.CloseStatus(); st.Code != frame.CloseNormal || !st.Sent || !st.Received {
		t.Fatalf("status %+v", st)
	}
}

func TestCloseSeenByBothSides(t *testing.T) {
	checkLeaks(t)
	got := make(chan protocol.CloseStatus, 1)
	url := server(t, nil, func(c *adapters.Conn) {
		_, _, err := c.Read(context.Background())
		var ce *protocol.CloseError
		if errors.As(err, &ce) {
			<-c.Done()
			got <- c.CloseStatus()
		}
	})
	c, _, err := adapters.Dial(ctxT(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(4001, "client leaves"); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-got:
		if st.Code != 4001 || st.Reason != "client leaves" || st.SentFirst {
			t.Fatalf("server saw %+v", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server never saw the close")
	}
	if st := c.CloseStatus(); st.Code != 4001 || !st.SentFirst {
		t.Fatalf("client status %+v", st)
	}
}

func TestStreamingWriterAndReader(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, func(c *adapters.Conn) {
		ctx := context.Background()
		op, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		w, _ := c.Writer(ctx, op)
		io.Copy(w, r)
		w.Close()
		c.Read(ctx) // until the client closes
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Writer(ctx, frame.OpText)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		io.WriteString(w, strings.Repeat("é", 1000))
	}
	w.Close()
	op, r, err := c.Reader(ctx)
	if err != nil || op != frame.OpText {
		t.Fatal(op, err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != strings.Repeat("é", 10000) {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	c.Close(1000, "")
}

// Concurrent writers never interleave frames: every message arrives whole.
func TestConcurrentWrites(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, echo)
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if i%5 == 0 {
					mw, _ := c.Writer(ctx, frame.OpBinary)
					mw.Write([]byte{byte(w), byte(i)})
					mw.Write(bytes.Repeat([]byte{byte(w)}, 3000))
					mw.Close()
					continue
				}
				c.Write(ctx, frame.OpBinary, append([]byte{byte(w), byte(i)}, bytes.Repeat([]byte{byte(w)}, 3000)...))
			}
		}()
	}
	seen := map[[2]byte]bool{}
	for n := 0; n < writers*each; n++ {
		_, p, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 3002 || !bytes.Equal(p[2:], bytes.Repeat(p[:1], 3000)) {
			t.Fatalf("message %d mangled", n)
		}
		seen[[2]byte{p[0], p[1]}] = true
	}
	wg.Wait()
	if len(seen) != writers*each {
		t.Fatalf("%d distinct messages", len(seen))
	}
	c.Close(1000, "")
}

func TestNetConnView(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, echo)
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc := c.NetConn(ctx, frame.OpBinary)
	io.WriteString(nc, "hello ")
	io.WriteString(nc, "world")
	buf := make([]byte, 11)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "hello world" {
		t.Fatalf("%q %v", buf, err)
	}
	nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	var ne interface{ Timeout() bool }
	if _, err := nc.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("deadline: %v", err)
	}
	if nc.LocalAddr() == nil || nc.RemoteAddr() == nil {
		t.Fatal("no addresses")
	}
	nc.Close()
}

func TestSubprotocolAndRejection(t *testing.T) {
	checkLeaks(t)
	url := server(t, &adapters.AcceptOptions{Server: protocol.ServerOptions{
		Subprotocols:   []string{"chat.v2"},
		AllowedOrigins: []string{"https://app.example"},
	}}, echo)
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Origin: "https://app.example", Subprotocols: []string{"chat.v1", "chat.v2"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "chat.v2" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	c.Close(1000, "")
	_, resp, err := adapters.Dial(ctx, url, &adapters.DialOptions{Origin: "https://evil.example"})
	var he *protocol.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden || resp == nil || resp.StatusCode != 403 || resp.Status != "403 Forbidden" {
		t.Fatalf("got %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "origin") {
		t.Fatalf("body %q", body)
	}
}

func TestDialContextTimeout(t *testing.T) {
	checkLeaks(t)
	// A server that accepts TCP and never answers the handshake.
	url := server(t, nil, echo)
	_ = url
	ln := silentListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := adapters.Dial(ctx, "ws://"+ln+"/", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

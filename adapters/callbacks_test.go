package adapters_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Close inside OnMessage sends the close frame and returns at once; the
// handshake completes after the callback.
func TestCloseInsideOnMessage(t *testing.T) {
	checkLeaks(t)
	closed := make(chan error, 1)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) {
			closed <- c.Close(4000, "bye")
		}}}, func(c *adapters.Conn) { <-c.Done() })
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(ctx, frame.OpText, []byte("close, please"))
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close in the callback: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close inside OnMessage did not return")
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, &protocol.CloseError{Code: 4000}) {
		t.Fatalf("client saw %v", err)
	}
}

// OnMessage delivers whole messages (fragmented ones joined) in the read
// goroutine, and may write from there; Read returns only the close error.
func TestOnMessageEcho(t *testing.T) {
	checkLeaks(t)
	serverConns := make(chan *adapters.Conn, 1)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: bigConfig(),
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) {
			c.Write(context.Background(), op, p)
		}}}, func(c *adapters.Conn) {
		serverConns <- c
		<-c.Done()
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Options: adapters.Options{Config: bigConfig()}})
	if err != nil {
		t.Fatal(err)
	}
	echoSizes(t, ctx, c)
	// A fragmented message arrives whole.
	w, _ := c.Writer(ctx, frame.OpText)
	w.Write(bytes.Repeat([]byte("κ"), 40000)) // 80,000 bytes: three fragments
	w.Close()
	if op, p, err := c.Read(ctx); err != nil || op != frame.OpText || !bytes.Equal(p, bytes.Repeat([]byte("κ"), 40000)) {
		t.Fatalf("fragmented: %v %d %v", op, len(p), err)
	}
	s := <-serverConns
	// The read calls of a connection served by OnMessage (it has no
	// queue) return ctx's error while it is open, and the close error
	// once it ended.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.ReadAppend(short, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadAppend with a short ctx: %v", err)
	}
	reads := map[string]func() error{
		"Read":       func() error { _, _, err := s.Read(context.Background()); return err },
		"ReadAppend": func() error { _, _, err := s.ReadAppend(context.Background(), nil); return err },
		"Reader":     func() error { _, _, err := s.Reader(context.Background()); return err },
		"NetConn": func() error {
			_, err := s.NetConn(context.Background(), frame.OpBinary).Read(make([]byte, 8))
			return err
		},
	}
	readErr := make(chan error, len(reads))
	for name, read := range reads {
		go func() { readErr <- fmt.Errorf("%s: %w", name, read()) }()
	}
	c.Close(4002, "done")
	for range reads {
		select {
		case err := <-readErr:
			if !errors.Is(err, &protocol.CloseError{Code: 4002}) {
				t.Errorf("server %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a server read did not return the close")
		}
	}
}

// A message sent right after the handshake (in the 101's segment or not)
// reaches OnMessage.
func TestOnMessageRightAfterHandshake(t *testing.T) {
	checkLeaks(t)
	got := make(chan string, 1)
	url := server(t, nil, func(c *adapters.Conn) {
		c.Write(context.Background(), frame.OpText, []byte("welcome"))
		c.Read(context.Background())
	})
	c, _, err := adapters.Dial(ctxT(t), url, &adapters.DialOptions{Options: adapters.Options{
		OnMessage: func(_ *adapters.Conn, _ frame.Opcode, p []byte) { got <- string(p) }}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "welcome" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	c.Close(1000, "")
}

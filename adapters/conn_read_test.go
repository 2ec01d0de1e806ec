package adapters_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// While an application goroutine waits in Read, it reads the socket itself:
// there is no background reader to hand messages over.
func TestWaitingReadReadsTheSocketItself(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, echo)
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(frame.CloseNormal, "")
	for i := 0; i < 100; i++ {
		c.Write(ctx, frame.OpText, []byte("ping-pong"))
		if _, p, err := c.Read(ctx); err != nil || string(p) != "ping-pong" {
			t.Fatal(p, err)
		}
	}
	// The client waits in Read for a message that does not come; the echo
	// server waits in Read too.
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(150 * time.Millisecond)
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if n := strings.Count(stacks, "adapters.(*Conn).readBackground"); n != 0 {
			t.Errorf("%d background readers while both sides wait in Read", n)
		}
		if n := strings.Count(stacks, "adapters.(*Conn).readAsApp"); n != 2 {
			t.Errorf("%d Read calls reading the socket, want 2", n)
		}
	}()
	if _, _, err := c.Read(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// An application that falls behind pauses reading; the engine is told, and
// keepalive does not fail a healthy peer whose pongs sit unread. Nothing is
// lost.
func TestSlowReaderIsNotAKeepaliveFailure(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	scfg := protocol.DefaultConfig()
	scfg.PingInterval, scfg.PongTimeout = 100*time.Millisecond, 200*time.Millisecond
	s, _ := adapters.NewConn(b, protocol.RoleServer, &adapters.Options{Config: &scfg, DisableCompression: true,
		Queue: assemblerConfig(64<<10, 16<<10)})
	c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{DisableCompression: true})
	ctx := ctxT(t)
	const n = 40
	for i := 0; i < n; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 8<<10)
		if err := c.Write(ctx, frame.OpBinary, msg); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second) // the server's application is busy elsewhere
	for i := 0; i < n; i++ {
		_, p, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v (status %+v)", i, err, s.CloseStatus())
		}
		if len(p) != 8<<10 || p[0] != byte(i) {
			t.Fatalf("message %d out of order", i)
		}
	}
	time.Sleep(500 * time.Millisecond) // keepalive works again
	if err := s.CloseStatus().Err; err != nil {
		t.Fatalf("server failed: %v", err)
	}
	if err := c.Close(frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
}

// A message received right before a protocol violation reaches the
// application, and its reply goes out before the failure's close frame
// (Autobahn 3.2, 4.1.3–4.2.4, 5.15 strict), with Read/Write and with
// OnMessage.
func TestReplyBeforeViolationClose(t *testing.T) {
	onMessage := &adapters.AcceptOptions{Options: adapters.Options{OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) {
		c.Write(context.Background(), op, p)
	}}}
	for _, tt := range []struct {
		name    string
		opts    *adapters.AcceptOptions
		handler func(*adapters.Conn)
	}{
		{"Read/Write", &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: true}}, echo},
		{"OnMessage", onMessage, func(c *adapters.Conn) { <-c.Done() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			tt.opts.DisableCompression = true
			url := server(t, tt.opts, tt.handler)
			nc, br := rawDial(t, url)
			key := [4]byte{1, 2, 3, 4}
			nc.Write(append(protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 0, true, []byte("hello")),
				protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 4, true, []byte("bad"))...))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(br)
			want := append(protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpText, 0, true, []byte("hello")),
				protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpClose, 0, true,
					mustClose(frame.CloseProtocolError, protocol.ErrReservedBits.Reason))...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
		})
	}
}

// Writer and stream Reader handles fail once their message ended and never
// touch the next one.
func TestStaleHandles(t *testing.T) {
	checkLeaks(t)
	c, s := connPair(t, nil, nil)
	ctx := ctxT(t)
	w1, _ := c.Writer(ctx, frame.OpText)
	io.WriteString(w1, "one")
	w1.Close()
	// Closed, before any other Writer: it fails, and closing again too.
	if _, err := io.WriteString(w1, "STALE"); !errors.Is(err, adapters.ErrWriterClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := w1.Close(); !errors.Is(err, adapters.ErrWriterClosed) {
		t.Fatalf("second Close: %v", err)
	}
	w2, _ := c.Writer(ctx, frame.OpText)
	if _, err := io.WriteString(w1, "STALE"); !errors.Is(err, adapters.ErrWriterClosed) {
		t.Fatalf("stale Write: %v", err)
	}
	if err := w1.Close(); !errors.Is(err, adapters.ErrWriterClosed) {
		t.Fatalf("stale Close: %v", err)
	}
	io.WriteString(w2, "two")
	w2.Close()
	for _, want := range []string{"one", "two"} {
		_, r, err := s.Reader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.Write(ctx, frame.OpText, []byte("three"))
	c.Write(ctx, frame.OpText, []byte("four"))
	_, r3, _ := s.Reader(ctx)
	buf := make([]byte, 2)
	r3.Read(buf)
	_, r4, _ := s.Reader(ctx) // continues "three"
	if _, err := r3.Read(buf); err == nil {
		t.Fatal("a replaced stream reader still reads")
	}
	if got, _ := io.ReadAll(r4); string(got) != "ree" {
		t.Fatalf("continued stream %q", got)
	}
	if _, p, _ := s.Read(ctx); string(p) != "four" {
		t.Fatalf("next message %q", p)
	}
}

// SetReadLimit (gorilla's and coder's name) bounds what comes next: a
// message over it fails the connection with 1009 on both sides.
func TestSetReadLimit(t *testing.T) {
	checkLeaks(t)
	opts := &adapters.Options{DisableCompression: true}
	c, s := connPair(t, opts, opts)
	ctx := ctxT(t)
	s.SetReadLimit(10)
	c.Write(ctx, frame.OpText, []byte("0123456789"))
	if _, p, err := s.Read(ctx); err != nil || string(p) != "0123456789" {
		t.Fatalf("at the limit: %q %v", p, err)
	}
	c.Write(ctx, frame.OpText, []byte("0123456789a"))
	if _, _, err := s.Read(ctx); !errors.Is(err, &protocol.CloseError{Code: frame.CloseTooBig}) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, &protocol.CloseError{Code: frame.CloseTooBig}) {
		t.Fatalf("the peer saw %v", err)
	}
}

// ReadAppend delivers each message after the caller's bytes, whatever its
// size (one above the queue's 256 KiB spare buffer included); a ctx that
// ends returns the caller's bytes unchanged and the connection goes on; a
// message sent just before the close is delivered, then the close error,
// again with the caller's bytes unchanged.
func TestReadAppend(t *testing.T) {
	checkLeaks(t)
	opts := &adapters.Options{DisableCompression: true}
	c, s := connPair(t, opts, opts)
	ctx := ctxT(t)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, p, err := s.ReadAppend(short, []byte("kept")); !errors.Is(err, context.DeadlineExceeded) || string(p) != "kept" {
		t.Fatalf("ctx ended: %q %v", p, err)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	msgs := []struct {
		op   frame.Opcode
		data []byte
	}{{frame.OpText, []byte("hello")}, {frame.OpBinary, big}, {frame.OpText, nil}, {frame.OpText, []byte("bye")}}
	go func() {
		for _, m := range msgs {
			c.Write(ctx, m.op, m.data)
		}
		c.Close(frame.CloseNormal, "done")
	}()
	buf := []byte("> ")
	for i, m := range msgs {
		op, p, err := s.ReadAppend(ctx, buf)
		if err != nil || op != m.op || !bytes.Equal(p, append([]byte("> "), m.data...)) {
			t.Fatalf("message %d: %v, %d bytes, %v", i, op, len(p), err)
		}
		buf = p[:2]
	}
	_, p, err := s.ReadAppend(ctx, buf)
	if !errors.Is(err, &protocol.CloseError{Code: frame.CloseNormal}) || string(p) != "> " {
		t.Fatalf("after the close: %q %v", p, err)
	}
}

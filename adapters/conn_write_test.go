package adapters_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// A Ping whose short ctx ends while a long Write holds the socket returns
// its ctx error; the Write and the connection go on.
func TestPingContextDoesNotKillWrite(t *testing.T) {
	checkLeaks(t)
	a, b := smallBufferPair(t)
	go func() { // a slow reader: 4 MiB in about 0.5 s
		buf := make([]byte, 16<<10)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{DisableCompression: true})
	defer c.CloseNow()
	werr := make(chan error, 1)
	go func() { werr <- c.Write(context.Background(), frame.OpBinary, make([]byte, 4<<20)) }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := c.CloseStatus().Err; err != nil {
		t.Fatalf("connection ended: %v", err)
	}
}

// Writer gathers writes: a small message is one frame, a large one goes in
// fragments of 32 KiB.
func TestWriterFraming(t *testing.T) {
	checkLeaks(t)
	a, b := net.Pipe()
	cfg := protocol.DefaultConfig()
	c, _ := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{Config: &cfg})
	frames := make(chan frame.Header, 100)
	go func() {
		br := bufio.NewReader(b)
		buf := make([]byte, frame.MaxHeaderSize)
		for {
			if _, err := io.ReadFull(br, buf[:2]); err != nil {
				close(frames)
				return
			}
			n := frame.NeedHeader(buf[:2])
			io.ReadFull(br, buf[2:n])
			h, _, _ := frame.ParseHeader(buf[:n])
			io.CopyN(io.Discard, br, int64(h.Length))
			frames <- h
		}
	}()
	ctx := context.Background()
	w, _ := c.Writer(ctx, frame.OpText)
	for _, s := range []string{"hel", "lo ", "world"} {
		io.WriteString(w, s)
	}
	w.Close()
	if h := <-frames; !h.Fin || h.Opcode != frame.OpText || h.Length != 11 {
		t.Fatalf("small message: %+v", h)
	}
	w, _ = c.Writer(ctx, frame.OpBinary)
	w.Write(bytes.Repeat([]byte{1}, 70000))
	w.Close()
	var lengths []uint64
	for h := range frames {
		lengths = append(lengths, h.Length)
		if h.Fin {
			break
		}
	}
	if len(lengths) != 3 || lengths[0] != 32<<10 || lengths[1] != 32<<10 || lengths[2] != 70000-64<<10 {
		t.Fatalf("fragments %v", lengths)
	}
	b.Close()
	<-c.Done()
}

// A message cut short by its ctx fails the connection (part of a frame may
// be on the wire): that call returns ctx's error, every other call the
// close error.
func TestWriteCutByContextFailsConnection(t *testing.T) {
	checkLeaks(t)
	a, _ := smallBufferPair(t)
	c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{DisableCompression: true})
	readErr := make(chan error, 1)
	go func() { _, _, err := c.Read(context.Background()); readErr <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Write(ctx, frame.OpBinary, make([]byte, 8<<20)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write: %v", err)
	}
	select {
	case err := <-readErr:
		var ce *protocol.CloseError
		if !errors.As(err, &ce) || ce.Code != frame.CloseAbnormal || !errors.Is(err, adapters.ErrWriteCut) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Read: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the pending Read did not return")
	}
	if err := c.Write(context.Background(), frame.OpText, []byte("after")); !errors.Is(err, &protocol.CloseError{Code: frame.CloseAbnormal}) {
		t.Fatalf("later Write: %v", err)
	}
	<-c.Done()
}

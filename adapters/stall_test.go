package adapters_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Every blocking call returns within its bound against a peer that never
// reads, never writes, stops in the middle of a frame, or accepts TCP and
// never answers; the connection's goroutines end with it.
func TestStalledPeers(t *testing.T) {
	quick := protocol.DefaultConfig()
	quick.PingInterval, quick.PongTimeout, quick.CloseTimeout = 100*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
	tests := []struct {
		name  string
		peer  func(net.Conn) // what the raw peer does with its end
		call  func(context.Context, *adapters.Conn) error
		ctx   time.Duration // the call's ctx (0: Background)
		bound time.Duration
		want  error
	}{
		{"never reads: Write bounded by ctx", func(net.Conn) {},
			func(ctx context.Context, c *adapters.Conn) error {
				return c.Write(ctx, frame.OpBinary, make([]byte, 16<<20))
			}, 300 * time.Millisecond, 2 * time.Second, context.DeadlineExceeded},
		{"never reads: Write ended by keepalive", func(net.Conn) {},
			func(ctx context.Context, c *adapters.Conn) error {
				return c.Write(ctx, frame.OpBinary, make([]byte, 16<<20))
			}, 0, 3 * time.Second, protocol.ErrKeepaliveTimeout},
		{"never writes: Read bounded by ctx", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { _, _, err := c.Read(ctx); return err },
			50 * time.Millisecond, 2 * time.Second, context.DeadlineExceeded},
		{"never writes: Read ended by keepalive", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { _, _, err := c.Read(ctx); return err },
			0, 3 * time.Second, protocol.ErrKeepaliveTimeout},
		{"stops mid-frame: Read ended by keepalive", func(nc net.Conn) {
			nc.Write(protocoltest.EncodeFrame(protocol.RoleServer, [4]byte{}, frame.OpText, 0, true, []byte("hello"))[:4])
			go io.Copy(io.Discard, nc)
		}, func(ctx context.Context, c *adapters.Conn) error { _, _, err := c.Read(ctx); return err },
			0, 3 * time.Second, protocol.ErrKeepaliveTimeout},
		{"never answers: Ping bounded by ctx", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { _, err := c.Ping(ctx); return err },
			50 * time.Millisecond, 2 * time.Second, context.DeadlineExceeded},
		{"never answers: Close bounded by the close timeout", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { return c.Close(frame.CloseNormal, "") },
			0, 300*time.Millisecond + 250*time.Millisecond, protocol.ErrCloseTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			a, b := smallBufferPair(t)
			tt.peer(b)
			c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{Config: &quick, DisableCompression: true})
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			start := time.Now()
			err := tt.call(ctx, c)
			if d := time.Since(start); d > tt.bound {
				t.Errorf("returned after %v, bound %v", d, tt.bound)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			c.CloseNow()
			<-c.Done()
		})
	}
}

// Dial against a server that accepts TCP and never answers returns at the
// open timeout, even with a ctx that never ends.
func TestDialOpenTimeout(t *testing.T) {
	checkLeaks(t)
	addr := silentListener(t)
	cfg := protocol.DefaultConfig()
	cfg.OpenTimeout = 200 * time.Millisecond
	start := time.Now()
	_, _, err := adapters.Dial(context.Background(), "ws://"+addr+"/", &adapters.DialOptions{Options: adapters.Options{Config: &cfg}})
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
	if !errors.Is(err, protocol.ErrOpenTimeout) {
		t.Fatalf("got %v", err)
	}
}

// A server that only writes still answers pings, and sees the peer's close.
func TestPushOnlyServer(t *testing.T) {
	checkLeaks(t)
	serverDone := make(chan protocol.CloseStatus, 1)
	url := server(t, nil, func(c *adapters.Conn) {
		for i := 0; i < 20; i++ {
			if c.Write(context.Background(), frame.OpText, []byte("tick")) != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		<-c.Done()
		serverDone <- c.CloseStatus()
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, p, err := c.Read(ctx); err != nil || string(p) != "tick" {
			t.Fatalf("read %d: %q %v", i, p, err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if rtt, err := c.Ping(pctx); err != nil || rtt <= 0 {
		t.Fatalf("Ping: %v %v", rtt, err)
	}
	if err := c.Close(frame.CloseGoingAway, "done"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case st := <-serverDone:
		if !st.Received || st.ReceivedCode != frame.CloseGoingAway {
			t.Fatalf("server status %+v", st)
		}
	case <-time.After(protocol.DefaultCloseTimeout):
		t.Fatal("the server did not see the close")
	}
}

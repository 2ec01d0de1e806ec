package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
)

// A receiver that stops reading stops its read loop at the high water mark,
// so TCP pushes back and the sender's Write blocks; when the receiver reads
// again every message arrives, in order.
func TestFlowControlPushesBack(t *testing.T) {
	checkLeaks(t)
	cnc, snc := smallBufferPair(t) // back-pressure shows after little data
	cfg := protocol.DefaultConfig()
	cfg.PingInterval = protocol.Disabled
	sender, _ := adapters.NewConn(cnc, protocol.RoleClient, &adapters.Options{Config: &cfg, DisableCompression: true})
	receiver, _ := adapters.NewConn(snc, protocol.RoleServer, &adapters.Options{Config: &cfg,
		Queue: assembler.Config{HighWater: 64 << 10, LowWater: 16 << 10}})

	msg := make([]byte, 8<<10)
	sent := 0
	for ; sent < 1000; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		msg[0], msg[1] = byte(sent), byte(sent>>8)
		err := sender.Write(ctx, frame.OpBinary, msg)
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("write %d: %v", sent, err)
			}
			break
		}
	}
	// 1000 × 8 KiB = 8 MiB would have gone through without back-pressure.
	if sent == 1000 || sent*len(msg) > 4<<20 {
		t.Fatalf("the sender was never held back: %d messages sent", sent)
	}
	t.Logf("sender held back after %d messages (%d KiB)", sent, sent*len(msg)>>10)
	// The interrupted write failed the sender's connection (a partial frame
	// may be on the wire); every message written before it arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < sent; i++ {
		_, p, err := receiver.Read(ctx)
		if err != nil {
			t.Fatalf("read %d of %d: %v", i, sent, err)
		}
		if int(p[0])|int(p[1])<<8 != i {
			t.Fatalf("message %d out of order", i)
		}
	}
	receiver.Close(1000, "")
	sender.Close(1000, "")
	<-receiver.Done()
	<-sender.Done()
}

// With Options.OutputHighWater, an echo server (Send from OnMessage) stops
// reading a client that does not read its echoes once they pile up, so TCP
// holds the client's writes back; when the client reads again every echo
// arrives. Without it the echoes reach SendLimit and the client is dropped
// as a slow consumer: it gets 1008 once it reads (what was not written at
// the end gets the close timeout).
func TestOutputHighWaterHoldsInput(t *testing.T) {
	tests := []struct {
		name string
		high int64
	}{
		{"OutputHighWater 64 KiB", 64 << 10},
		{"no OutputHighWater", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			cnc, snc := tcpPair(t)
			cnc.(*net.TCPConn).SetReadBuffer(32 << 10)
			snc.(*net.TCPConn).SetWriteBuffer(32 << 10)
			cfg := protocol.DefaultConfig()
			cfg.PingInterval = protocol.Disabled
			client, _ := adapters.NewConn(cnc, protocol.RoleClient, &adapters.Options{Config: &cfg, DisableCompression: true})
			server, _ := adapters.NewConn(snc, protocol.RoleServer, &adapters.Options{Config: &cfg, DisableCompression: true,
				SendLimit: 256 << 10, OutputHighWater: tt.high,
				OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Send(op, p) }})
			defer server.CloseNow()
			defer client.CloseNow()

			const n = 512 // of 16 KiB: 8 MiB, far past every buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			got, err := echotest.UnreadEchoes(ctx, client, n, 16<<10, 300*time.Millisecond)
			switch {
			case tt.high != 0 && err != nil:
				t.Fatalf("echo %d of %d: %v", got, n, err)
			case tt.high == 0 && err == nil:
				t.Fatal("every echo arrived without OutputHighWater: the test shows nothing")
			case tt.high == 0:
				<-server.Done()
				if st := server.CloseStatus(); !errors.Is(st.Err, adapters.ErrSendQueueFull) {
					t.Fatalf("the server ended with %v, want a slow consumer's drop", st.Err)
				}
				// The close frame reaches the client behind what was sent:
				// no frame cut, no reset.
				if !errors.Is(err, &protocol.CloseError{Code: frame.ClosePolicyViolation}) {
					t.Fatalf("the client got %d echoes, then %v; want the 1008 close frame", got, err)
				}
			}
		})
	}
}

// A ping or a close frame that came in the same read as a message whose
// echo passes OutputHighWater is answered once the echo is written
// (echotest.ControlBehindMessage), as the loop's is.
func TestControlBehindHeldEchoIsAnswered(t *testing.T) {
	for _, op := range []frame.Opcode{frame.OpPing, frame.OpClose} {
		t.Run(op.String(), func(t *testing.T) {
			checkLeaks(t)
			cnc, snc := tcpPair(t)
			cfg := protocol.DefaultConfig()
			cfg.PingInterval = time.Minute // no deadline within the test's bound
			cfg.WriteTimeout = time.Minute
			server, _ := adapters.NewConn(snc, protocol.RoleServer, &adapters.Options{Config: &cfg, DisableCompression: true,
				OutputHighWater: 64 << 10,
				OnMessage:       func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Send(op, p) }})
			defer server.CloseNow()
			if err := echotest.ControlBehindMessage(cnc, cnc, 100<<10, op, 3*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Pause stops reading, whether messages go to OnMessage or to Read, until
// Resume; then every message arrives, in order. SendPing after the end
// returns the close error.
func TestPauseStopsReading(t *testing.T) {
	for _, callback := range []bool{false, true} {
		t.Run(fmt.Sprint("OnMessage=", callback), func(t *testing.T) {
			checkLeaks(t)
			got := make(chan string, 10)
			var sopts adapters.Options
			if callback {
				sopts.OnMessage = func(_ *adapters.Conn, _ frame.Opcode, p []byte) { got <- string(p) }
			}
			client, server := connPair(t, nil, &sopts)
			server.Pause()
			ctx := ctxT(t)
			for _, m := range []string{"a", "b", "c"} {
				if err := client.Write(ctx, frame.OpText, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			next := func(wait time.Duration) (string, error) {
				if callback {
					select {
					case m := <-got:
						return m, nil
					case <-time.After(wait):
						return "", context.DeadlineExceeded
					}
				}
				rctx, cancel := context.WithTimeout(ctx, wait)
				defer cancel()
				_, p, err := server.Read(rctx)
				return string(p), err
			}
			if m, err := next(300 * time.Millisecond); err == nil {
				t.Fatalf("got %q while paused", m)
			}
			server.Resume()
			for _, want := range []string{"a", "b", "c"} {
				if m, err := next(5 * time.Second); err != nil || m != want {
					t.Fatalf("got %q, %v; want %q", m, err, want)
				}
			}
			client.Close(frame.CloseNormal, "")
			<-server.Done()
			if err := server.SendPing([]byte("late")); !adapters.IsClean(err) {
				t.Fatalf("SendPing after the end: %v", err)
			}
		})
	}
}

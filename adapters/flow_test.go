package adapters_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
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

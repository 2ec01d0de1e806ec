package adapters_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
)

// BenchmarkEchoLoopback: a wsengine client and server over loopback TCP,
// one message round trip per op. Allocations cover both ends.
func BenchmarkEchoLoopback(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		for _, compress := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dB/deflate=%v", size, compress), func(b *testing.B) {
				opts := adapters.Options{Config: bigConfig(), DisableCompression: !compress}
				t := &testing.T{}
				url := server(t, &adapters.AcceptOptions{Options: opts}, echo)
				ctx := context.Background()
				c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Options: opts})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(frame.CloseNormal, "")
				msg := make([]byte, size)
				for i := range msg {
					msg[i] = 'a' + byte(i%7)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Write(ctx, frame.OpBinary, msg); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.Read(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

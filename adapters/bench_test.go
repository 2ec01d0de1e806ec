package adapters_test

import (
	"context"
	"fmt"
	"runtime"
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

// BenchmarkUpload: a client streams 16 KiB messages as fast as Send queues
// them (it never waits for a reply) to a server whose application reads
// and drops each with ReadAppend, with the server reading ahead by
// ReadAhead: what a smaller read-ahead costs a bulk upload.
func BenchmarkUpload(b *testing.B) {
	for _, ahead := range []int64{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("ReadAhead=%dKiB", ahead>>10), func(b *testing.B) {
			opts := adapters.Options{Config: bigConfig(), DisableCompression: true, ReadAhead: ahead}
			done := make(chan int, 1)
			t := &testing.T{}
			url := server(t, &adapters.AcceptOptions{Options: opts}, func(c *adapters.Conn) {
				var buf []byte
				n := 0
				for {
					_, p, err := c.ReadAppend(context.Background(), buf[:0])
					if err != nil {
						done <- n
						return
					}
					buf = p
					n++
				}
			})
			ctx := context.Background()
			c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Options: adapters.Options{
				Config: bigConfig(), DisableCompression: true, SendLimit: 4 << 20, SendFull: adapters.RefuseSend}})
			if err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, 16<<10)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				for c.Send(frame.OpBinary, msg) != nil { // full: the server is behind
					runtime.Gosched()
				}
			}
			c.Close(frame.CloseNormal, "")
			if n := <-done; n < b.N {
				b.Fatalf("the server read %d of %d messages", n, b.N)
			}
		})
	}
}

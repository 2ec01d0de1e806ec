package assembler_test

import (
	"context"
	"io"
	"testing"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
)

// BenchmarkPushNext pushes a message and takes it whole: with Next (one
// allocation, the message handed over) and with NextAppend into a reused
// buffer (none).
func BenchmarkPushNext(b *testing.B) {
	for _, take := range []string{"Next", "NextAppend"} {
		for _, s := range []struct {
			name string
			n    int
		}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
			b.Run(take+"/"+s.name, func(b *testing.B) {
				q := assembler.New(assembler.Config{})
				msg := make([]byte, s.n)
				ctx := context.Background()
				var buf []byte
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					q.Push(frame.OpBinary, msg, true)
					var m assembler.Message
					var err error
					if take == "Next" {
						m, err = q.Next(ctx)
					} else {
						m, err = q.NextAppend(ctx, buf[:0])
						buf = m.Data
					}
					if err != nil || len(m.Data) != s.n {
						b.Fatal(len(m.Data), err)
					}
				}
			})
		}
	}
}

// BenchmarkStream16MiB streams a 16 MiB message pushed in 16 KiB fragments,
// reading as it arrives: the buffers are reused, nothing is allocated.
func BenchmarkStream16MiB(b *testing.B) {
	q := assembler.New(assembler.Config{MaxMessageSize: 32 << 20, HighWater: 64 << 20})
	frag := make([]byte, 16<<10)
	buf := make([]byte, 32<<10)
	ctx := context.Background()
	const total = 16 << 20
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		q.Push(frame.OpBinary, frag, false)
		_, r, _ := q.NextReader(ctx)
		for sent := len(frag); ; {
			if _, err := r.Read(buf); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			if sent < total {
				q.Push(frame.OpContinuation, frag, sent+len(frag) == total)
				sent += len(frag)
			}
		}
	}
}

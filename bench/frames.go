package bench

import (
	"bytes"
	"io"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// FrameSizes are the payload sizes of the frame-level benchmark.
var FrameSizes = []int{16, 1 << 10, 64 << 10, 1 << 20}

// maskedStream returns about 4 MiB (at least one frame) of masked text
// frames of size bytes, as a client sends them, and the frame count.
func maskedStream(size int) ([]byte, int) {
	n := max(1, (4<<20)/(size+14))
	p := payload(size)
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var out []byte
	for i := 0; i < n; i++ {
		out = frame.AppendHeader(out, frame.Header{Fin: true, Opcode: frame.OpText, Masked: true, Mask: key, Length: uint64(size)})
		start := len(out)
		out = append(out, p...)
		frame.Mask(out[start:], key, 0)
	}
	return out, n
}

// FrameBench returns a benchmark that parses, unmasks and UTF-8-checks a
// stream of masked text frames from memory with lib ("wsengine": a server
// protocol.Conn, the stream copied into its ReadBuffer; "gobwas":
// ws.ReadHeader, a copy into a reused buffer, ws.Cipher, utf8.Valid).
func FrameBench(lib string, size int) func(b *testing.B) {
	stream, frames := maskedStream(size)
	return func(b *testing.B) {
		b.SetBytes(int64(frames * size))
		b.ReportAllocs()
		switch lib {
		case "wsengine":
			cfg := protocol.DefaultConfig()
			cfg.MaxMessageSize = 2 << 20
			c, _ := protocol.NewEstablished(protocol.RoleServer, cfg, time.Time{})
			now := time.Time{}
			for b.Loop() {
				// Read as the adapters read a socket: straight into the
				// engine's buffer, up to 64 KiB at a time.
				for p := stream; len(p) > 0; {
					n := copy(c.ReadBuffer(64 << 10)[:64<<10], p)
					if err := c.ReceiveBuffered(now, n); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
					for {
						for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
						}
						if !c.InputPending() {
							break
						}
						c.Receive(now, nil)
					}
				}
			}
		case "gobwas":
			buf := make([]byte, size)
			var r bytes.Reader
			for b.Loop() {
				r.Reset(stream)
				for {
					h, err := ws.ReadHeader(&r)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					p := buf[:h.Length]
					if _, err := io.ReadFull(&r, p); err != nil {
						b.Fatal(err)
					}
					ws.Cipher(p, h.Mask, 0)
					if !utf8.Valid(p) {
						b.Fatal("invalid UTF-8")
					}
				}
			}
		}
	}
}

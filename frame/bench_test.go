package frame_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsengine/ws/frame"
)

var benchSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

func BenchmarkParseHeader(b *testing.B) {
	wire := frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Length: 70000, Mask: [4]byte{1, 2, 3, 4}})
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := frame.ParseHeader(wire); n != len(wire) || err != nil {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	buf := make([]byte, 0, frame.MaxHeaderSize)
	h := frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Length: 70000, Mask: [4]byte{1, 2, 3, 4}}
	b.ReportAllocs()
	for b.Loop() {
		buf = frame.AppendHeader(buf[:0], h)
	}
}

func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				frame.Mask(buf, key, 1)
			}
		})
	}
}

// BenchmarkCopy is the memory-bandwidth baseline for BenchmarkMask: both
// read and write every byte once.
func BenchmarkCopy(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			src, dst := make([]byte, s.n), make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

func utf8Inputs() []struct {
	name string
	data []byte
} {
	mixed := strings.Repeat("abc κόσμε €uro 😀 ", 1<<16)
	ascii := strings.Repeat("the quick brown fox jumps over the lazy dog ", 1<<15)
	var out []struct {
		name string
		data []byte
	}
	for _, kind := range []struct {
		name string
		src  string
	}{{"ascii", ascii}, {"mixed", mixed}} {
		for _, size := range []struct {
			name string
			n    int
		}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}} {
			d := []byte(kind.src[:size.n])
			// Cut back to a character boundary so the input is valid.
			for !utf8.Valid(d) {
				d = d[:len(d)-1]
			}
			out = append(out, struct {
				name string
				data []byte
			}{kind.name + "-" + size.name, d})
		}
	}
	return out
}

// BenchmarkUTF8 feeds the incremental validator in 4 KiB pieces, as a
// stream of frames or reads would.
func BenchmarkUTF8(b *testing.B) {
	for _, in := range utf8Inputs() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			var v frame.UTF8
			for b.Loop() {
				v.Reset()
				for p := in.data; len(p) > 0; {
					n := min(len(p), 4096)
					if err := v.Write(p[:n]); err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
				if v.Done() != nil {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkUTF8Std(b *testing.B) {
	for _, in := range utf8Inputs() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if !utf8.Valid(in.data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkParseClose(b *testing.B) {
	p := append([]byte{0x03, 0xE8}, bytes.Repeat([]byte("x"), 20)...)
	b.ReportAllocs()
	for b.Loop() {
		frame.ParseClose(p[:2])
	}
}

package fuzz

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"pgregory.net/rapid"
)

// FuzzParseHeader: never panics; a failure is a 1002 *ProtocolError; what
// parses encodes back to a header that parses to the same value.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x81, 0x05}, {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, {0x82, 0x7E, 0x01, 0x00},
		{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, {0x89, 0x7E, 0, 0x7E}, {0x09, 0}, {0x83, 0},
		{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, {0xF1, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := frame.ParseHeader(b)
		if err != nil {
			var pe *frame.ProtocolError
			if !errors.As(err, &pe) || pe.Code != frame.CloseProtocolError || n != 0 {
				t.Fatalf("untyped or wrong error %v (n=%d)", err, n)
			}
			return
		}
		if n == 0 {
			if need := frame.NeedHeader(b); need <= len(b) {
				t.Fatalf("need-more with %d bytes but NeedHeader = %d", len(b), need)
			}
			return
		}
		if n > len(b) || n > frame.MaxHeaderSize || n != frame.NeedHeader(b) {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		wire := frame.AppendHeader(nil, h)
		if len(wire) != frame.HeaderSize(h) || len(wire) > n {
			t.Fatalf("re-encoded %d bytes, HeaderSize %d, parsed %d", len(wire), frame.HeaderSize(h), n)
		}
		h2, n2, err := frame.ParseHeader(wire)
		if err != nil || n2 != len(wire) {
			t.Fatalf("re-parse: %d, %v", n2, err)
		}
		if diff := cmp.Diff(h, h2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzUTF8 is a differential test: the incremental validator agrees with
// utf8.Valid whatever the split.
func FuzzUTF8(f *testing.F) {
	for _, seed := range []string{"", "hello", "κόσμε", "\xF4\x90\x80\x80", "\xC0\x80", "\xED\xA0\x80", "a\xF0\x9F\x98\x80b"} {
		f.Add([]byte(seed), uint8(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, s1, s2 uint8) {
		want := utf8.Valid(b)
		i := min(int(s1), len(b))
		j := min(i+int(s2), len(b))
		var v frame.UTF8
		err := v.Write(b[:i])
		if err == nil {
			err = v.Write(b[i:j])
		}
		if err == nil {
			err = v.Write(b[j:])
		}
		if err == nil {
			err = v.Done()
		}
		if (err == nil) != want {
			t.Fatalf("% x split %d,%d: err %v, utf8.Valid %v", b, i, j, err, want)
		}
		if err != nil && !errors.Is(err, frame.ErrInvalidUTF8) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// TestUTF8AgreesWithStdlib: under any split into pieces, the validator
// accepts exactly what utf8.Valid accepts.
func TestUTF8AgreesWithStdlib(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Bias towards bytes that make UTF-8 interesting.
		alphabet := []byte{'a', 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF}
		b := rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 40).Draw(t, "text")
		cuts := rapid.SliceOfN(rapid.IntRange(0, len(b)), 0, 5).Draw(t, "cuts")
		var v frame.UTF8
		var err error
		prev := 0
		for _, c := range cuts {
			if c < prev {
				continue
			}
			if err = v.Write(b[prev:c]); err != nil {
				break
			}
			prev = c
		}
		if err == nil {
			err = v.Write(b[prev:])
		}
		if err == nil {
			err = v.Done()
		}
		if (err == nil) != utf8.Valid(b) {
			t.Fatalf("% x cuts %v: err %v, utf8.Valid %v", b, cuts, err, utf8.Valid(b))
		}
	})
}

// TestUTF8FailsAtFirstImpossibleByte: fed a byte at a time, the validator
// fails exactly at the first prefix that no valid text begins with.
func TestUTF8FailsAtFirstImpossibleByte(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 1, 12).Draw(t, "text")
		var v frame.UTF8
		for i := range b {
			err := v.Write(b[i : i+1])
			if (err == nil) != validPrefix(b[:i+1]) {
				t.Fatalf("% x: byte %d: err %v, valid prefix %v", b, i, err, validPrefix(b[:i+1]))
			}
			if err != nil {
				return
			}
		}
	})
}

// validPrefix reports whether some valid UTF-8 text starts with p, by trying
// every completion of its open sequence.
func validPrefix(p []byte) bool {
	for k := 0; k <= 3; k++ {
		if tryComplete(p, k) {
			return true
		}
	}
	return false
}

func tryComplete(p []byte, k int) bool {
	if k == 0 {
		return utf8.Valid(p)
	}
	for c := 0x80; c <= 0xBF; c++ {
		if tryComplete(append(bytes.Clone(p), byte(c)), k-1) {
			return true
		}
	}
	return false
}

// TestMaskProperties: masking twice is the identity, and masking in pieces
// equals masking at once.
func TestMaskProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "data")
		key := [4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "key"))
		pos := rapid.IntRange(0, 7).Draw(t, "pos")
		cut := rapid.IntRange(0, len(data)).Draw(t, "cut")

		once := bytes.Clone(data)
		if next := frame.Mask(once, key, pos); next != pos+len(data) {
			t.Fatalf("Mask returned %d, want %d", next, pos+len(data))
		}
		pieces := bytes.Clone(data)
		next := frame.Mask(pieces[:cut], key, pos)
		frame.Mask(pieces[cut:], key, next)
		if !bytes.Equal(once, pieces) {
			t.Fatalf("split at %d differs", cut)
		}
		frame.Mask(once, key, pos)
		if !bytes.Equal(once, data) {
			t.Fatal("masking twice is not the identity")
		}
	})
}

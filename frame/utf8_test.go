package frame_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/wsengine/ws/frame"
)

// failAt feeds s one byte at a time and returns the index of the byte whose
// Write failed, len(s) if Done failed, or -1 if the text was accepted.
func failAt(s string) int {
	var v frame.UTF8
	for i := 0; i < len(s); i++ {
		if err := v.Write([]byte{s[i]}); err != nil {
			return i
		}
	}
	if v.Done() != nil {
		return len(s)
	}
	return -1
}

func TestUTF8FailFast(t *testing.T) {
	tests := []struct {
		name string
		in   string
		at   int
	}{
		{"ascii", "hello", -1},
		{"greek", "κόσμε", -1},
		{"max code point", "\xF4\x8F\xBF\xBF", -1},
		{"4-byte", "\xF0\x9F\x98\x80", -1},
		{"beyond U+10FFFF fails at second byte", "\xF4\x90\x80\x80", 1},
		{"overlong C0 fails at first byte", "\xC0\x80", 0},
		{"overlong C1", "\xC1\xBF", 0},
		{"overlong E0", "\xE0\x80\x80", 1},
		{"overlong F0", "\xF0\x80\x80\x80", 1},
		{"surrogate", "\xED\xA0\x80", 1},
		{"F5", "\xF5", 0},
		{"FF", "ab\xFF", 2},
		{"lone continuation", "a\x80", 1},
		{"truncated 2-byte at end", "a\xCE", 2},
		{"truncated 4-byte at end", "\xF0\x9F\x98", 3},
		{"lead then ascii", "\xCEa", 1},
		{"autobahn 6.4.1 prefix", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xF4\x90\x80\x80", 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := failAt(tc.in); got != tc.at {
				t.Fatalf("failed at %d, want %d", got, tc.at)
			}
			if (tc.at == -1) != utf8.ValidString(tc.in) {
				t.Fatalf("disagrees with utf8.ValidString")
			}
		})
	}
}

func TestUTF8EverySplitAgreesWithStdlib(t *testing.T) {
	inputs := []string{
		"", "a", "κόσμε", "\xF4\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xED\x9F\xBF", "\xED\xA0\x80",
		"hello \xF0\x9F\x98\x80 world", "\xE0\xA0\x80", "\xE0\x9F\xBF", "abc\xCE", "\xCE\xBAxyz\xE1",
		"1234567\xE2\x82\xAC12345678", "\x80", "\xC2\xA2\xE2\x82\xAC\xF0\x90\x8D\x88",
	}
	for _, s := range inputs {
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				var v frame.UTF8
				err := v.Write([]byte(s[:i]))
				if err == nil {
					err = v.Write([]byte(s[i:j]))
				}
				if err == nil {
					err = v.Write([]byte(s[j:]))
				}
				if err == nil {
					err = v.Done()
				}
				if (err == nil) != utf8.ValidString(s) {
					t.Fatalf("%q split at %d,%d: err = %v, utf8.ValidString = %v", s, i, j, err, utf8.ValidString(s))
				}
			}
		}
	}
}

func TestUTF8StaysFailedUntilReset(t *testing.T) {
	var v frame.UTF8
	if err := v.Write([]byte{0xFF}); !errors.Is(err, frame.ErrInvalidUTF8) {
		t.Fatalf("got %v", err)
	}
	if err := v.Write([]byte("ok")); !errors.Is(err, frame.ErrInvalidUTF8) {
		t.Fatalf("after failure: %v", err)
	}
	var pe *frame.ProtocolError
	if err := v.Done(); !errors.As(err, &pe) || pe.Code != frame.CloseInvalidPayload {
		t.Fatalf("Done: %v", err)
	}
	v.Reset()
	if err := v.Write([]byte("ok")); err != nil || v.Done() != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestUTF8ZeroAllocs(t *testing.T) {
	text := []byte("κόσμε and more text \xF0\x9F\x98\x80")
	bad := []byte{0xC0}
	allocs := testing.AllocsPerRun(100, func() {
		var v frame.UTF8
		v.Write(text[:3])
		v.Write(text[3:])
		v.Done()
		v.Write(bad)
	})
	if allocs != 0 {
		t.Fatalf("UTF8 allocates %v times", allocs)
	}
}

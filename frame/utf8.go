package frame

import "unicode/utf8"

// UTF8 validates text that arrives in pieces split at any byte. It fails as
// soon as the bytes seen so far cannot begin valid UTF-8 (an overlong 0xC0
// fails at once, 0xF4 0x90 at its second byte), as RFC 6455 §8.1 asks:
// "When an endpoint is to interpret a byte stream as UTF-8 but finds that
// the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST
// _Fail the WebSocket Connection_."
//
// The bulk of each piece is handed to utf8.Valid; only the at most three
// bytes of a sequence cut by a piece boundary are carried over. The zero
// value is ready to use; after an error it stays failed until Reset.
type UTF8 struct {
	pend   [4]byte // the open sequence cut by the last boundary
	n      uint8   // bytes in pend
	failed bool
}

// Reset prepares v for a new text.
func (v *UTF8) Reset() { *v = UTF8{} }

// Write checks the next piece of the text. It returns ErrInvalidUTF8 (close
// code 1007) as soon as the text can no longer be valid.
func (v *UTF8) Write(p []byte) error {
	if v.failed {
		return ErrInvalidUTF8
	}
	if v.n > 0 {
		need := int(seqLen(v.pend[0])) - int(v.n)
		take := min(need, len(p))
		for _, c := range p[:take] {
			if !validNext(v.pend[0], v.n, c) {
				return v.fail()
			}
			v.pend[v.n] = c
			v.n++
		}
		if take < need {
			return nil
		}
		v.n = 0
		p = p[take:]
	}
	tail := openTail(p)
	if !utf8.Valid(p[:tail]) {
		return v.fail()
	}
	for _, c := range p[tail:] {
		if v.n == 0 {
			if seqLen(c) == 0 {
				return v.fail()
			}
		} else if !validNext(v.pend[0], v.n, c) {
			return v.fail()
		}
		v.pend[v.n] = c
		v.n++
	}
	return nil
}

// Done reports whether the text ended on a sequence boundary: a text that
// ends in the middle of a character is ErrInvalidUTF8.
func (v *UTF8) Done() error {
	if v.failed || v.n != 0 {
		return v.fail()
	}
	return nil
}

func (v *UTF8) fail() error {
	v.failed = true
	return ErrInvalidUTF8
}

// openTail returns where the incomplete sequence that ends p begins, or
// len(p) when p ends on a boundary (or in an error utf8.Valid will find).
func openTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		c := p[i]
		if c < 0x80 {
			return len(p)
		}
		if c >= 0xC0 {
			if n := int(seqLen(c)); n > len(p)-i {
				return i
			}
			return len(p)
		}
	}
	return len(p)
}

// seqLen returns the length of the sequence that lead byte c starts, or 0 if
// c can never start one (continuation bytes, the overlong leads 0xC0 and
// 0xC1, and 0xF5–0xFF, which would encode beyond U+10FFFF).
func seqLen(c byte) uint8 {
	switch {
	case c < 0x80:
		return 1
	case c < 0xC2:
		return 0
	case c < 0xE0:
		return 2
	case c < 0xF0:
		return 3
	case c < 0xF5:
		return 4
	}
	return 0
}

// validNext reports whether c may follow the i bytes of a sequence led by
// lead. The second byte's range excludes overlong forms (E0, F0),
// surrogates (ED) and code points beyond U+10FFFF (F4) (RFC 3629 §4).
func validNext(lead byte, i uint8, c byte) bool {
	lo, hi := byte(0x80), byte(0xBF)
	if i == 1 {
		switch lead {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
	}
	return lo <= c && c <= hi
}

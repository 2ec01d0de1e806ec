package frame

import "encoding/binary"

// Frame size limits of RFC 6455 §5.2 and §5.5.
const (
	// MaxHeaderSize is the largest header: 2 bytes, 8 of extended length, 4 of mask key.
	MaxHeaderSize = 14
	// MaxControlPayload is the largest payload of a control frame.
	MaxControlPayload = 125
)

// RSV bits as they appear in Header.Rsv (bit 2 is RSV1, used by permessage-deflate).
const (
	Rsv1 uint8 = 0x4
	Rsv2 uint8 = 0x2
	Rsv3 uint8 = 0x1
)

// Header is a decoded frame header. Rsv holds the three RSV bits as a value
// in 0..7 (Rsv1|Rsv2|Rsv3); whether any may be set depends on the
// negotiated extensions, which only the caller knows.
type Header struct {
	Fin    bool
	Rsv    uint8
	Opcode Opcode
	Masked bool
	Mask   [4]byte
	Length uint64
}

// HeaderSize returns the number of bytes AppendHeader writes for h.
func HeaderSize(h Header) int {
	n := 2
	switch {
	case h.Length > 0xFFFF:
		n += 8
	case h.Length > 125:
		n += 2
	}
	if h.Masked {
		n += 4
	}
	return n
}

// NeedHeader returns how many bytes the header that starts b occupies, as far
// as b tells: 2 while fewer than 2 bytes are known, then the exact size. A
// caller that got n == 0 from ParseHeader reads until it has NeedHeader(b).
func NeedHeader(b []byte) int {
	if len(b) < 2 {
		return 2
	}
	n := 2
	switch b[1] & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// ParseHeader decodes the frame header at the start of b. It returns the
// header and its size n. n == 0 with a nil error means b holds only part of
// a header (see NeedHeader); nothing is consumed.
//
// It rejects, with a *ProtocolError carrying close code 1002, what no
// extension can make valid: reserved opcodes, fragmented or oversized control
// frames, and a 64-bit length with the top bit set. Lengths encoded in more
// bytes than needed are accepted: the minimal encoding is a MUST for the
// sender, and rejecting it gains nothing.
func ParseHeader(b []byte) (h Header, n int, err error) {
	n = NeedHeader(b)
	if len(b) < n {
		return Header{}, 0, nil
	}
	b0, b1 := b[0], b[1]
	h.Fin = b0&0x80 != 0
	h.Rsv = (b0 >> 4) & 0x7
	h.Opcode = Opcode(b0 & 0xF)
	h.Masked = b1&0x80 != 0
	// "If an unknown opcode is received, the receiving endpoint MUST _Fail
	// the WebSocket Connection_."
	if !h.Opcode.Valid() {
		return Header{}, 0, ErrReservedOpcode
	}
	p := 2
	switch l := b1 & 0x7F; l {
	case 126:
		h.Length = uint64(binary.BigEndian.Uint16(b[2:]))
		p += 2
	case 127:
		h.Length = binary.BigEndian.Uint64(b[2:])
		p += 8
		// "the most significant bit MUST be 0"
		if h.Length>>63 != 0 {
			return Header{}, 0, ErrLengthOverflow
		}
	default:
		h.Length = uint64(l)
	}
	if h.Opcode.IsControl() {
		// "All control frames MUST have a payload length of 125 bytes or
		// less and MUST NOT be fragmented."
		if h.Length > MaxControlPayload {
			return Header{}, 0, ErrControlTooLong
		}
		if !h.Fin {
			return Header{}, 0, ErrFragmentedControl
		}
	}
	if h.Masked {
		copy(h.Mask[:], b[p:p+4])
	}
	return h, n, nil
}

// AppendHeader appends the wire form of h to dst, with the length in the
// fewest bytes ("the minimal number of bytes MUST be used to encode the
// length"), and returns the extended slice. It does not validate h: encoding
// a frame the peer will reject is the caller's mistake to avoid.
func AppendHeader(dst []byte, h Header) []byte {
	b0 := (h.Rsv&0x7)<<4 | byte(h.Opcode&0xF)
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length > 0xFFFF:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, h.Length)
	case h.Length > 125:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.Length))
	default:
		dst = append(dst, b0, b1|byte(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Mask[:]...)
	}
	return dst
}

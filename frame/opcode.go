package frame

// Opcode is the 4-bit frame type of RFC 6455 §5.2.
type Opcode uint8

// The opcodes defined by RFC 6455 §11.8. 0x3–0x7 and 0xB–0xF are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode: "Control frames are
// identified by opcodes where the most significant bit of the opcode is 1."
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// IsData reports whether op carries message data: continuation, text or binary.
func (op Opcode) IsData() bool { return op <= OpBinary }

// Valid reports whether op is one of the six opcodes RFC 6455 defines.
func (op Opcode) Valid() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// String names the opcode ("text", "ping", ...), for logs.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "reserved(0x" + string("0123456789abcdef"[op&0xF]) + ")"
}

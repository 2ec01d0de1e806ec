package frame_test

import (
	"fmt"

	"github.com/wsengine/ws/frame"
)

func ExampleParseHeader() {
	// A masked "Hello" from RFC 6455 §5.7, arriving in two pieces.
	wire := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	_, n, err := frame.ParseHeader(wire[:3])
	fmt.Println(n, err, "need", frame.NeedHeader(wire[:3]))

	h, n, err := frame.ParseHeader(wire)
	payload := wire[n : n+int(h.Length)]
	frame.Mask(payload, h.Mask, 0)
	fmt.Println(h.Opcode, h.Fin, string(payload), err)
	// Output:
	// 0 <nil> need 6
	// text true Hello <nil>
}

func ExampleAppendHeader() {
	buf := frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpBinary, Length: 256})
	fmt.Printf("% x\n", buf)
	// Output: 82 7e 01 00
}

func ExampleMask() {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	p := []byte("Hello")
	// Mask in two pieces; the returned position carries the key phase.
	pos := frame.Mask(p[:2], key, 0)
	frame.Mask(p[2:], key, pos)
	fmt.Printf("% x\n", p)
	// Output: 7f 9f 4d 51 58
}

func ExampleParseClose() {
	code, reason, err := frame.ParseClose([]byte{0x03, 0xE9, 'b', 'y', 'e'})
	fmt.Println(code, reason, err)
	code, _, _ = frame.ParseClose(nil)
	fmt.Println(code)
	_, _, err = frame.ParseClose([]byte{0x03})
	fmt.Println(err)
	// Output:
	// 1001 (going away) bye <nil>
	// 1005 (no status)
	// websocket: close payload of one byte (close 1002 (protocol error))
}

func ExampleAppendClose() {
	p, err := frame.AppendClose(nil, frame.CloseNormal, "done")
	fmt.Printf("% x %v\n", p, err)
	_, err = frame.AppendClose(nil, frame.CloseAbnormal, "")
	fmt.Println(err)
	// Output:
	// 03 e8 64 6f 6e 65 <nil>
	// websocket: close code may not be sent on the wire
}

func ExampleUTF8() {
	var v frame.UTF8
	// "€" is E2 82 AC; the split inside it is fine.
	fmt.Println(v.Write([]byte("price: \xE2\x82")), v.Write([]byte("\xAC")), v.Done())
	v.Reset()
	// F4 90 can never start valid UTF-8: the failure is immediate.
	fmt.Println(v.Write([]byte{0xF4, 0x90}))
	// Output:
	// <nil> <nil> <nil>
	// websocket: text is not valid UTF-8 (close 1007 (invalid payload data))
}

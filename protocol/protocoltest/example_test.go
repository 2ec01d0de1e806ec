package protocoltest_test

import (
	"fmt"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// A 20 KiB frame read in two parts arrives as two data events; merged, it
// is one, however the bytes were split.
func ExampleMergePieces() {
	server, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), protocoltest.Epoch)
	wire := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, 0, true, make([]byte, 20<<10))
	var evs []protocol.Event
	for _, part := range [][]byte{wire[:10<<10], wire[10<<10:]} {
		server.Receive(protocoltest.Epoch, part)
		_, got := protocoltest.Take(server)
		evs = append(evs, got...)
	}
	fmt.Println(len(evs), "events")
	for _, ev := range protocoltest.MergePieces(evs) {
		fmt.Println(ev.Kind, ev.Opcode, len(ev.Data), "bytes, fin", ev.Fin)
	}
	// Output:
	// 2 events
	// data binary 20480 bytes, fin true
}

// A 10 KiB message in frames of 4 KiB: the first carries the opcode, the
// others are continuations, and the last ends the message.
func ExampleEncodeFragments() {
	server, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), protocoltest.Epoch)
	wire := protocoltest.EncodeFragments(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpText, make([]byte, 10<<10), 4<<10)
	server.Receive(protocoltest.Epoch, wire)
	_, evs := protocoltest.Take(server)
	for _, ev := range protocoltest.MergePieces(evs) {
		fmt.Println(ev.Kind, ev.Opcode, len(ev.Data), "bytes, fin", ev.Fin)
	}
	// Output:
	// data text 4096 bytes, fin false
	// data continuation 4096 bytes, fin false
	// data continuation 2048 bytes, fin true
}

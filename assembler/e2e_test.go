package assembler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// The P1 scenario end to end: a server sends a message and a close frame
// in one write; the client's queue delivers the message, then the close
// status with code 1000.
func TestMessageThenCloseThroughEngine(t *testing.T) {
	cfg := protocol.DefaultConfig()
	cfg.Rand = protocoltest.KeyReader{1, 2, 3, 4}
	server, _ := protocol.NewEstablished(protocol.RoleServer, cfg, protocoltest.Epoch)
	client, _ := protocol.NewEstablished(protocol.RoleClient, cfg, protocoltest.Epoch)
	server.SendMessage(protocoltest.Epoch, frame.OpText, []byte("goodbye message"))
	server.Close(protocoltest.Epoch, frame.CloseNormal, "done")
	oneWrite := server.Outgoing() // both frames, one segment

	q := assembler.New(assembler.Config{})
	if err := client.Receive(protocoltest.Epoch, oneWrite); err != nil {
		t.Fatal(err)
	}
	client.ReceiveEOF(protocoltest.Epoch) // the server closes TCP at once
	for ev := client.NextEvent(); ev.Kind != protocol.EventNone; ev = client.NextEvent() {
		if err := q.PushEvent(ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind == protocol.EventClosed {
			q.Close(client.CloseStatus().Err)
		}
	}
	m, err := q.Next(context.Background())
	if err != nil || string(m.Data) != "goodbye message" || m.Opcode != frame.OpText {
		t.Fatalf("got %q %v", m.Data, err)
	}
	_, err = q.Next(context.Background())
	var ce *protocol.CloseError
	if !errors.As(err, &ce) || ce.Code != frame.CloseNormal || ce.Reason != "done" {
		t.Fatalf("close error %v", err)
	}
	if !errors.Is(err, &protocol.CloseError{Code: frame.CloseNormal}) {
		t.Fatalf("%v does not match 1000", err)
	}
}

package protocol_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

var (
	t0  = protocoltest.Epoch
	key = [4]byte{0x37, 0xfa, 0x21, 0x3d}
)

func testConfig() protocol.Config {
	cfg := protocol.DefaultConfig()
	cfg.Rand = protocoltest.KeyReader(key)
	return cfg
}

func established(t testing.TB, role protocol.Role, cfg protocol.Config) *protocol.Conn {
	t.Helper()
	c, err := protocol.NewEstablished(role, cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wireFrame encodes a frame as the given role would send it: masked with
// key from a client, unmasked from a server.
func wireFrame(from protocol.Role, op frame.Opcode, fin bool, payload []byte) []byte {
	return wireFrameRsv(from, op, 0, fin, payload)
}

func wireFrameRsv(from protocol.Role, op frame.Opcode, rsv uint8, fin bool, payload []byte) []byte {
	return protocoltest.EncodeFrame(from, key, op, rsv, fin, payload)
}

func closePayload(code frame.CloseCode, reason string) []byte {
	p, err := frame.AppendClose(nil, code, reason)
	if err != nil {
		panic(err)
	}
	return p
}

// drain takes every output of c: the outgoing bytes and the events, with
// Data copied.
func drain(c *protocol.Conn) ([]byte, []protocol.Event) { return protocoltest.Take(c) }

func kinds(evs []protocol.Event) []protocol.EventKind {
	k := make([]protocol.EventKind, len(evs))
	for i, ev := range evs {
		k[i] = ev.Kind
	}
	return k
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func at(d time.Duration) time.Time { return t0.Add(d) }

// drainRound takes c's outputs like drain but does not go on with input
// the engine kept (InputPending), for tests that step through it.
func drainRound(c *protocol.Conn) ([]byte, []protocol.Event) {
	out := bytes.Clone(c.Outgoing())
	c.Advance(len(out))
	var evs []protocol.Event
	for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
		ev.Data = bytes.Clone(ev.Data)
		evs = append(evs, ev)
	}
	return out, evs
}

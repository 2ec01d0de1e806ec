package loop_test

import (
	"io"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Echo in steady state allocates nothing in the process: the loop's read,
// the engine, OnMessage, Send's framing into a pooled buffer and the
// write (the raw client allocates nothing either). Without compression,
// 16 B to 64 KiB, in one frame or in 4 KiB fragments as gorilla's writer
// sends a large message (gathered in pooled buffers that grow through
// the pool's classes).
func TestSteadyStateAllocations(t *testing.T) {
	_, url, _ := serve(t, loop.Options{OnMessage: echo, DisableCompression: true})
	nc, br := rawClient(t, url, "/ws")
	for _, tt := range []struct{ size, fragment int }{
		{16, 16}, {1 << 10, 1 << 10}, {16 << 10, 16 << 10}, {64 << 10, 64 << 10},
		{16 << 10, 4 << 10}, {64 << 10, 4 << 10}, {200 << 10, 4 << 10}, {200 << 10, 200 << 10},
	} {
		size := tt.size
		m := protocoltest.EncodeFragments(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, make([]byte, size), tt.fragment)
		want := len(protocoltest.EncodeFrame(protocol.RoleServer, [4]byte{}, frame.OpBinary, 0, true, make([]byte, size)))
		reply := make([]byte, want)
		round := func() {
			if _, err := nc.Write(m); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(br, reply); err != nil {
				t.Fatal(err)
			}
		}
		for range 20 {
			round()
		}
		allocs := testing.AllocsPerRun(200, round)
		if loop.RaceEnabled {
			t.Logf("%d B in %d B frames: %v allocations per echo under -race (its sync.Pool drops buffers; not checked)", size, tt.fragment, allocs)
			continue
		}
		if allocs != 0 {
			t.Errorf("%d B in %d B frames: %v allocations per echo", size, tt.fragment, allocs)
		}
	}
}

// A keepalive round on an idle connection (the loop's ping at the
// deadline, the peer's pong read and matched) allocates nothing in steady
// state either: a broadcast server's members that never speak are pinged
// every PingInterval, and at 10,000 members that would be garbage per
// interval in proportion to them.
func TestKeepaliveAllocations(t *testing.T) {
	cfg := protocol.DefaultConfig()
	cfg.PingInterval = 5 * time.Millisecond
	_, url, _ := serve(t, loop.Options{Config: &cfg, DisableCompression: true})
	nc, br := rawClient(t, url, "/ws")
	var hdr [2]byte
	var pong [2 + 4 + frame.MaxControlPayload]byte
	round := func() {
		// The server's ping, unmasked; the pong echoes its payload under a
		// zero mask.
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if frame.Opcode(hdr[0]&0x0f) != frame.OpPing || n > frame.MaxControlPayload {
			t.Fatalf("a % x frame, not a ping", hdr)
		}
		pong[0], pong[1] = 0x80|byte(frame.OpPong), 0x80|byte(n)
		if _, err := io.ReadFull(br, pong[6:6+n]); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(pong[:6+n]); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		round()
	}
	allocs := testing.AllocsPerRun(100, round)
	if loop.RaceEnabled {
		t.Logf("%v allocations per keepalive round under -race (not checked)", allocs)
		return
	}
	if allocs != 0 {
		t.Errorf("%v allocations per keepalive round", allocs)
	}
}

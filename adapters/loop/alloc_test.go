package loop_test

import (
	"io"
	"testing"

	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Echo in steady state allocates nothing in the process: the loop's read,
// the engine, OnMessage, Send's framing into a pooled buffer and the
// write (the raw client allocates nothing either). Without compression,
// 16 B to 64 KiB.
func TestSteadyStateAllocations(t *testing.T) {
	_, url, _ := serve(t, loop.Options{OnMessage: echo, DisableCompression: true})
	nc, br := rawClient(t, url, "/ws")
	for _, size := range []int{16, 1 << 10, 16 << 10, 64 << 10} {
		m := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, 0, true, make([]byte, size))
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
		if raceEnabled {
			t.Logf("%d B: %v allocations per echo under -race (its sync.Pool drops buffers; not checked)", size, allocs)
			continue
		}
		if allocs != 0 {
			t.Errorf("%d B: %v allocations per echo", size, allocs)
		}
	}
}

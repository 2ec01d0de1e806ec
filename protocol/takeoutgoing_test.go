package protocol_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Taken output belongs to the caller: later sends never write into it, and
// a spare handed back carries the next output.
func TestTakeOutgoing(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	if got := c.TakeOutgoing(nil); got != nil {
		t.Fatalf("nothing queued: TakeOutgoing = %x, want nil", got)
	}
	frameA := wireFrame(protocol.RoleServer, frame.OpText, true, []byte("first"))
	frameB := wireFrame(protocol.RoleServer, frame.OpBinary, true, []byte{1, 2, 3})
	frameC := wireFrame(protocol.RoleServer, frame.OpText, true, []byte("third, longer than the others"))

	c.SendMessage(t0, frame.OpText, []byte("first"))
	a := c.TakeOutgoing(nil)
	if len(c.Outgoing()) != 0 {
		t.Fatalf("Outgoing after TakeOutgoing: %x", c.Outgoing())
	}
	c.SendMessage(t0, frame.OpBinary, []byte{1, 2, 3})
	b := c.TakeOutgoing(nil)
	// a was "written": hand it back. The engine writes frame C into it.
	c.SendMessage(t0, frame.OpText, []byte("third, longer than the others"))
	cc := c.TakeOutgoing(a)
	for _, tc := range []struct {
		name      string
		got, want []byte
	}{{"a", a[:len(frameA)], frameA}, {"b", b, frameB}, {"c", cc, frameC}} {
		if diff := cmp.Diff(tc.want, tc.got); diff != "" {
			t.Errorf("taken output %s (-want +got):\n%s", tc.name, diff)
		}
	}
	// b is untouched by the later sends.
	if !bytes.Equal(b, frameB) {
		t.Errorf("b changed to %x", b)
	}
	// A partial Advance before taking: only the rest is taken.
	c.SendMessage(t0, frame.OpText, []byte("first"))
	c.Advance(2)
	if diff := cmp.Diff(frameA[2:], c.TakeOutgoing(b)); diff != "" {
		t.Errorf("after Advance(2) (-want +got):\n%s", diff)
	}
}

// Two buffers handed back and forth: sending and taking allocates nothing.
func TestTakeOutgoingZeroAllocs(t *testing.T) {
	c := established(t, protocol.RoleServer, testConfig())
	msg := bytes.Repeat([]byte("x"), 1000)
	var spare []byte
	send := func() {
		c.SendMessage(t0, frame.OpText, msg)
		w := c.TakeOutgoing(spare)
		if len(w) != len(msg)+4 {
			t.Fatalf("took %d bytes", len(w))
		}
		spare = w[:0]
	}
	send()
	send()
	if allocs := testing.AllocsPerRun(100, send); allocs != 0 {
		t.Errorf("%v allocs per send", allocs)
	}
}

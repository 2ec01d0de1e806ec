package assembler_test

import (
	"testing"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

func dataEvent(op frame.Opcode, fin bool, data string) protocol.Event {
	return protocol.Event{Kind: protocol.EventData, Opcode: op, Fin: fin, Data: []byte(data), FrameLength: uint64(len(data))}
}

// A message in one event is that event's bytes; one in several is gathered
// in the buffer the driver gives when it begins, and handed back with it.
func TestJoiner(t *testing.T) {
	tests := []struct {
		name     string
		events   []protocol.Event
		op       frame.Opcode
		want     string
		gathered bool
	}{
		{"one event", []protocol.Event{dataEvent(frame.OpText, true, "hello")}, frame.OpText, "hello", false},
		{"fragments", []protocol.Event{dataEvent(frame.OpBinary, false, "he"), dataEvent(frame.OpContinuation, false, ""), dataEvent(frame.OpContinuation, true, "llo")}, frame.OpBinary, "hello", true},
		{"a frame in pieces", []protocol.Event{{Kind: protocol.EventData, Opcode: frame.OpText, More: true, Data: []byte("hel"), FrameLength: 5}, {Kind: protocol.EventData, Opcode: frame.OpContinuation, Fin: true, Data: []byte("lo"), FrameLength: 5}}, frame.OpText, "hello", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j assembler.Joiner
			spare := make([]byte, 0, 64)
			hints := []int{}
			newBuf := func(hint int) []byte { hints = append(hints, hint); return spare }
			for i, ev := range tt.events {
				op, p, gathered, done := j.Add(ev, newBuf)
				if last := i == len(tt.events)-1; done != last {
					t.Fatalf("event %d: done %v", i, done)
				}
				if !done {
					if !j.Gathering() {
						t.Fatalf("event %d: not gathering", i)
					}
					continue
				}
				if op != tt.op || string(p) != tt.want || gathered != tt.gathered || j.Gathering() {
					t.Fatalf("got %v %q gathered %v (gathering %v)", op, p, gathered, j.Gathering())
				}
				if gathered && &p[:1][0] != &spare[:1][0] {
					t.Fatal("not gathered in the buffer given")
				}
				if !gathered && &p[0] != &ev.Data[0] {
					t.Fatal("a message in one event was copied")
				}
			}
			if wantHints := map[bool]int{true: 1, false: 0}[tt.gathered]; len(hints) != wantHints {
				t.Fatalf("asked for %d buffers (hints %v)", len(hints), hints)
			}
		})
	}
}

// Reset drops a message cut short and returns its buffer; without a buffer
// source the Joiner allocates its own.
func TestJoinerReset(t *testing.T) {
	var j assembler.Joiner
	if b := j.Reset(); b != nil {
		t.Fatalf("Reset of an idle Joiner returned %q", b)
	}
	j.Add(dataEvent(frame.OpText, false, "abc"), nil)
	if b := j.Reset(); string(b) != "abc" || j.Gathering() {
		t.Fatalf("Reset returned %q, gathering %v", b, j.Gathering())
	}
	if op, p, gathered, done := j.Add(dataEvent(frame.OpBinary, true, "x"), nil); !done || gathered || op != frame.OpBinary || string(p) != "x" {
		t.Fatalf("after Reset: %v %q %v %v", op, p, gathered, done)
	}
}

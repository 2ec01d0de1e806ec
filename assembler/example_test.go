package assembler_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// A message and the close arrive together: the message is still delivered,
// then the close error.
func ExampleQueue_Next() {
	q := assembler.New(assembler.Config{})
	q.Push(frame.OpText, []byte("hello"), true)
	q.Close(errors.New("closed 1000 (normal)"))

	ctx := context.Background()
	m, err := q.Next(ctx)
	fmt.Println(m.Opcode, string(m.Data), err)
	_, err = q.Next(ctx)
	fmt.Println(err)
	// Output:
	// text hello <nil>
	// closed 1000 (normal)
}

// A consumer that keeps one buffer: each message is appended to it, and
// the queue keeps its own buffer for the next message, so neither
// allocates once grown.
func ExampleQueue_NextAppend() {
	q := assembler.New(assembler.Config{})
	q.Push(frame.OpText, []byte("first"), true)
	q.Push(frame.OpText, []byte("second"), true)
	q.Close(nil)

	ctx := context.Background()
	var buf []byte
	for {
		m, err := q.NextAppend(ctx, buf[:0])
		if err != nil {
			fmt.Println(err)
			break
		}
		buf = m.Data // valid until the next NextAppend into buf
		fmt.Println(m.Opcode, string(m.Data))
	}
	// Output:
	// text first
	// text second
	// assembler: queue closed
}

func ExampleQueue_NextReader() {
	q := assembler.New(assembler.Config{})
	q.Push(frame.OpBinary, []byte("a long "), false)
	q.Push(frame.OpContinuation, []byte("message"), true)

	op, r, _ := q.NextReader(context.Background())
	b, err := io.ReadAll(r)
	fmt.Println(op, string(b), err)
	// Output: binary a long message <nil>
}

func ExampleQueue_TryNext() {
	q := assembler.New(assembler.Config{})
	_, ok, err := q.TryNext()
	fmt.Println(ok, err)
	q.Push(frame.OpText, []byte("ready"), true)
	m, ok, err := q.TryNext()
	fmt.Println(string(m.Data), ok, err)
	// Output:
	// false <nil>
	// ready true <nil>
}

// The producer stops reading while Paused and waits on Resumed.
func ExampleQueue_Paused() {
	q := assembler.New(assembler.Config{HighWater: 100, LowWater: 10})
	q.Push(frame.OpBinary, make([]byte, 100), true)
	fmt.Println("paused:", q.Paused())
	q.TryNext()
	<-q.Resumed()
	fmt.Println("paused:", q.Paused())
	// Output:
	// paused: true
	// paused: false
}

func ExampleQueue_PushEvent() {
	q := assembler.New(assembler.Config{})
	// Events from protocol.Conn.NextEvent go straight in; non-data events
	// are ignored.
	_ = q.PushEvent
	fmt.Println(q.Len())
	// Output: 0
}

// exampleBuffers lends a Joiner its buffers; a driver's would pool them.
type exampleBuffers struct{}

func (exampleBuffers) Get(size int) []byte { return make([]byte, 0, max(size, 4096)) }
func (exampleBuffers) Put([]byte)          {}

// A driver that hands each message to a callback: the Joiner gathers a
// fragmented message in buffers the driver lends, and gives the last back
// with the message.
func ExampleJoiner() {
	var j assembler.Joiner
	pool := exampleBuffers{}
	for _, ev := range []protocol.Event{
		{Kind: protocol.EventData, Opcode: frame.OpText, Fin: true, Data: []byte("one piece")},
		{Kind: protocol.EventData, Opcode: frame.OpText, Data: []byte("two ")},
		{Kind: protocol.EventData, Opcode: frame.OpContinuation, Fin: true, Data: []byte("pieces")},
	} {
		if op, p, gathered, done := j.Add(&ev, pool); done {
			fmt.Println(op, string(p), gathered)
		}
	}
	// Output:
	// text one piece false
	// text two pieces true
}

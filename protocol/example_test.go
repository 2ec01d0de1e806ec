package protocol_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// The drive loop: after every input or command, write Outgoing, take the
// events, close the transport if asked, and come back at Deadline. Here the
// "transport" is a byte slice and the clock is fake.
func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := protocol.DefaultConfig()
	server, _ := protocol.NewEstablished(protocol.RoleServer, cfg, now)

	// Bytes from a client: a masked "Hello" and a close frame, in one read.
	wire := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
		0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8}
	if err := server.Receive(now, wire); err != nil {
		fmt.Println("protocol error:", err)
	}

	// 1. Outgoing: the engine's reply to the close frame.
	fmt.Printf("write % x\n", server.Outgoing())
	server.Advance(len(server.Outgoing()))
	// 2. Events, in order: the message comes before the close.
	for ev := server.NextEvent(); ev.Kind != protocol.EventNone; ev = server.NextEvent() {
		switch ev.Kind {
		case protocol.EventData:
			fmt.Printf("data %v fin=%v %q\n", ev.Opcode, ev.Fin, ev.Data)
		case protocol.EventClose:
			fmt.Println("close frame", ev.Code)
		case protocol.EventClosed:
			fmt.Println("closed:", server.CloseStatus().Err)
		}
	}
	// 3. The server closes the transport first.
	fmt.Println("close transport:", server.ShouldCloseTransport())
	// 4. No timer left.
	fmt.Println("deadline:", server.Deadline().IsZero())
	// Output:
	// write 88 02 03 e8
	// data text fin=true "Hello"
	// close frame 1000 (normal)
	// closed: websocket: closed 1000 (normal): received 1000 (normal), then sent 1000 (normal)
	// close transport: true
	// deadline: true
}

// Keepalive with a fake clock: jump to the deadline, a ping goes out; no
// pong by the next deadline fails the connection with 1011.
func ExampleConn_HandleTimeout() {
	now := protocoltest.Epoch
	c, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), now)

	c.HandleTimeout(c.Deadline())
	h, _, _ := frame.ParseHeader(c.Outgoing())
	c.Advance(len(c.Outgoing())) // written: then the next deadline is the pong's
	fmt.Println("sent", h.Opcode, "after", c.Deadline().Sub(now)-protocol.DefaultPongTimeout)

	c.HandleTimeout(c.Deadline())
	fmt.Println(c.CloseStatus().Err)
	// Output:
	// sent ping after 20s
	// websocket: closed 1011 (internal error) "keepalive ping timeout": sent 1011 (internal error) "keepalive ping timeout"; no close frame received: keepalive ping timeout
}

func ExampleNewEstablished() {
	c, err := protocol.NewEstablished(protocol.RoleClient, protocol.DefaultConfig(), time.Now())
	fmt.Println(c.State(), c.Role(), err)
	// Output: open client <nil>
}

// A driver that reads the transport straight into the engine's buffer,
// with no read buffer of its own and no copy. Here the transport is a
// strings.Reader.
func ExampleConn_ReadBuffer() {
	server, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), protocoltest.Epoch)
	transport := strings.NewReader("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")
	for {
		n, err := transport.Read(server.ReadBuffer(4096))
		server.ReceiveBuffered(protocoltest.Epoch, n)
		for ev := server.NextEvent(); ev.Kind != protocol.EventNone; ev = server.NextEvent() {
			fmt.Printf("%v %q\n", ev.Kind, ev.Data)
		}
		if err != nil {
			break
		}
	}
	// Output: data "Hello"
}

// A driver that pools its buffers lets the read buffer grow through the
// pool: here a free list of one. After a message the driver hands the
// buffer back (SwapReadBuffer), as a connection going idle would, and the
// next read takes it from the pool again.
func ExampleConn_ReadBufferFrom() {
	server, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), protocoltest.Epoch)
	pool := &freeList{}
	for _, msg := range []string{"Hello", "again"} {
		wire := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpText, 0, true, []byte(msg))
		n := copy(server.ReadBufferFrom(pool, 4096), wire)
		server.ReceiveBuffered(protocoltest.Epoch, n)
		for ev := server.NextEvent(); ev.Kind != protocol.EventNone; ev = server.NextEvent() {
			fmt.Printf("%v %q\n", ev.Kind, ev.Data)
		}
		if idle, ok := server.SwapReadBuffer(nil); ok {
			pool.Put(idle)
		}
	}
	fmt.Println("buffers made:", pool.made)
	// Output:
	// data "Hello"
	// data "again"
	// buffers made: 1
}

// freeList is the simplest protocol.Buffers: one buffer kept.
type freeList struct {
	kept []byte
	made int
}

func (f *freeList) Get(size int) []byte {
	if cap(f.kept) >= size {
		b := f.kept
		f.kept = nil
		return b
	}
	f.made++
	return make([]byte, 0, size)
}

func (f *freeList) Put(b []byte) { f.kept = b[:0] }

// A writer goroutine takes the engine's output instead of copying it, and
// hands the written buffer back for the next output: two buffers, no copy.
func ExampleConn_TakeOutgoing() {
	c, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), protocoltest.Epoch)
	var transport bytes.Buffer
	var spare []byte
	for _, msg := range []string{"one", "two"} {
		c.SendMessage(protocoltest.Epoch, frame.OpText, []byte(msg)) // under the driver's lock
		w := c.TakeOutgoing(spare)                                   // under the lock
		transport.Write(w)                                           // without it
		spare = w[:0]
	}
	fmt.Printf("% x\n", transport.Bytes())
	// Output: 81 03 6f 6e 65 81 03 74 77 6f
}

// A driver that pools write buffers takes the engine's while it is idle; a
// prepared message then goes out from the frame it shares with every other
// connection, and the driver lends a buffer only when more output queues
// behind it.
func ExampleConn_OutputShared() {
	m, _ := protocol.NewPreparedMessage(frame.OpText, []byte("news"))
	c, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), protocoltest.Epoch)
	c.SwapWriteBuffer(nil) // idle: no buffer
	c.SendPrepared(protocoltest.Epoch, m)
	fmt.Println(c.OutputShared(), len(c.Outgoing()))
	if c.OutputShared() {
		c.SwapWriteBuffer(make([]byte, 0, 64)) // the frame is copied into it
	}
	c.SendMessage(protocoltest.Epoch, frame.OpText, []byte("more"))
	fmt.Println(c.OutputShared(), len(c.Outgoing()))
	// Output:
	// true 6
	// false 12
}

// A WebSocket over HTTP/2 (RFC 8441): the handshake is HTTP/2 HEADERS, so
// the engines hand it over as values; the HTTP/2 layer (net/http) sends
// them, and the stream then carries the frames.
func ExampleConn_ReceiveResponse() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client, _ := protocol.NewClient(protocol.DefaultConfig(), protocol.ClientOptions{
		URL: "wss://example.com/chat", Subprotocols: []string{"chat"}, HTTP2: true}, now)
	req := client.Request() // the extended CONNECT to send
	fmt.Println(req.Method, req.URL, req.Header.Get(protocol.ProtocolHeader), len(client.Outgoing()))

	// What net/http's HTTP/2 server hands a handler for it.
	seen := req.Clone(req.Context())
	seen.RequestURI = req.URL.RequestURI()
	server, _ := protocol.NewServerFromRequest(protocol.DefaultConfig(),
		protocol.ServerOptions{Subprotocols: []string{"chat"}}, seen, now)
	answer := server.Response() // the HEADERS to send back
	fmt.Println(answer.StatusCode, answer.Header.Get("Sec-WebSocket-Protocol"), len(server.Outgoing()))

	fmt.Println(client.ReceiveResponse(now, answer, nil), client.State(), client.Subprotocol())
	// Output:
	// CONNECT https://example.com/chat websocket 0
	// 200 chat 0
	// <nil> open chat
}

// A driver that writes without holding the engine: it takes the output
// (TakeOutgoing), writes it, and reports what went out (Wrote). Output that
// waits with none of it written for WriteTimeout ends the connection: the
// peer stopped reading.
func ExampleConn_Wrote() {
	now := protocoltest.Epoch
	c, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), now)
	c.SendMessage(now, frame.OpText, []byte("hello"))
	out := c.TakeOutgoing(nil)
	fmt.Println("taken", len(out), "unsent", c.UnsentOutput())
	c.Wrote(len(out)) // the socket took it all
	fmt.Println("unsent", c.UnsentOutput())

	// A peer that never reads: the next message stays unwritten.
	c.SendMessage(now, frame.OpText, []byte("again"))
	c.TakeOutgoing(nil)
	for c.State() != protocol.StateClosed {
		c.HandleTimeout(c.Deadline())
	}
	fmt.Println(c.CloseStatus().Err)
	// Output:
	// taken 7 unsent 7
	// unsent 0
	// websocket: closed 1006 (abnormal closure): no close frame received or sent: write timeout: the peer stopped reading
}

// Routing before the handshake: WebSocket requests to the engine, the rest
// to ordinary pages.
func ExampleIsUpgradeRequest() {
	ws := httptest.NewRequest("GET", "/chat", nil)
	ws.Header.Set("Connection", "keep-alive, Upgrade")
	ws.Header.Set("Upgrade", "WebSocket")
	page := httptest.NewRequest("GET", "/", nil)
	fmt.Println(protocol.IsUpgradeRequest(ws), protocol.IsUpgradeRequest(page))
	// Output: true false
}

// A driver with an output high water mark reads only while HoldInput says
// so: a peer that sends faster than it takes the replies waits in TCP.
func ExampleConn_HoldInput() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	server, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), now)
	server.SetOutputHighWater(1 << 10)

	server.SendMessage(now, frame.OpBinary, make([]byte, 2000)) // a reply the peer has not taken
	fmt.Println("held:", server.HoldInput(now), server.UnsentOutput())
	server.Advance(1500) // the socket took most of it
	fmt.Println("held:", server.HoldInput(now), server.UnsentOutput())
	server.Advance(300) // down to a quarter of the mark: read again
	fmt.Println("held:", server.HoldInput(now), server.UnsentOutput())
	// Output:
	// held: true 2004
	// held: true 504
	// held: false 204
}

// The end of the transport: after the close handshake the server writes
// its close frame, half-closes and reads until the client's EOF, then
// closes; had the EOF not come, Deadline would have ended the wait.
func ExampleConn_EndTransport() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	server, _ := protocol.NewEstablished(protocol.RoleServer, protocol.DefaultConfig(), now)
	// A client's close frame (masked, code 1000).
	server.Receive(now, []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8})
	for server.NextEvent().Kind != protocol.EventNone {
	}
	fmt.Println("should close:", server.ShouldCloseTransport())
	fmt.Println("before writing:", server.EndTransport(now, true))
	server.Advance(len(server.Outgoing())) // the close frame is written
	fmt.Println("written:", server.EndTransport(now, true), "until", server.Deadline().Sub(now))
	fmt.Println("lingering:", server.Lingering())
	server.ReceiveEOF(now.Add(time.Millisecond))
	fmt.Println("EOF:", server.ReceivedEOF())
	fmt.Println("the client's EOF:", server.EndTransport(now.Add(time.Millisecond), true))
	// Output:
	// should close: true
	// before writing: keep
	// written: half-close until 10s
	// lingering: true
	// EOF: true
	// the client's EOF: close
}

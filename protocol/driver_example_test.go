package protocol_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// handlers is what an application gives the driver below: called on the
// driver's goroutine, the engine's only owner, so they may call the
// engine's commands (SendMessage, Close) directly.
type handlers struct {
	open    func(eng *protocol.Conn, now time.Time)
	message func(eng *protocol.Conn, now time.Time, op frame.Opcode, p []byte)
}

// drive runs one connection to its end from one goroutine, in about 50
// lines: a whole driver. It moves bytes and time and decides nothing. The
// engine says what to write, when to read, when the transport ends and how
// (the close sequence with its linger), and when its next deadline is,
// which is the socket's read and write deadline: the one timer. A
// blocking write that reaches the deadline hands the time to the engine,
// whose write watchdog fails a peer that takes nothing (ErrWriteTimeout).
func drive(nc *net.TCPConn, eng *protocol.Conn, h handlers) protocol.CloseStatus {
	defer nc.Close()
	var join assembler.Joiner // a message in fragments, whole
	buf := make([]byte, 4096)
	for {
		// 1. Write what the engine has to send, until its deadline.
		if out := eng.Outgoing(); len(out) > 0 {
			nc.SetWriteDeadline(eng.Deadline()) // zero: none
			n, err := nc.Write(out)
			eng.Advance(n)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				eng.HandleTimeout(time.Now()) // the watchdog, or a keepalive ping
			case err != nil:
				eng.Abort(time.Now(), err)
			}
		}
		now := time.Now()
		// 2. Take the events; the handlers' commands queue output.
		for ev := eng.NextEvent(); ev.Kind != protocol.EventNone; ev = eng.NextEvent() {
			switch ev.Kind {
			case protocol.EventOpen:
				h.open(eng, now)
			case protocol.EventData:
				if op, p, _, done := join.Add(&ev, nil); done {
					h.message(eng, now, op, p)
				}
			}
		}
		// 3. The close sequence: close, wait for the output to be written,
		// or half-close and linger until the peer's EOF or the deadline.
		if eng.ShouldCloseTransport() {
			switch eng.EndTransport(now, true) {
			case protocol.CloseTransportNow:
				return eng.CloseStatus()
			case protocol.HalfCloseTransport:
				nc.CloseWrite()
			}
		}
		if len(eng.Outgoing()) > 0 {
			continue
		}
		// 4. Read, until the deadline: what the engine kept behind the
		// last message first.
		if eng.InputPending() {
			eng.Receive(now, nil)
			continue
		}
		nc.SetReadDeadline(eng.Deadline())
		n, err := nc.Read(buf)
		now = time.Now()
		switch {
		case n > 0 && eng.State() != protocol.StateClosed: // lingering drops
			eng.Receive(now, buf[:n])
		case errors.Is(err, os.ErrDeadlineExceeded):
			eng.HandleTimeout(now)
		case err != nil:
			eng.ReceiveEOF(now)
		}
	}
}

// A driver needs nothing of package adapters: drive, above, runs a client
// and a server over a loopback socket, each from one goroutine, with every
// rule (keepalive, the close handshake and the transport's end, the
// write watchdog) applied by the engine.
func Example_driver() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	cfg := protocol.DefaultConfig()

	served := make(chan protocol.CloseStatus)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(served)
			return
		}
		server, _ := protocol.NewServer(cfg, protocol.ServerOptions{}, time.Now())
		served <- drive(nc.(*net.TCPConn), server, handlers{
			open: func(*protocol.Conn, time.Time) {},
			message: func(eng *protocol.Conn, now time.Time, op frame.Opcode, p []byte) {
				eng.SendMessage(now, op, p) // echo
			},
		})
	}()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := protocol.NewClient(cfg, protocol.ClientOptions{URL: "ws://" + ln.Addr().String() + "/"}, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	status := drive(nc.(*net.TCPConn), client, handlers{
		open: func(eng *protocol.Conn, now time.Time) {
			eng.SendMessage(now, frame.OpText, []byte("hello"))
		},
		message: func(eng *protocol.Conn, now time.Time, op frame.Opcode, p []byte) {
			fmt.Printf("client got %v %q\n", op, p)
			eng.Close(now, frame.CloseNormal, "bye")
		},
	})
	fmt.Println("client:", status.Err)
	fmt.Println("server:", (<-served).Err)
	// Output:
	// client got text "hello"
	// client: websocket: closed 1000 (normal): sent 1000 (normal) "bye", then received 1000 (normal)
	// server: websocket: closed 1000 (normal) "bye": received 1000 (normal) "bye", then sent 1000 (normal)
}

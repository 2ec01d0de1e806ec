package protocol_test

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// TestMinimalDriverAgainstHostilePeers runs Example_driver's drive, a
// driver that only moves bytes and time, as a server against peers that
// misbehave after the handshake: each ends as the engine's rules say,
// within its timeout, although drive has no rule of its own.
func TestMinimalDriverAgainstHostilePeers(t *testing.T) {
	cfg := protocol.DefaultConfig()
	cfg.PingInterval = 50 * time.Millisecond
	cfg.PongTimeout = 100 * time.Millisecond
	cfg.CloseTimeout = 100 * time.Millisecond
	cfg.WriteTimeout = 200 * time.Millisecond
	big := make([]byte, 1<<20)
	for _, tc := range []struct {
		name string
		// open is the server's application at the open; peer is what the
		// client does after the handshake.
		open  func(eng *protocol.Conn, now time.Time)
		peer  func(nc net.Conn)
		slow  bool // keepalive slower than the write watchdog
		code  frame.CloseCode
		cause error
	}{
		{
			name:  "never answers a ping",
			open:  func(*protocol.Conn, time.Time) {},
			peer:  func(net.Conn) {},
			code:  frame.CloseInternalError,
			cause: protocol.ErrKeepaliveTimeout,
		},
		{
			name:  "stops mid-frame",
			open:  func(*protocol.Conn, time.Time) {},
			peer:  func(nc net.Conn) { nc.Write([]byte{0x81, 0x85, 1, 2, 3}) },
			code:  frame.CloseInternalError,
			cause: protocol.ErrKeepaliveTimeout,
		},
		{
			name: "never answers the close",
			open: func(eng *protocol.Conn, now time.Time) {
				eng.Close(now, frame.CloseGoingAway, "")
			},
			peer:  func(net.Conn) {},
			code:  frame.CloseAbnormal, // no close frame came
			cause: protocol.ErrCloseTimeout,
		},
		{
			name: "never reads",
			open: func(eng *protocol.Conn, now time.Time) {
				for range 8 {
					eng.SendMessage(now, frame.OpBinary, big)
				}
			},
			peer:  func(net.Conn) {},
			slow:  true,
			code:  frame.CloseAbnormal,
			cause: protocol.ErrWriteTimeout,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			served := make(chan protocol.CloseStatus, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					close(served)
					return
				}
				nc.(*net.TCPConn).SetWriteBuffer(16 << 10)
				cfg := cfg
				if tc.slow {
					cfg.PingInterval, cfg.PongTimeout = time.Minute, time.Minute
				}
				server, _ := protocol.NewServer(cfg, protocol.ServerOptions{}, time.Now())
				served <- drive(nc.(*net.TCPConn), server, handlers{open: tc.open,
					message: func(*protocol.Conn, time.Time, frame.Opcode, []byte) {}})
			}()

			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.(*net.TCPConn).SetReadBuffer(16 << 10)
			handshake(t, nc, ln.Addr().String())
			tc.peer(nc)

			start := time.Now()
			select {
			case st := <-served:
				if st.Code != tc.code || !errors.Is(st.Err, tc.cause) {
					t.Fatalf("ended with %d, %v; want %d and %v", st.Code, st.Err, tc.code, tc.cause)
				}
				t.Logf("%v after %v", st.Err, time.Since(start).Round(time.Millisecond))
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not end the connection")
			}
		})
	}
}

// handshake opens a WebSocket on nc and reads the 101, nothing after it.
func handshake(t *testing.T, nc net.Conn, host string) {
	t.Helper()
	now := time.Now()
	c, err := protocol.NewClient(protocol.DefaultConfig(), protocol.ClientOptions{URL: "ws://" + host + "/"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(c.Outgoing()); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(now.Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(nc, 16), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	nc.SetReadDeadline(time.Time{})
}

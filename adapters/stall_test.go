package adapters_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Every blocking call returns within its bound against a peer that never
// reads, never writes, stops in the middle of a frame, or accepts TCP and
// never answers; the connection's goroutines end with it.
func TestStalledPeers(t *testing.T) {
	quick := protocol.DefaultConfig()
	quick.PingInterval, quick.PongTimeout, quick.CloseTimeout = 100*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
	tests := []struct {
		name  string
		peer  func(net.Conn) // what the raw peer does with its end
		call  func(context.Context, *adapters.Conn) error
		ctx   time.Duration // the call's ctx (0: Background)
		bound time.Duration
		want  error
	}{
		{"never reads: Write bounded by ctx", func(net.Conn) {},
			func(ctx context.Context, c *adapters.Conn) error {
				return c.Write(ctx, frame.OpBinary, make([]byte, 16<<20))
			}, 300 * time.Millisecond, 2 * time.Second, context.DeadlineExceeded},
		{"never reads: Write ended by keepalive", func(net.Conn) {},
			func(ctx context.Context, c *adapters.Conn) error {
				return c.Write(ctx, frame.OpBinary, make([]byte, 16<<20))
			}, 0, 3 * time.Second, protocol.ErrKeepaliveTimeout},
		{"never writes: Read bounded by ctx", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { _, _, err := c.Read(ctx); return err },
			50 * time.Millisecond, 2 * time.Second, context.DeadlineExceeded},
		{"never writes: Read ended by keepalive", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { _, _, err := c.Read(ctx); return err },
			0, 3 * time.Second, protocol.ErrKeepaliveTimeout},
		{"stops mid-frame: Read ended by keepalive", func(nc net.Conn) {
			nc.Write(protocoltest.EncodeFrame(protocol.RoleServer, [4]byte{}, frame.OpText, 0, true, []byte("hello"))[:4])
			go io.Copy(io.Discard, nc)
		}, func(ctx context.Context, c *adapters.Conn) error { _, _, err := c.Read(ctx); return err },
			0, 3 * time.Second, protocol.ErrKeepaliveTimeout},
		{"never answers: Ping bounded by ctx", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { _, err := c.Ping(ctx); return err },
			50 * time.Millisecond, 2 * time.Second, context.DeadlineExceeded},
		{"never answers: Close bounded by the close timeout", func(nc net.Conn) { go io.Copy(io.Discard, nc) },
			func(ctx context.Context, c *adapters.Conn) error { return c.Close(frame.CloseNormal, "") },
			0, 300*time.Millisecond + 250*time.Millisecond, protocol.ErrCloseTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			a, b := tcpPair(t)
			a.(*net.TCPConn).SetWriteBuffer(16 << 10)
			b.(*net.TCPConn).SetReadBuffer(16 << 10)
			tt.peer(b)
			c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{Config: &quick, DisableCompression: true})
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			start := time.Now()
			err := tt.call(ctx, c)
			if d := time.Since(start); d > tt.bound {
				t.Errorf("returned after %v, bound %v", d, tt.bound)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			c.CloseNow()
			<-c.Done()
		})
	}
}

// Dial against a server that accepts TCP and never answers returns at the
// open timeout, even with a ctx that never ends.
func TestDialOpenTimeout(t *testing.T) {
	checkLeaks(t)
	addr := silentListener(t)
	cfg := protocol.DefaultConfig()
	cfg.OpenTimeout = 200 * time.Millisecond
	start := time.Now()
	_, _, err := adapters.Dial(context.Background(), "ws://"+addr+"/", &adapters.DialOptions{Options: adapters.Options{Config: &cfg}})
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
	if !errors.Is(err, protocol.ErrOpenTimeout) {
		t.Fatalf("got %v", err)
	}
}

// Close returns within the close timeout (plus 250 ms) while another
// goroutine's Write is blocked on a peer that does not read; the Write
// returns the close error.
func TestCloseWhileWriteBlocked(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(16 << 10)
	b.(*net.TCPConn).SetReadBuffer(16 << 10)
	cfg := protocol.DefaultConfig()
	cfg.PingInterval, cfg.CloseTimeout = 0, time.Second
	c, _ := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{Config: &cfg, DisableCompression: true})
	werr := make(chan error, 1)
	go func() { werr <- c.Write(context.Background(), frame.OpBinary, make([]byte, 16<<20)) }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	err := c.Close(frame.CloseNormal, "")
	if d := time.Since(start); d > cfg.CloseTimeout+250*time.Millisecond {
		t.Errorf("Close returned after %v", d)
	}
	if !errors.Is(err, protocol.ErrCloseTimeout) {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-werr:
		if !errors.Is(err, protocol.ErrCloseTimeout) {
			t.Errorf("Write: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("the blocked Write did not return")
	}
}

// Close inside OnMessage sends the close frame and returns at once; the
// handshake completes after the callback.
func TestCloseInsideOnMessage(t *testing.T) {
	checkLeaks(t)
	closed := make(chan error, 1)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) {
			closed <- c.Close(4000, "bye")
		}}}, func(c *adapters.Conn) { <-c.Done() })
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(ctx, frame.OpText, []byte("close, please"))
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close in the callback: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close inside OnMessage did not return")
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, &protocol.CloseError{Code: 4000}) {
		t.Fatalf("client saw %v", err)
	}
}

// A Ping whose short ctx ends while a long Write holds the socket returns
// its ctx error; the Write and the connection go on.
func TestPingContextDoesNotKillWrite(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(16 << 10)
	b.(*net.TCPConn).SetReadBuffer(16 << 10)
	go func() { // a slow reader: 4 MiB in about 0.5 s
		buf := make([]byte, 16<<10)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{DisableCompression: true})
	defer c.CloseNow()
	werr := make(chan error, 1)
	go func() { werr <- c.Write(context.Background(), frame.OpBinary, make([]byte, 4<<20)) }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := c.CloseStatus().Err; err != nil {
		t.Fatalf("connection ended: %v", err)
	}
}

// An application that falls behind pauses reading; the engine is told, and
// keepalive does not fail a healthy peer whose pongs sit unread. Nothing is
// lost.
func TestSlowReaderIsNotAKeepaliveFailure(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	scfg := protocol.DefaultConfig()
	scfg.PingInterval, scfg.PongTimeout = 100*time.Millisecond, 200*time.Millisecond
	s, _ := adapters.NewConn(b, protocol.RoleServer, &adapters.Options{Config: &scfg, DisableCompression: true,
		Queue: assemblerConfig(64<<10, 16<<10)})
	c, _ := adapters.NewConn(a, protocol.RoleClient, &adapters.Options{DisableCompression: true})
	ctx := ctxT(t)
	const n = 40
	for i := 0; i < n; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 8<<10)
		if err := c.Write(ctx, frame.OpBinary, msg); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second) // the server's application is busy elsewhere
	for i := 0; i < n; i++ {
		_, p, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v (status %+v)", i, err, s.CloseStatus())
		}
		if len(p) != 8<<10 || p[0] != byte(i) {
			t.Fatalf("message %d out of order", i)
		}
	}
	time.Sleep(500 * time.Millisecond) // keepalive works again
	if err := s.CloseStatus().Err; err != nil {
		t.Fatalf("server failed: %v", err)
	}
	if err := c.Close(frame.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
}

// A server that only writes still answers pings, and sees the peer's close.
func TestPushOnlyServer(t *testing.T) {
	checkLeaks(t)
	serverDone := make(chan protocol.CloseStatus, 1)
	url := server(t, nil, func(c *adapters.Conn) {
		for i := 0; i < 20; i++ {
			if c.Write(context.Background(), frame.OpText, []byte("tick")) != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		<-c.Done()
		serverDone <- c.CloseStatus()
	})
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, p, err := c.Read(ctx); err != nil || string(p) != "tick" {
			t.Fatalf("read %d: %q %v", i, p, err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if rtt, err := c.Ping(pctx); err != nil || rtt <= 0 {
		t.Fatalf("Ping: %v %v", rtt, err)
	}
	if err := c.Close(frame.CloseGoingAway, "done"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case st := <-serverDone:
		if !st.Received || st.ReceivedCode != frame.CloseGoingAway {
			t.Fatalf("server status %+v", st)
		}
	case <-time.After(protocol.DefaultCloseTimeout):
		t.Fatal("the server did not see the close")
	}
}

// Writer and stream Reader handles fail once their message ended and never
// touch the next one.
func TestStaleHandles(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	c, _ := adapters.NewConn(a, protocol.RoleClient, nil)
	s, _ := adapters.NewConn(b, protocol.RoleServer, nil)
	defer s.CloseNow()
	defer c.CloseNow()
	ctx := ctxT(t)
	w1, _ := c.Writer(ctx, frame.OpText)
	io.WriteString(w1, "one")
	w1.Close()
	w2, _ := c.Writer(ctx, frame.OpText)
	if _, err := io.WriteString(w1, "STALE"); !errors.Is(err, adapters.ErrWriterClosed) {
		t.Fatalf("stale Write: %v", err)
	}
	if err := w1.Close(); !errors.Is(err, adapters.ErrWriterClosed) {
		t.Fatalf("stale Close: %v", err)
	}
	io.WriteString(w2, "two")
	w2.Close()
	for _, want := range []string{"one", "two"} {
		_, r, err := s.Reader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.Write(ctx, frame.OpText, []byte("three"))
	c.Write(ctx, frame.OpText, []byte("four"))
	_, r3, _ := s.Reader(ctx)
	buf := make([]byte, 2)
	r3.Read(buf)
	_, r4, _ := s.Reader(ctx) // continues "three"
	if _, err := r3.Read(buf); err == nil {
		t.Fatal("a replaced stream reader still reads")
	}
	if got, _ := io.ReadAll(r4); string(got) != "ree" {
		t.Fatalf("continued stream %q", got)
	}
	if _, p, _ := s.Read(ctx); string(p) != "four" {
		t.Fatalf("next message %q", p)
	}
}

// While an application goroutine waits in Read, it reads the socket itself:
// there is no background reader to hand messages over.
func TestWaitingReadReadsTheSocketItself(t *testing.T) {
	checkLeaks(t)
	url := server(t, nil, echo)
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(frame.CloseNormal, "")
	for i := 0; i < 100; i++ {
		c.Write(ctx, frame.OpText, []byte("ping-pong"))
		if _, p, err := c.Read(ctx); err != nil || string(p) != "ping-pong" {
			t.Fatal(p, err)
		}
	}
	// The client waits in Read for a message that does not come; the echo
	// server waits in Read too.
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(150 * time.Millisecond)
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if n := strings.Count(stacks, "adapters.(*Conn).readBackground"); n != 0 {
			t.Errorf("%d background readers while both sides wait in Read", n)
		}
		if n := strings.Count(stacks, "adapters.(*Conn).readAsApp"); n != 2 {
			t.Errorf("%d Read calls reading the socket, want 2", n)
		}
	}()
	if _, _, err := c.Read(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// A message received right before a protocol violation reaches the
// application, and its reply goes out before the failure's close frame
// (Autobahn 3.2, 4.1.3–4.2.4, 5.15 strict), with Read/Write and with
// OnMessage.
func TestReplyBeforeViolationClose(t *testing.T) {
	onMessage := &adapters.AcceptOptions{Options: adapters.Options{OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) {
		c.Write(context.Background(), op, p)
	}}}
	for _, tt := range []struct {
		name    string
		opts    *adapters.AcceptOptions
		handler func(*adapters.Conn)
	}{
		{"Read/Write", &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: true}}, echo},
		{"OnMessage", onMessage, func(c *adapters.Conn) { <-c.Done() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			tt.opts.DisableCompression = true
			url := server(t, tt.opts, tt.handler)
			nc, br := rawDial(t, url)
			key := [4]byte{1, 2, 3, 4}
			nc.Write(append(protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 0, true, []byte("hello")),
				protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 4, true, []byte("bad"))...))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(br)
			want := append(protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpText, 0, true, []byte("hello")),
				protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpClose, 0, true,
					mustClose(frame.CloseProtocolError, protocol.ErrReservedBits.Reason))...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
		})
	}
}

// A connection failed while the peer is still sending keeps the socket open
// until the peer has its close frame: half-close, drain, then close, so the
// kernel does not answer the unread bytes with a reset that destroys the
// close frame in flight.
func TestFailureCloseFrameSurvivesPeerStillSending(t *testing.T) {
	checkLeaks(t)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: true}}, echo)
	nc, br := rawDial(t, url)
	key := [4]byte{9, 8, 7, 6}
	// A 2 MiB frame: over the 1 MiB limit, refused from its header.
	hdr := frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Mask: key, Length: 2 << 20})
	go func() {
		nc.Write(hdr)
		chunk := make([]byte, 64<<10)
		for i := 0; i < 32; i++ {
			if _, err := nc.Write(chunk); err != nil {
				return
			}
		}
	}()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(br)
	want := protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpClose, 0, true,
		mustClose(frame.CloseTooBig, protocol.ErrMessageTooBig.Reason))
	if !bytes.Equal(got, want) || err != nil {
		t.Fatalf("got % x, %v; want % x then EOF", got, err, want)
	}
}

func mustClose(code frame.CloseCode, reason string) []byte {
	p, err := frame.AppendClose(nil, code, reason)
	if err != nil {
		panic(err)
	}
	return p
}

// rawDial performs a client handshake by hand against url's server and
// returns the socket and a reader positioned after the 101 response.
func rawDial(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

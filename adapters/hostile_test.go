package adapters_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// floodFor is how long each ping flood lasts.
const floodFor = 10 * time.Second

// floodBound is the most the server's live heap may grow per flooding
// connection (the bound the package documentation states).
const floodBound = 1 << 20

// A peer that sends pings as fast as the server takes them and never reads
// costs the server at most 16 pending pongs per connection (RFC 6455
// §5.5.3), and one OnPing call at a time: over 10 s of flooding on 1 and on
// 8 connections the server's live heap grows by less than 1 MiB per
// connection and its goroutines do not pile up, another client is served
// throughout, and once the attackers leave the memory comes back and every
// goroutine ends.
func TestPingFlood(t *testing.T) {
	for _, n := range []int{1, 8} {
		t.Run(fmt.Sprint(n, " connections"), func(t *testing.T) { testPingFlood(t, n) })
	}
}

func testPingFlood(t *testing.T, attackers int) {
	checkLeaks(t)
	var hookCalls atomic.Int64
	opts := &adapters.AcceptOptions{Options: adapters.Options{OnPing: func(*adapters.Conn, []byte) {
		hookCalls.Add(1)
		time.Sleep(5 * time.Millisecond) // a slow hook: calls must not pile up
	}}}
	url := server(t, opts, echo)
	addr := strings.TrimPrefix(url, "ws://")
	ctx := ctxT(t)
	healthy, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip := func() error {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := healthy.Write(rctx, frame.OpText, []byte("still served")); err != nil {
			return err
		}
		_, p, err := healthy.Read(rctx)
		if err == nil && string(p) != "still served" {
			err = fmt.Errorf("echo %q", p)
		}
		return err
	}
	if err := roundTrip(); err != nil {
		t.Fatal(err)
	}
	baseHeap, baseG := liveHeap(), runtime.NumGoroutine()

	// The attackers: 32 pings of 125 bytes per write, never a read.
	var burst []byte
	for range 32 {
		burst = append(burst, protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpPing, 0, true, make([]byte, 125))...)
	}
	end := time.Now().Add(floodFor)
	var sent atomic.Int64
	var wg sync.WaitGroup
	socks := make([]net.Conn, attackers)
	for i := range socks {
		socks[i] = upgradedRaw(t, addr)
		wg.Add(1)
		go func(nc net.Conn) {
			defer wg.Done()
			nc.SetWriteDeadline(end)
			for {
				n, err := nc.Write(burst)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}(socks[i])
	}
	var maxHeap uint64
	maxG := 0
	for time.Now().Before(end) {
		if err := roundTrip(); err != nil {
			t.Fatalf("the other client was not served during the flood: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		maxHeap, maxG = max(maxHeap, liveHeap()), max(maxG, runtime.NumGoroutine())
	}
	wg.Wait()
	growth := int64(maxHeap) - int64(baseHeap)
	t.Logf("%d attackers sent %.1f MiB of pings in %v; live heap %.2f -> at most %.2f MiB (%+.0f KiB per connection); goroutines %d -> at most %d; %d OnPing calls",
		attackers, float64(sent.Load())/(1<<20), floodFor, mib(baseHeap), mib(maxHeap), float64(growth)/1024/float64(attackers), baseG, maxG, hookCalls.Load())
	if growth > int64(attackers)*floodBound {
		t.Errorf("live heap grew by %.1f MiB under %d flooding connections, bound %d MiB each", float64(growth)/(1<<20), attackers, floodBound>>20)
	}
	if maxG > baseG+8*attackers {
		t.Errorf("goroutines %d -> %d under the flood", baseG, maxG)
	}
	if sent.Load() < 1<<20 {
		t.Errorf("only %d bytes of pings went out: the flood did not flood", sent.Load())
	}
	if hookCalls.Load() == 0 {
		t.Error("OnPing never called")
	}
	for _, nc := range socks {
		nc.Close()
	}
	healthy.Close(frame.CloseNormal, "")
	deadline := time.Now().Add(5 * time.Second)
	for after := liveHeap(); int64(after)-int64(baseHeap) > 256<<10; after = liveHeap() {
		if time.Now().After(deadline) {
			t.Fatalf("memory did not come back: live heap %.2f MiB, %.2f before the flood", mib(after), mib(baseHeap))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// upgradedRaw opens a raw TCP connection to addr and completes the
// WebSocket handshake on it (no extension), reading exactly the response.
func upgradedRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc := dialTCP(t, addr)
	if _, err := io.WriteString(nc, upgradeRequest(addr, "")); err != nil {
		t.Fatal(err)
	}
	var resp []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(resp), "\r\n\r\n") {
		if _, err := nc.Read(b); err != nil {
			t.Fatalf("handshake: %v after %q", err, resp)
		}
		resp = append(resp, b[0])
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101") {
		t.Fatalf("handshake: %q", resp)
	}
	return nc
}

// writeTimeoutConfig fails a peer that takes none of our bytes after
// 400 ms (noticed by 600 ms).
func writeTimeoutConfig() *protocol.Config {
	cfg := protocol.DefaultConfig()
	cfg.WriteTimeout = 400 * time.Millisecond
	return &cfg
}

// endBound is how long after a peer went silent its connection may live:
// the write timeout, its quarter-interval looks, and slack for a loaded
// machine (after the watchdog's Abort a blocked write returns at once).
const endBound = 600*time.Millisecond + 100*time.Millisecond + 2*time.Second

// A client sends messages to an echo handler and never reads, until its
// writes block, then goes silent with its socket open. The handler's Write
// blocks on the full socket and its queue pauses reading (keepalive is
// suspended while paused): the write timeout still ends the connection
// within its bound, the handler returns ErrWriteTimeout (1006), and every
// goroutine ends.
func TestBurstThenSilence(t *testing.T) {
	checkLeaks(t)
	ended := make(chan error, 1)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: writeTimeoutConfig(), DisableCompression: true}},
		echoUntilEnd(ended))
	nc := upgradedRaw(t, strings.TrimPrefix(url, "ws://"))
	nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	msg := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{9, 8, 7, 6}, frame.OpBinary, 0, true, make([]byte, 1<<10))
	silent := burstUntilBlocked(t, func(deadline time.Time) error {
		nc.SetWriteDeadline(deadline)
		_, err := nc.Write(msg)
		return err
	})
	select {
	case err := <-ended:
		if d := time.Since(silent); d > endBound {
			t.Errorf("ended %v after the peer went silent, bound %v", d, endBound)
		}
		if !errors.Is(err, adapters.ErrWriteTimeout) || protocol.CloseCodeOf(err) != frame.CloseAbnormal {
			t.Fatalf("handler's error: %v", err)
		}
	case <-time.After(endBound + 5*time.Second):
		t.Fatal("the connection of a peer that neither reads nor writes was never released")
	}
	// The server closed its socket: the peer sees the end once it reads.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("the peer's socket did not end: %v", err)
	}
}

// echoUntilEnd is an echo handler that sends the error that ended it on
// ended.
func echoUntilEnd(ended chan<- error) func(*adapters.Conn) {
	return func(c *adapters.Conn) {
		ctx := context.Background()
		for {
			op, p, err := c.Read(ctx)
			if err == nil {
				err = c.Write(ctx, op, p)
			}
			if err != nil {
				ended <- err
				return
			}
		}
	}
}

// burstUntilBlocked calls write (with a deadline for it) until one takes
// longer than 300 ms, and returns when the peer went silent.
func burstUntilBlocked(t *testing.T, write func(deadline time.Time) error) time.Time {
	t.Helper()
	start := time.Now()
	for n := 0; ; n++ {
		if err := write(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Logf("peer blocked after %d messages (%v), then went silent", n, time.Since(start).Round(time.Millisecond))
			return time.Now()
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the server never stopped taking messages")
		}
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || errors.Is(err, io.EOF))
}

// The same over RFC 8441: the stream is reset, the handler returns, and the
// TCP connection's other streams go on.
func testHTTP2BurstThenSilence(t *testing.T) {
	checkLeaks(t)
	ended := make(chan error, 1)
	s := newH2Server(t, &adapters.AcceptOptions{Options: adapters.Options{Config: writeTimeoutConfig(), DisableCompression: true},
		Subprotocols: []string{"burst"}},
		func(c *adapters.Conn) {
			if c.Subprotocol() != "burst" {
				echo(c)
				return
			}
			echoUntilEnd(ended)(c)
		})
	h2 := s.client()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequestWithContext(ctxT(t), "CONNECT", s.srv.URL+"/", pr)
	req.Header = http.Header{":protocol": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Protocol": {"burst"}}
	resp, err := h2.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	defer resp.Body.Close() // never read until the end: the stream's window fills
	msg := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{9, 8, 7, 6}, frame.OpBinary, 0, true, make([]byte, 1<<10))
	writes := make(chan error, 1)
	silent := burstUntilBlocked(t, func(deadline time.Time) error {
		go func() { _, err := pw.Write(msg); writes <- err }()
		select {
		case err := <-writes:
			return err
		case <-time.After(time.Until(deadline)):
			return errors.New("blocked")
		}
	})
	select {
	case err := <-ended:
		if d := time.Since(silent); d > endBound {
			t.Errorf("ended %v after the peer went silent, bound %v", d, endBound)
		}
		if !errors.Is(err, adapters.ErrWriteTimeout) {
			t.Fatalf("handler's error: %v", err)
		}
	case <-time.After(endBound + 5*time.Second):
		t.Fatal("the stream of a peer that neither reads nor writes was never released")
	}
	// The stream ended: its body ends (reset or END_STREAM).
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not ended")
	}
	pw.CloseWithError(errors.New("test over"))
	<-writes // the blocked write returns
	// The slot is free and the TCP connection serves another WebSocket.
	c, _, err := adapters.Dial(ctxT(t), s.url, &adapters.DialOptions{HTTP2: h2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctxT(t), frame.OpText, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctxT(t)); err != nil || string(p) != "after" {
		t.Fatalf("%q %v", p, err)
	}
	c.Close(frame.CloseNormal, "")
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d TCP connections", n)
	}
}

// noHalfClose wraps a net.Conn and hides its CloseWrite, as a wrapper for
// tracing or metrics does.
type noHalfClose struct{ net.Conn }

// A connection failed while the peer is still sending keeps reading after
// its close frame, until the peer's EOF, also over a net.Conn without
// CloseWrite (a DialContext's wrapper, or one handed to NewConn): closing
// at once with unread bytes would reset the connection under the peer's
// writes and lose the close frame. The peer here floods frames, then reads
// ours; it must see our close frame (1002) before any error of its own
// transport.
func TestLingerWithoutCloseWrite(t *testing.T) {
	tests := []struct {
		name string
		// run starts our side over the peer's socket pair and fails it
		// with a frame the peer sends first.
		run func(t *testing.T) (peer net.Conn, ours *adapters.Conn, from protocol.Role)
	}{
		{"Dial with a wrapping DialContext", func(t *testing.T) (net.Conn, *adapters.Conn, protocol.Role) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil || write101(nc, req.Header.Get("Sec-WebSocket-Key"), "") != nil {
					nc.Close()
					close(accepted)
					return
				}
				accepted <- nc
			}()
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				return noHalfClose{nc}, err
			}
			c, _, err := adapters.Dial(ctxT(t), "ws://"+ln.Addr().String()+"/", &adapters.DialOptions{DialContext: dial,
				Options: adapters.Options{DisableCompression: true}})
			if err != nil {
				t.Fatal(err)
			}
			peer, ok := <-accepted
			if !ok {
				t.Fatal("handshake failed")
			}
			t.Cleanup(func() { peer.Close() })
			return peer, c, protocol.RoleServer
		}},
		{"NewConn over a wrapper", func(t *testing.T) (net.Conn, *adapters.Conn, protocol.Role) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peer := dialTCP(t, ln.Addr().String())
			nc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c, err := adapters.NewConn(noHalfClose{nc}, protocol.RoleServer, &adapters.Options{DisableCompression: true})
			if err != nil {
				t.Fatal(err)
			}
			return peer, c, protocol.RoleClient
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			peer, c, from := tt.run(t)
			key := [4]byte{5, 6, 7, 8}
			bad := protocoltest.EncodeFrame(from, key, frame.Opcode(3), 0, true, nil) // a reserved opcode: 1002
			data := protocoltest.EncodeFrame(from, key, frame.OpBinary, 0, true, make([]byte, 4<<10))
			if _, err := peer.Write(bad); err != nil {
				t.Fatal(err)
			}
			// The peer floods on while it has not read our close frame, and
			// reads only after a while, so unread bytes are waiting on our
			// side when it fails the connection.
			stop := make(chan struct{})
			writeErr := make(chan error, 1)
			go func() {
				for {
					select {
					case <-stop:
						writeErr <- nil
						return
					default:
					}
					peer.SetWriteDeadline(time.Now().Add(5 * time.Second))
					if _, err := peer.Write(data); err != nil {
						writeErr <- err
						return
					}
				}
			}()
			time.Sleep(300 * time.Millisecond)
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, p, err := readFrameFrom(peer, from == protocol.RoleServer) // ours are masked if we are the client
			close(stop)
			werr := <-writeErr
			if err != nil || h.Opcode != frame.OpClose {
				t.Fatalf("the peer did not read our close frame: %v %v (its writes: %v)", h.Opcode, err, werr)
			}
			if code, _, _ := frame.ParseClose(p); code != frame.CloseProtocolError {
				t.Fatalf("close code %v", code)
			}
			if werr != nil {
				t.Fatalf("the peer's writes failed before it read our close frame: %v", werr)
			}
			peer.Close() // the peer's EOF ends our linger
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the connection did not end")
			}
			if st := c.CloseStatus(); st.Code != frame.CloseProtocolError || !st.Sent {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// readFrameFrom reads one whole frame from r, unmasking it if masked
// (a client's frame).
func readFrameFrom(r io.Reader, masked bool) (frame.Header, []byte, error) {
	h, p, err := echotest.ReadServerFrame(r)
	if err == nil && masked {
		if !h.Masked {
			return h, p, errors.New("a client's frame unmasked")
		}
		frame.Mask(p, h.Mask, 0)
	}
	return h, p, err
}

// A write that blocks on a connection that was idle gets the write
// timeout, not the next keepalive ping: the timer was set for the ping
// (the read parked), and the watchdog's first look comes before it.
func TestWriteTimeoutAfterIdle(t *testing.T) {
	checkLeaks(t)
	for _, onMessage := range []bool{false, true} {
		t.Run(fmt.Sprintf("OnMessage=%v", onMessage), func(t *testing.T) {
			a, b := tcpPair(t)
			defer a.Close()
			a.(*net.TCPConn).SetReadBuffer(4 << 10) // the peer never reads
			b.(*net.TCPConn).SetWriteBuffer(4 << 10)
			cfg := writeTimeoutConfig()
			cfg.PingInterval = 20 * time.Second
			opts := &adapters.Options{Config: cfg, DisableCompression: true}
			if onMessage {
				opts.OnMessage = func(*adapters.Conn, frame.Opcode, []byte) {}
			}
			s, err := adapters.NewConn(b, protocol.RoleServer, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.CloseNow()
			time.Sleep(1500 * time.Millisecond) // idle: the read parks, the timer waits for the ping
			start := time.Now()
			err = s.Write(ctxT(t), frame.OpBinary, make([]byte, 8<<20))
			if d := time.Since(start); d > endBound {
				t.Errorf("the write failed %v after it began, bound %v", d, endBound)
			}
			if !errors.Is(err, adapters.ErrWriteTimeout) {
				t.Fatalf("Write: %v", err)
			}
		})
	}
}

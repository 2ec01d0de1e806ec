package adapters_test

import (
	"bytes"
	"compress/flate"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

func heapAndStacks() uint64 {
	heap, stacks := heapStacks()
	return heap + stacks
}

// heapStacks returns the heap and the goroutine stacks in use, after GC.
func heapStacks() (heap, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}

// TestIdleMemory holds 1,000 idle wsengine connections (client ends over
// loopback, with NewConn on raw sockets as the server ends) and measures
// heap and goroutine stacks per connection end. The budget guards against
// regressions; the number is logged for the README.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	checkLeaks(t)
	const n = 1000
	raiseFileLimit(t, 4*n+100)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverSockets := make(chan net.Conn, n)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			serverSockets <- nc
		}
	}()
	cfg := protocol.DefaultConfig()
	opts := &adapters.Options{Config: &cfg}

	before := heapAndStacks()
	conns := make([]*adapters.Conn, 0, 2*n)
	for i := 0; i < n; i++ {
		cnc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		snc := <-serverSockets
		c, _ := adapters.NewConn(cnc, protocol.RoleClient, opts)
		s, _ := adapters.NewConn(snc, protocol.RoleServer, opts)
		conns = append(conns, c, s)
	}
	// Nobody reads: after the read grace (a quarter second) every end has a
	// background reader, and after a second of silence its read is parked
	// (no read buffer held).
	time.Sleep(1600 * time.Millisecond)
	after := heapAndStacks()
	perEnd := (float64(after) - float64(before)) / float64(2*n) // signed: memory from earlier tests may go meanwhile
	t.Logf("idle memory: %.1f KiB per connection end (heap + goroutine stack, %d ends, sockets included)", perEnd/1024, 2*n)
	if perEnd > 16<<10 {
		t.Errorf("idle connection costs %.1f KiB, budget 16 KiB", perEnd/1024)
	}
	for i := 0; i < len(conns); i += 2 {
		go conns[i].Close(1000, "")
	}
	for _, c := range conns {
		<-c.Done()
	}
}

// TestIdleMemoryAccept holds 1,000 idle connections the way most servers
// run them: Accept in a net/http handler that then blocks in a Read loop,
// so net/http's connection and request live as long as the WebSocket. Per
// connection, heap and stacks (the handler's goroutine, net/http's state,
// the raw client socket in this process) come to about 11.5 KiB (13 under
// the race detector), 23 while net/http's 8 KiB of read and write buffers
// stayed referenced after the hijack. The budget, 15 KiB, fails if they
// (or the read buffer a parked read gives back) are held again.
func TestIdleMemoryAccept(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	checkLeaks(t)
	const n = 1000
	raiseFileLimit(t, 2*n+100)
	heap, stacks := idleServerMemory(t, n, 0, false, nil, func(c *adapters.Conn) {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	})
	per := heap + stacks
	t.Logf("idle memory: %.1f KiB per connection (Accept and a Read loop in the handler; heap + stacks, client socket included)", per/1024)
	if per > 15<<10 {
		t.Errorf("idle connection costs %.1f KiB, budget 15 KiB", per/1024)
	}
}

// A connection idle after a large message holds no more buffers than a
// fresh one: parking its read also drops the write buffers, a Writer's
// gathering buffer, the queue's spare buffer and OnMessage's (each as large
// as the message was), and with permessage-deflate the buffers the engine
// gathers compressed messages and compressed output in. 500 connections
// each echo one 16 KiB message, then sit past the read's parking. With the
// buffers kept this was 34 KiB per connection with Read/Write, 65 with
// Reader/Writer, 33 with OnMessage (two goroutines here: the reader and the
// handler, which waits) and 70 with Read/Write compressed; now 11.6, 10.8,
// 14.2 and 13.8, of which goroutine stacks 4.5, 4.1, 7.7 and 7.7 (12 to 16
// under the race detector, whose stacks are larger). The budget is 12 KiB
// of heap, where a buffer kept would show, and 24 KiB in all; and, outside
// the race detector, 6 KiB of stacks for a Read or Reader loop, whose one
// goroutine keeps 4 KiB only while the deepest path of a read stays under
// it (a few bytes more in a frame on that path once made it 8 KiB for
// every connection, unseen).
func TestIdleMemoryAfterMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const n, size = 500, 16 << 10
	raiseFileLimit(t, 2*n+100)
	ctx := context.Background()
	echoOnMessage := &adapters.AcceptOptions{Options: adapters.Options{
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Write(ctx, op, p) }}}
	tests := []struct {
		name     string
		deflated bool // the message comes compressed (permessage-deflate)
		stacks   float64
		opts     *adapters.AcceptOptions
		handler  func(*adapters.Conn)
	}{
		{"Read/Write", false, 6 << 10, nil, echo},
		{"Read/Write, permessage-deflate", true, 10 << 10, nil, echo},
		{"Reader/Writer", false, 6 << 10, nil, func(c *adapters.Conn) {
			buf := make([]byte, 512)
			for {
				op, r, err := c.Reader(ctx)
				if err != nil {
					return
				}
				w, err := c.Writer(ctx, op)
				if err != nil {
					return
				}
				if _, err := io.CopyBuffer(w, r, buf); err != nil || w.Close() != nil {
					return
				}
			}
		}},
		{"OnMessage", false, 10 << 10, echoOnMessage, func(c *adapters.Conn) { <-c.Done() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			heap, stacks := idleServerMemory(t, n, size, tt.deflated, tt.opts, tt.handler)
			t.Logf("%s: %.1f KiB per connection idle after a %d KiB echo (heap %.1f, goroutine stacks %.1f)",
				tt.name, (heap+stacks)/1024, size>>10, heap/1024, stacks/1024)
			if heap > 12<<10 || heap+stacks > 24<<10 {
				t.Errorf("%.1f KiB of heap and %.1f of stacks per connection idle after a %d KiB echo, budget 12 KiB of heap and 24 in all",
					heap/1024, stacks/1024, size>>10)
			}
			if !raceEnabled && stacks > tt.stacks {
				t.Errorf("%.1f KiB of goroutine stacks per connection, budget %.0f", stacks/1024, tt.stacks/1024)
			}
		})
	}
}

// idleServerMemory opens n raw client connections to a server running
// handler for each WebSocket (opts for Accept), has each send one binary
// message of size bytes (none if 0; deflated: random bytes, compressed
// with permessage-deflate without the client's context takeover) and read
// its echo (echoClients), waits past the read's parking, and returns the
// heap and the goroutine stacks each connection added.
func idleServerMemory(t *testing.T, n, size int, deflated bool, opts *adapters.AcceptOptions, handler func(*adapters.Conn)) (heap, stacks float64) {
	t.Helper()
	var opened sync.WaitGroup
	opened.Add(n)
	url := server(t, opts, func(c *adapters.Conn) {
		opened.Done()
		handler(c)
	})
	heap0, stacks0 := heapStacks()
	echoClients(t, url, n, size, deflated)
	opened.Wait()
	time.Sleep(1600 * time.Millisecond) // past the read's parking
	heap1, stacks1 := heapStacks()
	return (float64(heap1) - float64(heap0)) / float64(n), (float64(stacks1) - float64(stacks0)) / float64(n)
}

// echoClients opens n raw client connections to the WebSocket server at
// url and has each send one binary message of size bytes (none if 0;
// deflated: random bytes, compressed with permessage-deflate without the
// client's context takeover) and read its echo. They are closed when the
// test ends.
func echoClients(t *testing.T, url string, n, size int, deflated bool) {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	request := upgradeRequest(addr, "")
	var msg []byte
	if size > 0 {
		h := frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}}
		payload := make([]byte, size)
		if deflated {
			request = upgradeRequest(addr, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n")
			h.Rsv = frame.Rsv1
			payload = deflateMessage(t, randomBytes(size))
		}
		h.Length = uint64(len(payload))
		msg = append(frame.AppendHeader(nil, h), payload...)
		frame.Mask(msg[len(msg)-len(payload):], h.Mask, 0)
	}
	var b [1]byte
	resp := make([]byte, 0, 256)
	clients := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, nc := range clients {
			nc.Close()
		}
	})
	for i := 0; i < n; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, request)
		// Byte by byte, so that nothing of the client's stays buffered.
		resp = resp[:0]
		for !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
			if _, err := io.ReadFull(nc, b[:]); err != nil {
				t.Fatalf("response %q: %v", resp, err)
			}
			resp = append(resp, b[0])
		}
		if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")) {
			t.Fatalf("response %q", resp)
		}
		if size > 0 {
			nc.Write(msg)
			if _, _, err := echotest.ReadServerFrame(nc); err != nil {
				t.Fatal("echo:", err)
			}
		}
		nc.SetDeadline(time.Time{})
	}
}

// TestParkedReadStackMemory: a connection served by OnMessage whose handler
// returned has one goroutine, the background reader, which ran the
// callback and grew its stack (4 KiB and more after a 16 KiB echo). The
// runtime never shrinks a stack below four times what is in use, and a
// parked read uses about 0.7 KiB plus the runtime's 800-byte guard: the
// grown stack would stay for the connection's idle life. The read parks
// on a fresh goroutine instead, which starts at the runtime's starting
// size (2 KiB in a process whose goroutines are mostly such reads), and
// the grown one ends. Measured between the echoes and the park (a fake
// clock decides when), the stacks give up about 2 KiB a connection; they
// gave up none before.
func TestParkedReadStackMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	checkLeaks(t)
	const n, size = 500, 16 << 10
	raiseFileLimit(t, 2*n+100)
	ctx := context.Background()
	clock := newFakeClock()
	var opened sync.WaitGroup
	opened.Add(n)
	url := detachedServer(t, &adapters.AcceptOptions{Options: adapters.Options{Clock: clock,
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Write(ctx, op, p) }}},
		func(*http.Request) { opened.Done() })
	echoClients(t, url, n, size, false)
	opened.Wait()
	_, echoed := heapStacks()
	clock.Advance(1100 * time.Millisecond) // past parkAfter: every read parks
	// Each read was interrupted; wait until the parked reads began (the
	// goroutines that ended and the ones that replaced them settle).
	var parked uint64
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		if _, parked = heapStacks(); float64(echoed)-float64(parked) > 1.5*1024*n {
			break
		}
	}
	given := (float64(echoed) - float64(parked)) / n
	t.Logf("goroutine stacks given up at the park: %.1f KiB a connection", given/1024)
	if !raceEnabled && given < 1.5*1024 {
		t.Errorf("the park gave up %.1f KiB of goroutine stacks a connection, want at least 1.5", given/1024)
	}
}

// detachedServer is server for handlers that return after Accept, leaving
// the connection open (OnMessage serves it): each one is closed when the
// test ends. accepted is called for each, with its request.
func detachedServer(t *testing.T, opts *adapters.AcceptOptions, accepted func(*http.Request)) string {
	t.Helper()
	var mu sync.Mutex
	var conns []*adapters.Conn
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		accepted(r)
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.CloseNow()
			<-c.Done()
		}
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// randomBytes returns n bytes that do not compress.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

// deflateMessage compresses p as one permessage-deflate message (RFC 7692
// §7.2.1: a sync flush, its empty stored block's last four bytes removed).
func deflateMessage(t *testing.T, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// A closed connection the application still refers to releases its
// buffers: after large messages grew them, 100 closed pairs hold little
// more than their status.
func TestClosedConnReleasesBuffers(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts *adapters.Options
		msg  []byte
	}{
		{"plain", &adapters.Options{DisableCompression: true}, make([]byte, 200<<10)},
		// Random bytes: the compressed message is as large, and gathered
		// whole before it is inflated.
		{"permessage-deflate", &adapters.Options{}, randomBytes(48 << 10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			const n = 100
			raiseFileLimit(t, 4*n+100)
			var conns []*adapters.Conn
			before := heapAndStacks()
			for i := 0; i < n; i++ {
				c, s := connPair(t, tt.opts, tt.opts)
				ctx := ctxT(t)
				for _, dir := range [][2]*adapters.Conn{{c, s}, {s, c}} {
					go dir[0].Write(ctx, frame.OpBinary, tt.msg)
					if _, _, err := dir[1].Read(ctx); err != nil {
						t.Fatal(err)
					}
				}
				go s.Close(frame.CloseNormal, "")
				c.Close(frame.CloseNormal, "")
				<-s.Done()
				conns = append(conns, c, s)
			}
			time.Sleep(200 * time.Millisecond) // the servers' last waits for EOF end
			// Signed: stacks and heap left by earlier tests may be freed meanwhile.
			per := (float64(heapAndStacks()) - float64(before)) / float64(len(conns))
			t.Logf("%.1f KiB per closed connection end (buffers grew to %d KiB messages)", per/1024, len(tt.msg)>>10)
			if per > 8<<10 {
				t.Errorf("%.1f KiB held per closed connection end", per/1024)
			}
			runtime.KeepAlive(conns)
		})
	}
}

// OnMessage gathers a message that comes in fragments in pooled buffers,
// given back once the callback returned: a busy connection between
// messages holds no gathering buffer (before, each kept the last one, as
// large as its largest message, until its read parked). The clock is the
// test's, so no read parks while the memory is measured.
func TestOnMessageGatheringMemory(t *testing.T) {
	const n, size, fragment = 100, 64 << 10, 4 << 10
	raiseFileLimit(t, n+100)
	var got sync.WaitGroup
	got.Add(n)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{Clock: newFakeClock(),
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) {
			if op != frame.OpBinary || len(p) != size {
				t.Errorf("got a %v message of %d bytes", op, len(p))
			}
			got.Done()
		}}}, func(c *adapters.Conn) { <-c.Done() })
	addr := strings.TrimPrefix(url, "ws://")
	msg := protocoltest.EncodeFragments(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, make([]byte, size), fragment)
	heap0, _ := heapStacks()
	for range n {
		upgradedRaw(t, addr).Write(msg)
	}
	got.Wait()
	heap1, _ := heapStacks()
	perConn := (float64(heap1) - float64(heap0)) / n
	t.Logf("%.1f KiB of heap per connection after a %d KiB message in %d KiB fragments", perConn/1024, size>>10, fragment>>10)
	// Its read buffer (maxReadBuffer, 64 KiB) and the rest, about 7 KiB.
	// Before: 175 KiB, the last message's gathering buffer (64 to 80 KiB)
	// and a read buffer doubled to 128 KiB whenever a read ended inside a
	// fragment.
	if perConn > 80<<10 {
		t.Errorf("%.1f KiB of heap per connection after a %d KiB message, budget 80", perConn/1024, size>>10)
	}
}

// TestAcceptLetsGoOfTheRequest: a handler that returns after Accept (the
// connection runs on with OnMessage) leaves its *http.Request to the
// collector: the Conn keeps nothing of the handshake but the subprotocol.
// The engine kept the request and its header block, about 2 KiB of an
// idle connection's 9.5 (bench's idle row), until the Conn let go of it.
func TestAcceptLetsGoOfTheRequest(t *testing.T) {
	ctx := ctxT(t)
	collected := make(chan struct{})
	url := detachedServer(t, &adapters.AcceptOptions{Options: adapters.Options{
		OnMessage: func(c *adapters.Conn, op frame.Opcode, p []byte) { c.Write(ctx, op, p) }}},
		func(r *http.Request) { runtime.AddCleanup(r, func(ch chan struct{}) { close(ch) }, collected) })
	cl, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.CloseNow()
	if err := cl.Write(ctx, frame.OpText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := cl.Read(ctx); err != nil || string(p) != "hello" {
		t.Fatalf("echo: %q, %v", p, err)
	}
	for i := 0; ; i++ {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if i == 100 {
			t.Fatal("the handshake's request is still reachable after the handler returned")
		}
	}
}

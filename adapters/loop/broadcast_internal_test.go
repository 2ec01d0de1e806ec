//go:build linux

package loop

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Broadcast leaves the write to the member's loop, so that what queues
// before the loop gets there goes out in one system call; past
// coalesceLimit of unsent output the caller writes. One loop, kept busy by
// another connection's OnMessage, shows both: while it is blocked the
// small broadcasts stay in the member's output, the one that crosses the
// limit goes out from the caller, and the member's client gets every
// message in order.
func TestBroadcastLeavesTheWriteToTheLoop(t *testing.T) {
	addr, opened, block, release := busyLoop(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	member, _, err := adapters.Dial(ctx, "ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer member.CloseNow()
	c := <-opened
	block()

	unsent := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.eng.UnsentOutput()
	}
	var want []string
	send := func(s string) {
		m, err := NewPreparedMessage(frame.OpText, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if n := Broadcast(m, c); n != 1 {
			t.Fatalf("Broadcast took %d", n)
		}
		want = append(want, s)
	}
	framed := 0
	for i := range 3 {
		s := fmt.Sprintf("small %d", i)
		send(s)
		framed += 2 + len(s)
	}
	if got := unsent(); got != framed {
		t.Fatalf("unsent output %d bytes while the loop is busy, want the %d of three frames", got, framed)
	}
	send(strings.Repeat("x", coalesceLimit))
	if got := unsent(); got != 0 {
		t.Fatalf("unsent output %d bytes past the limit, want the caller to have written it", got)
	}
	release()
	for i, w := range want {
		_, p, err := member.Read(ctx)
		if err != nil || string(p) != w {
			t.Fatalf("message %d: %d bytes, %v", i, len(p), err)
		}
	}
}

// blockMessage is what busyLoop's blocker sends.
const blockMessage = "block the loop"

// busyLoop serves one loop, which echoes, and returns its address, the
// connections it opens, block, which opens one more and has the loop block
// in its OnMessage, and release, which lets the loop go on (the test's end
// does too, before the server's Close, which waits for the loop). cfg, if
// not nil, is the engines' configuration.
func busyLoop(t *testing.T, cfg *protocol.Config) (addr string, opened chan *Conn, block, release func()) {
	t.Helper()
	blocked, unblock := make(chan struct{}), make(chan struct{})
	opened = make(chan *Conn, 2)
	srv, err := NewServer(Options{
		Loops:              1,
		Config:             cfg,
		DisableCompression: true,
		OnOpen:             func(c *Conn) { opened <- c },
		OnMessage: func(c *Conn, op frame.Opcode, p []byte) {
			if string(p) != blockMessage {
				c.Send(op, p)
				return
			}
			close(blocked)
			<-unblock
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release) // runs first
	block = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		blocker, _, err := adapters.Dial(ctx, "ws://"+ln.Addr().String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { blocker.CloseNow() })
		<-opened
		blocker.Send(frame.OpText, []byte(blockMessage))
		<-blocked
	}
	return ln.Addr().String(), opened, block, release
}

// blockedMember returns the server side of a member of a busyLoop, blocked,
// whose client is a raw socket that never reads: what the member is sent
// waits in its output, or in the kernel once the caller writes it, and
// nothing in this process allocates for it.
func blockedMember(t *testing.T) *Conn {
	t.Helper()
	addr, opened, block, _ := busyLoop(t, nil)
	rawMember(t, addr)
	c := <-opened
	block()
	return c
}

// rawMember connects a raw socket to a busyLoop's address, with a small
// receive buffer, and does the handshake: a client whose every byte the
// test controls. The reader reads what follows the 101.
func rawMember(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.(*net.TCPConn).SetReadBuffer(32 << 10)
	br, _, err := echotest.Upgrade(nc, "/", "")
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return nc, br
}

// Output that piles up behind a busy loop grows through the pool's size
// classes, not the allocator: when a broadcast finds too little room in
// the member's buffer, the output moves into a pooled buffer of the class
// it needs and the old buffer goes back to the pool. Once the pool is
// warm, broadcasts to the member allocate nothing, the caller's writes
// past coalesceLimit included.
func TestCoalescedOutputGrowsFromThePool(t *testing.T) {
	if RaceEnabled {
		t.Skip("sync.Pool drops buffers at random under the race detector")
	}
	c := blockedMember(t)
	m, err := NewPreparedMessage(frame.OpBinary, make([]byte, 1000))
	if err != nil {
		t.Fatal(err)
	}
	broadcast := func() {
		if Broadcast(m, c) != 1 {
			t.Fatal("Broadcast refused")
		}
	}
	large := c.srv.sys.bufs.Get(8 << 10) // the class a 4 KiB buffer grows into
	c.srv.sys.bufs.Put(large)
	var small []byte // the buffer the member first frames into
	for i := 0; ; i++ {
		broadcast()
		c.mu.Lock()
		out := c.eng.Outgoing()
		c.mu.Unlock()
		if i == 1 { // the first waits as the shared frame; the second took a buffer
			small = out[:1]
		}
		if i > 1 && &out[0] != &small[0] {
			if &out[0] != &large[:1][0] || len(out) != (i+1)*(4+1000) {
				t.Fatalf("broadcast %d: the output (%d bytes) moved, but not into the pooled 8 KiB buffer", i, len(out))
			}
			back := c.srv.sys.bufs.Get(cap(small))
			if &back[:1][0] != &small[0] {
				t.Fatal("the small buffer did not go back to the pool")
			}
			c.srv.sys.bufs.Put(back)
			break
		}
		if i > 8 {
			t.Fatal("the output never moved to a larger buffer")
		}
	}

	for range 3 * coalesceLimit / 1000 { // the pool warms up over a few writes
		broadcast()
	}
	if allocs := testing.AllocsPerRun(2*coalesceLimit/1000, broadcast); allocs != 0 {
		t.Fatalf("%v allocations per broadcast", allocs)
	}
}

// Output queued behind a peer that reads nothing grows by doubling past
// the pool's largest class: each Send once did get a buffer made to
// measure and copy everything queued into it (120 MiB allocated on the way
// to the 1 MiB send limit).
func TestSlowPeerOutputGrowsByDoubling(t *testing.T) {
	c := blockedMember(t)
	got, err := echotest.SendUntilFull(c.Send)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(got)
}

// Input held for the output (HighWater) is read once the output is down,
// whoever wrote it. Here a message and a ping come in one read; the echo
// passes HighWater, so the loop stops with the ping in the engine; while the
// loop is busy elsewhere, the client reads and a Send from another
// goroutine writes the rest of the output. When the loop gets to the
// socket, it is writable with nothing to write and nothing to read, and
// the ping must be answered then: no deadline would come (a hold stops
// keepalive, and this server has no write watchdog).
func TestHoldEndedByAnotherGoroutinesWrite(t *testing.T) {
	cfg := protocol.DefaultConfig()
	cfg.WriteTimeout = protocol.Disabled
	addr, opened, block, release := busyLoop(t, &cfg)
	nc, br := rawMember(t, addr)
	c := <-opened
	type state struct {
		unsent             int
		readLater, pending bool
	}
	look := func() state {
		c.mu.Lock()
		defer c.mu.Unlock()
		return state{c.eng.UnsentOutput(), c.st.readLater, c.eng.InputPending()}
	}
	// Fill the kernel's buffers (they grow as the connection goes), with
	// little left in the output.
	for full := 0; full < 3; {
		if look().unsent > 0 {
			full++
			time.Sleep(20 * time.Millisecond)
			c.Send(frame.OpBinary, nil)
			continue
		}
		full = 0
		if err := c.Send(frame.OpBinary, make([]byte, 4<<10)); err != nil {
			t.Fatal(err)
		}
	}
	key := [4]byte{1, 2, 3, 4}
	in := protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpBinary, 0, true, make([]byte, 100<<10)) // past HighWater, 64 KiB
	in = append(in, protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpPing, 0, true, []byte("p"))...)
	nc.Write(in)
	deadline := time.Now().Add(5 * time.Second)
	for s := look(); !s.pending || s.unsent <= 64<<10; s = look() {
		if time.Now().After(deadline) {
			t.Fatalf("the loop did not stop with the ping in the engine: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
	block()
	pong := make(chan error, 1)
	go func() {
		for {
			h, _, err := echotest.ReadServerFrame(br)
			if err != nil || h.Opcode == frame.OpPong {
				pong <- err
				return
			}
		}
	}()
	// Once the client has read all the kernel held (the socket's send
	// queue, TIOCOUTQ, is empty), one Send writes the rest, and nothing in
	// it asks the loop to look at the connection.
	for queued := int32(1); queued > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still in the socket's send queue", queued)
		}
		time.Sleep(time.Millisecond)
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(c.fd), syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued))); errno != 0 {
			t.Fatal(errno)
		}
	}
	c.Send(frame.OpBinary, nil)
	if s := look(); s.unsent > 0 {
		t.Fatalf("%d bytes still unsent after a write into an empty socket", s.unsent)
	}
	release()
	select {
	case err := <-pong:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no pong once the output was written")
	}
}

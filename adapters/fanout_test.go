package adapters_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
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

// Synchronous and asynchronous sends keep the order of their calls: Send
// while a Writer is open waits behind that message, a Write after a Send
// goes after it, and every message goes out before the close frame that
// follows.
func TestSendOrder(t *testing.T) {
	checkLeaks(t)
	c, s := connPair(t, nil, nil)
	ctx := ctxT(t)
	m, err := adapters.NewPreparedMessage(adapters.OpText, []byte("7 prepared"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return s.Send(adapters.OpText, []byte("1 sent")) },
		func() error { return s.Write(ctx, adapters.OpText, []byte("2 written")) },
		func() error { return s.Send(adapters.OpBinary, []byte("3 sent")) },
		func() error {
			w, err := s.Writer(ctx, adapters.OpText)
			if err != nil {
				return err
			}
			w.Write([]byte("4 streamed, "))
			// Sent while the stream is open: it waits behind it.
			if err := s.Send(adapters.OpText, []byte("5 sent during the stream")); err != nil {
				return err
			}
			w.Write([]byte("in two writes"))
			return w.Close()
		},
		func() error { return s.Write(ctx, adapters.OpText, []byte("6 written")) },
		func() error { return s.SendPrepared(m) },
		func() error { return s.Send(adapters.OpText, []byte("8 sent last")) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close(adapters.CloseNormal, "done") }()
	want := []string{"1 sent", "2 written", "3 sent", "4 streamed, in two writes", "5 sent during the stream", "6 written", "7 prepared", "8 sent last"}
	for _, w := range want {
		_, p, err := c.Read(ctx)
		if err != nil || string(p) != w {
			t.Fatalf("got %q %v, want %q", p, err, w)
		}
	}
	if _, _, err := c.Read(ctx); adapters.CloseCodeOf(err) != adapters.CloseNormal {
		t.Fatalf("after the messages: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A peer that never reads: Send never blocks, and once the unsent output
// would pass SendLimit the policy applies. RefuseSend returns
// ErrSendQueueFull and the connection goes on; FailSlowConsumer fails the
// connection with 1008, its close error wrapping ErrSendQueueFull.
func TestSendLimit(t *testing.T) {
	for _, policy := range []adapters.SendFullPolicy{adapters.RefuseSend, adapters.FailSlowConsumer} {
		t.Run(fmt.Sprint("policy ", policy), func(t *testing.T) {
			checkLeaks(t)
			a, peer := smallBufferPair(t)
			cfg := protocol.DefaultConfig()
			cfg.PingInterval = protocol.Disabled
			s, err := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{Config: &cfg, DisableCompression: true,
				SendLimit: 64 << 10, SendFull: policy})
			if err != nil {
				t.Fatal(err)
			}
			defer s.CloseNow()
			msg := make([]byte, 4<<10)
			var queued int
			for {
				start := time.Now()
				err := s.Send(adapters.OpBinary, msg)
				if d := time.Since(start); d > 200*time.Millisecond {
					t.Fatalf("Send blocked for %v", d)
				}
				if err != nil {
					if !errors.Is(err, adapters.ErrSendQueueFull) {
						t.Fatalf("Send: %v", err)
					}
					break
				}
				if queued++; queued > 10000 {
					t.Fatal("the limit never applied")
				}
			}
			t.Logf("%d messages of 4 KiB queued or written before the limit", queued)
			if policy == adapters.RefuseSend {
				if err := s.CloseStatus().Err; err != nil {
					t.Fatalf("refused, yet the connection ended: %v", err)
				}
				// The peer catches up: sending works again.
				go io.Copy(io.Discard, peer)
				deadline := time.Now().Add(5 * time.Second)
				for s.Send(adapters.OpBinary, msg) != nil {
					if time.Now().After(deadline) {
						t.Fatal("Send still refused after the peer read everything")
					}
					time.Sleep(10 * time.Millisecond)
				}
				return
			}
			select {
			case <-s.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the slow consumer was not failed")
			}
			err = s.CloseStatus().Err
			if adapters.CloseCodeOf(err) != adapters.ClosePolicyViolation || !errors.Is(err, adapters.ErrSendQueueFull) {
				t.Fatalf("close error %v", err)
			}
			if err := s.Send(adapters.OpBinary, msg); adapters.CloseCodeOf(err) != adapters.ClosePolicyViolation {
				t.Fatalf("Send after the end: %v", err)
			}
		})
	}
}

// A broadcast of 3,000 messages of 4 KiB at about 1,500 a second to 20
// reading members and 2 that never read (12 MiB each: more than the
// kernel's socket buffers hold): Broadcast never waits on a socket, every
// reading member gets every message in order, the two stalled members are
// failed as slow consumers, and the message is encoded once per wire form
// (here one: none of them compresses).
func TestBroadcastStalledMembers(t *testing.T) {
	checkLeaks(t)
	const readers, stalled, messages = 20, 2, 3000
	var mu sync.Mutex
	var members []*adapters.Conn
	joined := make(chan struct{}, readers+stalled)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: true, SendLimit: 256 << 10}},
		func(c *adapters.Conn) {
			mu.Lock()
			members = append(members, c)
			mu.Unlock()
			joined <- struct{}{}
			<-c.Done()
		})
	addr := strings.TrimPrefix(url, "ws://")
	for range stalled {
		nc := upgradedRaw(t, addr)
		nc.(*net.TCPConn).SetReadBuffer(4 << 10) // never read
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := range readers {
		c, _, err := adapters.Dial(ctx, url, &adapters.DialOptions{Options: adapters.Options{DisableCompression: true}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.CloseNow()
			for j := range messages {
				_, p, err := c.Read(ctx)
				if err != nil || !strings.HasPrefix(string(p), fmt.Sprint(j, " ")) {
					errs <- fmt.Errorf("reader %d, message %d: %.20q %v", i, j, p, err)
					return
				}
			}
		}()
	}
	for range readers + stalled {
		<-joined
	}
	mu.Lock()
	room := append([]*adapters.Conn(nil), members...)
	mu.Unlock()
	payload := strings.Repeat("x", 4<<10)
	var slowest time.Duration
	var last *adapters.PreparedMessage
	for j := range messages {
		m, err := adapters.NewPreparedMessage(adapters.OpText, []byte(fmt.Sprint(j, " ", payload)))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		adapters.Broadcast(m, room...)
		slowest = max(slowest, time.Since(start))
		last = m
		if j%2 == 0 {
			time.Sleep(time.Millisecond) // a busy room: about 1,500 messages a second
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("slowest Broadcast to %d members: %v", len(room), slowest)
	if slowest > 500*time.Millisecond {
		t.Errorf("a Broadcast took %v: it waited on a socket", slowest)
	}
	if last.Forms() != 1 {
		t.Errorf("%d encodings of one message for one wire form", last.Forms())
	}
	failed := 0
	for _, c := range room {
		if errors.Is(c.CloseStatus().Err, adapters.ErrSendQueueFull) {
			failed++
		}
	}
	if failed != stalled {
		t.Errorf("%d members failed as slow consumers, want the %d that never read", failed, stalled)
	}
	for _, c := range room {
		c.CloseNow()
	}
}

// A broadcast allocates nothing per member: members idle long enough for
// their reads to be parked hold no output buffer, and take one from a pool
// for each message and give it back once it is written. Allocations per
// broadcast to 100 members stay under a handful.
func TestBroadcastAllocations(t *testing.T) {
	checkLeaks(t)
	const members = 100
	conns, clients := parkedRoom(t, members)
	for _, nc := range clients {
		go io.Copy(io.Discard, nc) // reads and drops every frame
	}
	m, _ := adapters.NewPreparedMessage(adapters.OpText, []byte("a message to everyone in the room"))
	adapters.Broadcast(m, conns...)
	allocs := testing.AllocsPerRun(50, func() {
		if n := adapters.Broadcast(m, conns...); n != members {
			t.Fatalf("%d members took the message", n)
		}
		time.Sleep(5 * time.Millisecond) // the writers finish
	})
	t.Logf("%.1f allocations per broadcast to %d members", allocs, members)
	if raceEnabled {
		t.Log("not checked under -race, whose sync.Pool drops buffers at random (CI runs this test without it too)")
	} else if allocs > 10 {
		t.Errorf("%.1f allocations per broadcast to %d members: some per member", allocs, members)
	}
	for _, c := range conns {
		c.CloseNow()
	}
}

// A parked member writes a prepared message from the frame it shares with
// the others, and nothing it does afterwards writes into that frame: a
// prepared message of 5,000 bytes (a frame the pool would file in its
// 4 KiB class) broadcast to 20 parked members, each sent a short message
// of its own after it (framed in a buffer of that class), 50 times,
// reaches every member intact each time.
func TestBroadcastLeavesTheSharedFrameIntact(t *testing.T) {
	const members, rounds = 20, 50
	conns, clients := parkedRoom(t, members)
	shared := bytes.Repeat([]byte("a"), 5000)
	own := bytes.Repeat([]byte("b"), 100)
	m, _ := adapters.NewPreparedMessage(adapters.OpText, shared)
	read := make(chan struct{}, members*rounds) // a member's client has the broadcast
	done := make(chan error, members)
	for _, nc := range clients {
		go func() {
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			for i := range 2 * rounds {
				_, p, err := echotest.ReadServerFrame(nc)
				want := map[bool][]byte{true: shared, false: own}[i%2 == 0]
				if err == nil && !bytes.Equal(p, want) {
					err = fmt.Errorf("message %d: %d bytes, %q… where %q… was sent", i, len(p), p[:min(len(p), 8)], want[:8])
				}
				if err != nil {
					done <- err
					return
				}
				if i%2 == 0 {
					read <- struct{}{}
				}
			}
			done <- nil
		}()
	}
	for range rounds {
		if n := adapters.Broadcast(m, conns...); n != members {
			t.Fatalf("%d members took the message", n)
		}
		// Every member wrote the frame (and gave its buffers back)
		// before any is sent its own message.
		for range members {
			select {
			case <-read:
			case err := <-done:
				t.Fatal(err)
			}
		}
		for _, c := range conns {
			if err := c.Send(adapters.OpText, own); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range members {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// parkedRoom serves n members, without compression, to raw clients that
// read nothing yet, and returns them once every member's read is parked
// (it has waited past a second): their output buffers are pooled, and a
// prepared message is sent from the frame they share.
func parkedRoom(t *testing.T, n int) ([]*adapters.Conn, []net.Conn) {
	t.Helper()
	room := make(chan *adapters.Conn, n)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: true}}, func(c *adapters.Conn) {
		room <- c
		<-c.Done()
	})
	addr := strings.TrimPrefix(url, "ws://")
	clients := make([]net.Conn, n)
	for i := range clients {
		clients[i] = upgradedRaw(t, addr)
	}
	conns := make([]*adapters.Conn, n)
	for i := range conns {
		conns[i] = <-room
	}
	time.Sleep(1500 * time.Millisecond)
	return conns, clients
}

// WritePrepared writes a prepared message and returns once it is written;
// compressed connections decode it.
func TestWritePrepared(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress ", compress), func(t *testing.T) {
			checkLeaks(t)
			opts := &adapters.Options{DisableCompression: !compress}
			c, s := connPair(t, opts, opts)
			text := strings.Repeat("prepared and written; ", 50)
			m, _ := adapters.NewPreparedMessage(adapters.OpText, []byte(text))
			if err := s.WritePrepared(ctxT(t), m); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.Read(ctxT(t)); err != nil || string(p) != text {
				t.Fatalf("%.20q %v", p, err)
			}
		})
	}
}

// ReadAhead bounds how much a connection reads ahead of an application
// that does not read: a peer that sends 4 MiB finds the socket unread once
// about ReadAhead is queued (plus the socket buffers, 16 KiB each way here,
// and the read in progress).
func TestReadAhead(t *testing.T) {
	for _, ahead := range []int64{0, 256 << 10} {
		t.Run(fmt.Sprint("ReadAhead ", ahead), func(t *testing.T) {
			checkLeaks(t)
			a, peer := tcpPair(t)
			a.(*net.TCPConn).SetReadBuffer(16 << 10)
			peer.(*net.TCPConn).SetWriteBuffer(16 << 10)
			s, err := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{DisableCompression: true, ReadAhead: ahead})
			if err != nil {
				t.Fatal(err)
			}
			defer s.CloseNow()
			// The server's application reads nothing. The peer sends until
			// a write makes no progress for two seconds (the background
			// reader takes over after a quarter second), and counts what went.
			msg := protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpBinary, 0, true, make([]byte, 16<<10))
			sent := 0
			for sent < 4<<20 {
				peer.SetWriteDeadline(time.Now().Add(2 * time.Second))
				n, err := peer.Write(msg)
				sent += n
				if err != nil {
					break
				}
			}
			want := ahead
			if want == 0 {
				want = adapters.DefaultReadAhead
			}
			t.Logf("ReadAhead %d KiB: the peer got %d KiB in before it stalled", want>>10, sent>>10)
			if int64(sent) < want || int64(sent) > want+256<<10 {
				t.Fatalf("%d KiB went in, want ReadAhead (%d KiB) and at most 256 KiB more", sent>>10, want>>10)
			}
		})
	}
}

// A message larger than SendLimit is taken when nothing is queued: the
// limit bounds what piles up, not a message's size. (The peer reads only at
// the end, through small socket buffers, so most of the message waits.)
func TestSendLargerThanLimit(t *testing.T) {
	checkLeaks(t)
	a, b := smallBufferPair(t)
	s, err := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{Config: bigConfig(), DisableCompression: true,
		SendLimit: 64 << 10, SendFull: adapters.RefuseSend})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseNow()
	big := make([]byte, 1<<20)
	if err := s.Send(adapters.OpBinary, big); err != nil {
		t.Fatalf("Send on an empty queue: %v", err)
	}
	if err := s.Send(adapters.OpBinary, []byte("behind it")); !errors.Is(err, adapters.ErrSendQueueFull) {
		t.Fatalf("Send behind 1 MiB with a 64 KiB limit: %v", err)
	}
	c, err := adapters.NewConn(b, protocol.RoleClient, &adapters.Options{Config: bigConfig(), DisableCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, p, err := c.Read(ctxT(t)); err != nil || len(p) != len(big) {
		t.Fatalf("%d bytes, %v", len(p), err)
	}
}

// A feed's messages queued for a member before the sweep that writes it
// gets there go out in one system call, and a Write to a member waiting
// for its sweep goes out at once, behind them. With one P the sweeps
// Broadcast starts run only once the broadcaster blocks: the first
// broadcast's sweep then writes every member's twenty messages in one
// write each (before sweeps, one write per message: 20 × 32).
func TestBroadcastCoalesces(t *testing.T) {
	before, ok := writeSyscalls()
	if !ok {
		t.Skip("counts write system calls in /proc/self/io, which this system does not have")
	}
	checkLeaks(t)
	const members, messages = 32, 20
	room := make([]*adapters.Conn, members)
	peers := make([]net.Conn, members)
	for i := range room {
		a, b := tcpPair(t)
		c, err := adapters.NewConn(b, protocol.RoleServer, &adapters.Options{DisableCompression: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		room[i], peers[i] = c, a
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before, _ = writeSyscalls()
	for i := range messages {
		m, err := adapters.NewPreparedMessage(adapters.OpText, []byte(fmt.Sprintf("message %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if n := adapters.Broadcast(m, room...); n != members {
			t.Fatalf("%d members took message %d", n, i)
		}
	}
	// Its sweep has not run: the Write takes the member's turn from it.
	if err := room[0].Write(ctxT(t), adapters.OpText, []byte("written")); err != nil {
		t.Fatal(err)
	}
	for i, a := range peers {
		a.SetReadDeadline(time.Now().Add(10 * time.Second))
		want := messages
		if i == 0 {
			want++
		}
		for j := range want {
			_, p, err := echotest.ReadServerFrame(a)
			if err != nil {
				t.Fatalf("member %d, message %d: %v", i, j, err)
			}
			if w := fmt.Sprintf("message %d", j); j == messages {
				if string(p) != "written" {
					t.Fatalf("member %d got %q after the broadcasts, want the Write's", i, p)
				}
			} else if string(p) != w {
				t.Fatalf("member %d got %q, want %q", i, p, w)
			}
		}
	}
	after, _ := writeSyscalls()
	t.Logf("%d write system calls for %d deliveries", after-before, members*messages+1)
	if after-before > 2*members {
		t.Errorf("%d write system calls for %d messages to %d members: not coalesced", after-before, messages, members)
	}
}

// writeSyscalls returns the process's write system calls so far (syscw in
// /proc/self/io), where the system has it.
func writeSyscalls() (int, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}

// Output queued behind a peer that reads nothing grows by doubling past
// the buffer pool's largest class: each Send once did get a buffer made
// to measure and copy everything queued into it (over 100 MiB allocated on
// the way to the 1 MiB send limit, under the connection's lock).
func TestSlowPeerOutputGrowsByDoubling(t *testing.T) {
	a, _ := smallBufferPair(t) // the peer never reads
	c, err := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{DisableCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	got, err := echotest.SendUntilFull(c.Send)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(got)
}

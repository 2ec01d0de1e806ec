package adapters_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// NetConn passes the net.Conn conformance suite over a real WebSocket
// connection on loopback.
func TestNetConnConformance(t *testing.T) {
	checkLeaks(t)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := tcpPair(t)
		cfg := protocol.DefaultConfig()
		cfg.CloseTimeout = time.Second
		opts := &adapters.Options{Config: &cfg, DisableCompression: true}
		ca, err := adapters.NewConn(a, protocol.RoleClient, opts)
		if err != nil {
			return nil, nil, nil, err
		}
		cb, err := adapters.NewConn(b, protocol.RoleServer, opts)
		if err != nil {
			return nil, nil, nil, err
		}
		ctx := context.Background()
		stop = func() {
			// A Close of the test's own may still be finishing its
			// handshake: end both sides the same way, within the close
			// timeout.
			ca.Close(frame.CloseNormal, "")
			cb.Close(frame.CloseNormal, "")
		}
		return ca.NetConn(ctx, frame.OpBinary), cb.NetConn(ctx, frame.OpBinary), stop, nil
	})
}

// A deadline moved into the past wakes a Read already waiting, with an
// error that wraps os.ErrDeadlineExceeded and says Timeout.
func TestNetConnDeadlineWakesPendingRead(t *testing.T) {
	checkLeaks(t)
	ca, cb := connPair(t, nil, nil)
	nc := ca.NetConn(context.Background(), frame.OpBinary)
	errc := make(chan error, 1)
	go func() {
		_, err := nc.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	nc.SetReadDeadline(time.Now())
	select {
	case err := <-errc:
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("woke after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetReadDeadline did not wake the pending Read")
	}
	// The connection is still usable.
	nc.SetReadDeadline(time.Time{})
	go cb.Write(context.Background(), frame.OpBinary, []byte("still here"))
	buf := make([]byte, 20)
	n, err := nc.Read(buf)
	if err != nil || string(buf[:n]) != "still here" {
		t.Fatalf("after the timeout: %q %v", buf[:n], err)
	}
}

// tcpPair returns both ends of a loopback TCP connection, closed when the
// test ends.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// smallBufferPair is tcpPair with 16 KiB socket buffers, so that a peer
// that does not read pushes back after little data.
func smallBufferPair(t *testing.T) (net.Conn, net.Conn) {
	a, b := tcpPair(t)
	a.(*net.TCPConn).SetWriteBuffer(16 << 10)
	b.(*net.TCPConn).SetReadBuffer(16 << 10)
	return a, b
}

// connPair runs a client and a server Conn over a loopback TCP pair, with
// the given options (nil for the defaults); both are dropped when the test
// ends.
func connPair(t *testing.T, client, server *adapters.Options) (c, s *adapters.Conn) {
	t.Helper()
	a, b := tcpPair(t)
	c, err := adapters.NewConn(a, protocol.RoleClient, client)
	if err != nil {
		t.Fatal(err)
	}
	s, err = adapters.NewConn(b, protocol.RoleServer, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow(); s.CloseNow() })
	return c, s
}

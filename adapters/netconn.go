package adapters

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// NetConn returns a net.Conn view of c: Read reads the bytes of the
// incoming messages one after another, Write sends each call as one
// message of type op. ctx bounds every call, and so do the deadlines.
// Read returns io.EOF after a normal close (1000 or 1001). Close closes
// the WebSocket with 1000.
func (c *Conn) NetConn(ctx context.Context, op frame.Opcode) net.Conn {
	return &netConn{c: c, ctx: ctx, op: op}
}

type netConn struct {
	c   *Conn
	ctx context.Context
	op  frame.Opcode

	mu            sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
	r             *assembler.Reader
}

func (n *netConn) callContext(deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.WithCancel(n.ctx)
	}
	return context.WithDeadline(n.ctx, deadline)
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (n *netConn) Read(p []byte) (int, error) {
	n.mu.Lock()
	ctx, cancel := n.callContext(n.readDeadline)
	n.mu.Unlock()
	defer cancel()
	for {
		if n.r == nil {
			_, r, err := n.c.q.NextReader(ctx)
			if err != nil {
				return 0, n.readError(err)
			}
			n.r = r
		}
		k, err := n.r.ReadContext(ctx, p)
		if err == io.EOF {
			n.r = nil
			if k > 0 {
				return k, nil
			}
			continue
		}
		if err != nil {
			return k, n.readError(err)
		}
		return k, nil
	}
}

func (n *netConn) readError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return timeoutError{}
	}
	code := protocol.CloseCodeOf(err)
	if code == frame.CloseNormal || code == frame.CloseGoingAway {
		return io.EOF
	}
	return err
}

func (n *netConn) Write(p []byte) (int, error) {
	n.mu.Lock()
	ctx, cancel := n.callContext(n.writeDeadline)
	n.mu.Unlock()
	defer cancel()
	if err := n.c.Write(ctx, n.op, p); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, timeoutError{}
		}
		return 0, err
	}
	return len(p), nil
}

func (n *netConn) Close() error { return n.c.Close(frame.CloseNormal, "") }

func (n *netConn) LocalAddr() net.Addr  { return n.c.LocalAddr() }
func (n *netConn) RemoteAddr() net.Addr { return n.c.RemoteAddr() }

func (n *netConn) SetDeadline(t time.Time) error {
	n.mu.Lock()
	n.readDeadline, n.writeDeadline = t, t
	n.mu.Unlock()
	return nil
}

func (n *netConn) SetReadDeadline(t time.Time) error {
	n.mu.Lock()
	n.readDeadline = t
	n.mu.Unlock()
	return nil
}

func (n *netConn) SetWriteDeadline(t time.Time) error {
	n.mu.Lock()
	n.writeDeadline = t
	n.mu.Unlock()
	return nil
}

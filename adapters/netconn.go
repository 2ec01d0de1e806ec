package adapters

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// NetConn returns a net.Conn view of c: Read reads the bytes of the
// incoming messages one after another, Write sends each call as one
// message of type op. ctx bounds every call; when it ends, calls return
// its error. Deadlines follow the net.Conn contract: a deadline that
// passes, even while a call waits, makes it return an error wrapping
// os.ErrDeadlineExceeded. A Write whose deadline passes in the middle of a
// frame returns that error too, and the rest of the frame goes out before
// the next message, so the byte stream stays whole. Read returns io.EOF
// after a normal close (1000 or 1001). Close closes the WebSocket with
// 1000.
//
// The view's methods may be called from any goroutine.
func (c *Conn) NetConn(ctx context.Context, op frame.Opcode) net.Conn {
	n := &netConn{c: c, ctx: ctx, op: op, readSem: make(chan struct{}, 1)}
	n.rd.ch = make(chan struct{})
	n.wd.ch = make(chan struct{})
	return n
}

type netConn struct {
	c   *Conn
	ctx context.Context
	op  frame.Opcode

	rd, wd  deadline
	readSem chan struct{} // one Read at a time owns r
	r       *assembler.Reader
}

// deadline is a net.Conn deadline: a channel closed when it passes. The
// channel stays the same while the deadline only moves, so a call waiting
// on it sees the new time.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{}
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the timer fired: wait until it closed the channel
	}
	d.timer = nil
	passed := isClosed(d.ch)
	if t.IsZero() {
		if passed {
			d.ch = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if passed {
			d.ch = make(chan struct{})
		}
		ch := d.ch
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !passed {
		close(d.ch)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// callContext returns a context for one call, ended by the view's ctx or
// by the deadline channel dl.
func (n *netConn) callContext(dl chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(n.ctx)
	if isClosed(dl) {
		cancel()
		return ctx, cancel
	}
	go func() {
		select {
		case <-dl:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// callError maps an error of a call whose deadline channel is dl.
func (n *netConn) callError(err error, dl chan struct{}) error {
	if err == nil {
		return nil
	}
	if isClosed(dl) && n.ctx.Err() == nil {
		return os.ErrDeadlineExceeded
	}
	code := protocol.CloseCodeOf(err)
	if code == frame.CloseNormal || code == frame.CloseGoingAway {
		return io.EOF
	}
	return err
}

func (n *netConn) Read(p []byte) (int, error) {
	dl := n.rd.wait()
	if isClosed(dl) {
		return 0, os.ErrDeadlineExceeded
	}
	ctx, cancel := n.callContext(dl)
	defer cancel()
	select {
	case n.readSem <- struct{}{}:
	case <-ctx.Done():
		return 0, n.callError(ctx.Err(), dl)
	}
	defer func() { <-n.readSem }()
	for {
		if n.r == nil {
			if n.c.q == nil {
				return 0, n.callError(n.c.endOnly(ctx), dl)
			}
			_, r, err := n.c.q.NextReader(ctx)
			if err != nil {
				return 0, n.callError(err, dl)
			}
			n.r = r
		}
		k, err := n.r.ReadContext(ctx, p)
		if err == io.EOF {
			n.r = nil
			if k > 0 || len(p) == 0 {
				return k, nil
			}
			continue
		}
		if errors.Is(err, assembler.ErrStaleReader) {
			n.r = nil // another reader of c took the stream
			continue
		}
		return k, n.callError(err, dl)
	}
}

func (n *netConn) Write(p []byte) (int, error) {
	dl := n.wd.wait()
	if isClosed(dl) {
		return 0, os.ErrDeadlineExceeded
	}
	ctx, cancel := n.callContext(dl)
	defer cancel()
	c := n.c
	if err := c.acquireMessage(ctx); err != nil {
		return 0, n.callError(err, dl)
	}
	defer c.releaseMessage()
	if err := c.sendFrame(ctx, n.op, p, true, protocol.SendOptions{}, true); err != nil {
		return 0, n.callError(err, dl)
	}
	return len(p), nil
}

func (n *netConn) Close() error { return n.c.Close(frame.CloseNormal, "") }

func (n *netConn) LocalAddr() net.Addr  { return n.c.LocalAddr() }
func (n *netConn) RemoteAddr() net.Addr { return n.c.RemoteAddr() }

func (n *netConn) SetDeadline(t time.Time) error {
	n.rd.set(t)
	n.wd.set(t)
	return nil
}

func (n *netConn) SetReadDeadline(t time.Time) error {
	n.rd.set(t)
	return nil
}

func (n *netConn) SetWriteDeadline(t time.Time) error {
	n.wd.set(t)
	return nil
}

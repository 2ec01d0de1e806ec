//go:build linux

package loop

import (
	"net"
	"syscall"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// send frames a message into the engine's output and writes what the
// socket takes at once, from the caller's goroutine (no hand-off to the
// loop); the loop writes the rest when the socket is writable.
//
// With later (Broadcast) the write is the loop's: a member whose output
// was empty is posted to its loop, and what queues behind it before the
// loop gets there goes out in the same system call (a feed's messages in
// one write per member, not one each). Past coalesceLimit of unsent output
// the loop is behind and the caller writes, as without later: the bytes
// waiting per member stay bounded and the broadcaster is slowed to the
// sockets' pace.
func (c *Conn) send(op frame.Opcode, p []byte, m *protocol.PreparedMessage, later bool) error {
	size := len(p)
	if m != nil {
		size = m.Len()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	now := c.now()
	if err := c.admit(now, int64(size)); err != nil {
		return err
	}
	waiting := c.eng.UnsentOutput()
	c.lendWriteBuffer(size+14, m != nil)
	var err error
	if m != nil {
		err = c.eng.SendPrepared(now, m)
	} else {
		err = c.eng.SendMessage(now, op, p)
	}
	if later && err == nil && !c.st.busy && c.eng.UnsentOutput() <= coalesceLimit {
		// Output that waited already has the loop's attention: c is in
		// its inbox, or the socket was full and EPOLLOUT will come.
		if waiting == 0 {
			c.l.post(c)
		}
		return nil
	}
	c.afterCommand()
	return err
}

// now is the time for a command: the loop's time of the round when the
// loop is dispatching c (a Send from OnMessage: no clock read per message),
// else the clock's. The loop writes its time before it takes c.mu for the
// round, so a goroutine that finds c busy under c.mu reads it after. c.mu
// held.
func (c *Conn) now() time.Time {
	if c.st.busy {
		return c.l.now
	}
	return time.Now()
}

// usable returns the close error of a connection that has ended. c.mu
// held.
func (c *Conn) usable() error {
	if c.eng == nil {
		return ErrClosed
	}
	if c.eng.State() == protocol.StateClosed || c.st.closed {
		if err := c.eng.CloseStatus().Err; err != nil {
			return err
		}
		return ErrClosed
	}
	return nil
}

// admit applies the output bound (protocol.Conn.AdmitSend); a dropped
// slow consumer goes to its loop. c.mu held.
func (c *Conn) admit(now time.Time, n int64) error {
	o := &c.srv.opts
	// While the loop dispatches c, commands leave their output to its
	// settle (see dispatch). At the bound that output is written first:
	// what the socket takes is not the peer's debt (sends from another
	// goroutine during OnOpen would otherwise fail a peer that has not
	// had the 101 yet).
	if c.st.busy && int64(c.eng.UnsentOutput())+n > o.sendLimit() {
		c.flush()
	}
	err := c.eng.AdmitSend(now, n, 0, o.sendLimit(), o.SendFull == adapters.RefuseSend)
	if err != nil && o.SendFull != adapters.RefuseSend {
		c.afterCommand()
	}
	return err
}

// afterCommand writes what a command left in the output and hands the
// connection to its loop when the loop has something to do about it: its
// deadline moved (a close started, output waits for the watchdog), the
// transport is to end, or the write ended a hold of input for the output
// (HighWater): the input left unread is read then, and no socket event
// may come to say so (it can be in the engine, behind a message). c.mu
// held.
func (c *Conn) afterCommand() {
	if c.st.busy {
		return // the loop settles c after the callbacks it is running
	}
	c.flush()
	if c.st.closed {
		return
	}
	if c.eng.ShouldCloseTransport() || c.eng.State() != protocol.StateOpen || !armed(c.deadline, c.srv.instant(c.eng.Deadline())) ||
		c.eng.UnsentOutput() > 0 || c.st.readLater && !c.eng.HoldInput(time.Now()) {
		c.l.post(c)
	}
}

// closeWith starts the close handshake. c.mu not held.
func (c *Conn) closeWith(code frame.CloseCode, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eng == nil || c.st.closed {
		return nil
	}
	err := c.eng.Close(time.Now(), code, reason)
	c.afterCommand()
	if err == protocol.ErrInvalidState {
		return nil // closing or closed already
	}
	return err
}

func (c *Conn) ping(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	err := c.eng.Ping(time.Now(), p)
	c.afterCommand()
	return err
}

func (c *Conn) pause(on bool) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eng == nil || c.eng.ReadingPaused() == on {
		return
	}
	if on {
		c.st.readLater = true
		c.eng.PauseReading(now)
	} else {
		c.eng.ResumeReading(now)
	}
	if !c.st.closed {
		c.l.post(c)
	}
}

// abort drops a connection now with err (CloseNow, a Dial whose ctx
// ended): its loop closes the socket and runs OnClose.
func (c *Conn) abort(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eng != nil && c.eng.State() != protocol.StateClosed && !c.st.closed {
		c.eng.Abort(time.Now(), err)
		c.l.post(c)
	}
}

// sockAddr is the socket's local or remote address, nil once closed.
func (c *Conn) sockAddr(local bool) net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.closed {
		return nil
	}
	get := syscall.Getpeername
	if local {
		get = syscall.Getsockname
	}
	sa, err := get(c.fd)
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: a.Addr[:], Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: a.Addr[:], Port: a.Port}
	}
	return nil
}

package adapters

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// streamBuffer is the size of each of a stream's buffers: HTTP/2's
// default frame size, so one pump round moves about one DATA frame.
const streamBuffer = 16 << 10

// streamConn is the transport of a WebSocket over an HTTP/2 stream (RFC
// 8441) as a net.Conn: in is the peer's DATA (a server's request body, a
// client's response body), out carries ours (a server's flushed
// ResponseWriter, a client's request body pipe).
//
// The Conn interrupts a read and bounds a write with deadlines, but
// net/http's HTTP/2 ends the stream when a deadline of its own passes, and
// neither a body read nor a response write can be interrupted otherwise.
// So the caller never reads in or writes out: a goroutine pumps each
// through a buffer, and the deadlines bound the wait for the buffers, as a
// socket's deadlines bound the wait for the kernel's. Close stops both
// pumps before it returns (resetting the stream under a write that cannot
// finish), so that nothing touches a server's ResponseWriter afterwards.
type streamConn struct {
	in           io.ReadCloser
	out          io.Writer
	flush        func() error // after each write: a server's Flush
	endWrite     func() error // sends END_STREAM; nil where only the handler's return does
	abort        func()       // resets the stream under a blocked write
	server       bool         // the stream is a handler's: it ends when the handler returns
	laddr, raddr net.Addr

	rd, wd    deadline
	readDone  chan struct{} // the read pump returned
	writeDone chan struct{} // the write pump returned

	mu      sync.Mutex
	changed chan struct{} // closed when anything below changes; nil while nobody waits
	inData  []byte        // received and not yet read: a window into the read pump's buffer
	inErr   error         // how the read side ended
	outBuf  []byte        // accepted by Write and not yet taken by the write pump
	outErr  error         // how the write side failed
	wshut   bool          // CloseWrite was called
	closed  bool
}

// errWriteShut: a Write after CloseWrite.
var errWriteShut = errors.New("adapters: write after CloseWrite on an HTTP/2 stream")

func newStreamConn(in io.ReadCloser, out io.Writer, laddr, raddr net.Addr) *streamConn {
	s := &streamConn{in: in, out: out, laddr: laddr, raddr: raddr,
		readDone: make(chan struct{}), writeDone: make(chan struct{})}
	s.rd.ch = make(chan struct{})
	s.wd.ch = make(chan struct{})
	return s
}

// start starts the pumps.
func (s *streamConn) start() {
	go s.readPump()
	go s.writePump()
}

// broadcast wakes every goroutine waiting for a change. s.mu held.
func (s *streamConn) broadcast() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// waitChange waits, without s.mu, for a change or for dl to pass. s.mu
// held on entry and on return.
func (s *streamConn) waitChange(dl chan struct{}) {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	ch := s.changed
	s.mu.Unlock()
	select {
	case <-ch:
	case <-dl:
	}
	s.mu.Lock()
}

func (s *streamConn) readPump() {
	defer close(s.readDone)
	buf := make([]byte, streamBuffer)
	for {
		n, err := s.in.Read(buf)
		s.mu.Lock()
		s.inData, s.inErr = buf[:n], err
		s.broadcast()
		for len(s.inData) > 0 && !s.closed {
			s.waitChange(nil)
		}
		stop := s.closed || err != nil
		s.mu.Unlock()
		if stop {
			return
		}
	}
}

// writePump writes what Write buffered, and after CloseWrite or Close,
// once all is written, ends the stream's write side.
func (s *streamConn) writePump() {
	defer close(s.writeDone)
	var batch []byte
	s.mu.Lock()
	for {
		for len(s.outBuf) == 0 && !s.closed && !s.wshut {
			s.waitChange(nil)
		}
		if len(s.outBuf) == 0 { // shut or closed, and all written
			s.mu.Unlock()
			if s.endWrite != nil {
				s.endWrite()
			}
			return
		}
		batch, s.outBuf = s.outBuf, batch[:0]
		s.mu.Unlock()
		err := s.send(batch)
		s.mu.Lock()
		if err != nil {
			s.outErr = err
			s.broadcast()
			s.mu.Unlock()
			return
		}
		s.broadcast()
	}
}

// ErrHandlerReturned: a server's WebSocket over HTTP/2 was written to after
// its handler returned, which ended the stream (see Accept).
var ErrHandlerReturned = errors.New("adapters: the HTTP/2 handler returned before its WebSocket ended; the stream is gone")

// send writes and flushes one batch. net/http panics on a write to a
// handler's response after the handler returned (a misuse Accept's
// documentation warns of): that ends this connection, not the process.
func (s *streamConn) send(batch []byte) (err error) {
	defer func() {
		if recover() != nil {
			err = ErrHandlerReturned
		}
	}()
	if _, err = s.out.Write(batch); err == nil && s.flush != nil {
		err = s.flush()
	}
	return err
}

// Read returns what the read pump received, waiting for it until the read
// deadline.
func (s *streamConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		dl := s.rd.wait()
		switch {
		case s.closed:
			return 0, net.ErrClosed
		case len(s.inData) > 0:
			n := copy(p, s.inData)
			if s.inData = s.inData[n:]; len(s.inData) == 0 {
				s.broadcast() // the pump may read again
			}
			return n, nil
		case s.inErr != nil:
			return 0, s.inErr
		case isClosed(dl):
			return 0, os.ErrDeadlineExceeded
		case len(p) == 0:
			return 0, nil
		}
		s.waitChange(dl)
	}
}

// Write copies p to the write pump's buffer, waiting for room until the
// write deadline; n is what was taken when it returns early.
func (s *streamConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for {
		dl := s.wd.wait()
		switch {
		case s.closed:
			return n, net.ErrClosed
		case s.outErr != nil:
			return n, s.outErr
		case s.wshut:
			return n, errWriteShut
		case len(p) == 0:
			return n, nil
		case isClosed(dl):
			return n, os.ErrDeadlineExceeded
		}
		if room := streamBuffer - len(s.outBuf); room > 0 {
			k := min(room, len(p))
			if s.outBuf == nil {
				s.outBuf = make([]byte, 0, streamBuffer)
			}
			s.outBuf = append(s.outBuf, p[:k]...)
			p, n = p[k:], n+k
			s.broadcast()
			continue
		}
		s.waitChange(dl)
	}
}

// clientStream is a client's stream, which can end its write side alone
// (END_STREAM) and so lingers for the server's end after the close
// handshake, as over TCP. A server's stream ends its write side only when
// the handler returns, so it has no CloseWrite: the Conn closes it at once
// after the close handshake, the handler returns, and the client then sees
// the end of the stream.
type clientStream struct{ *streamConn }

// CloseWrite sends END_STREAM once what was written went out.
func (s clientStream) CloseWrite() error { return s.closeWrite() }

func (s *streamConn) closeWrite() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.wshut = true
	s.broadcast()
	return nil
}

// streamCloseGrace is how long Close lets the write pump finish what was
// written before it resets the stream under it.
const streamCloseGrace = 100 * time.Millisecond

// Close ends both sides and returns once neither pump touches the stream.
// As a socket's close sends what was written and then a FIN, what Write
// took goes out and then END_STREAM, unless the peer does not take it
// within streamCloseGrace: then the stream is reset.
func (s *streamConn) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	s.broadcast()
	s.mu.Unlock()
	t := time.NewTimer(streamCloseGrace)
	select {
	case <-s.writeDone:
	case <-t.C:
		if s.abort != nil {
			func() {
				defer func() { recover() }() // the handler returned (see send)
				s.abort()
			}()
		}
		<-s.writeDone
	}
	t.Stop()
	s.in.Close() // a pending body read returns
	<-s.readDone
	return nil
}

func (s *streamConn) LocalAddr() net.Addr  { return s.laddr }
func (s *streamConn) RemoteAddr() net.Addr { return s.raddr }

func (s *streamConn) SetDeadline(t time.Time) error {
	s.rd.set(t)
	s.wd.set(t)
	s.wakeAll()
	return nil
}

func (s *streamConn) SetReadDeadline(t time.Time) error {
	s.rd.set(t)
	s.wakeAll()
	return nil
}

func (s *streamConn) SetWriteDeadline(t time.Time) error {
	s.wd.set(t)
	s.wakeAll()
	return nil
}

// wakeAll makes waiting calls look at their deadline channel again (set
// may have replaced it).
func (s *streamConn) wakeAll() {
	s.mu.Lock()
	s.broadcast()
	s.mu.Unlock()
}

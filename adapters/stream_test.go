package adapters

import (
	"io"
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// streamPair connects two streamConns through io.Pipes, as an HTTP/2
// stream's two bodies connect a client and a server.
func streamPair() (*streamConn, *streamConn) {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	a := newStreamConn(ar, aw, stringAddr("a"), stringAddr("b"))
	b := newStreamConn(br, bw, stringAddr("b"), stringAddr("a"))
	a.endWrite, b.endWrite = aw.Close, bw.Close
	a.abort = func() { aw.CloseWithError(net.ErrClosed) }
	b.abort = func() { bw.CloseWithError(net.ErrClosed) }
	a.start()
	b.start()
	return a, b
}

// The stream transport keeps the net.Conn contract on its own: deadlines
// that pass and come back, Close under blocked calls, half-close.
func TestStreamConnConformance(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := streamPair()
		return a, b, func() { a.Close(); b.Close() }, nil
	})
}

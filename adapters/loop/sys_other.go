//go:build !linux

package loop

import (
	"context"
	"net"
	"net/http"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Where epoll does not exist every connection runs on the goroutine
// driver: system has no loops, and Conn's loop-side methods are never
// reached (c.x.adapted is always set).
type system struct{}

type loop struct{}

func (y *system) start(s *Server) error {
	s.cfg = s.opts.engineConfig()
	s.so = s.opts.serverOptions()
	return nil
}

func (y *system) adopt(net.Conn, *protocol.Conn) bool             { return false }
func (y *system) runs(net.Conn) bool                              { return false }
func (y *system) established(net.Conn, *protocol.Conn) *Conn      { return nil }
func (y *system) upgrade(http.ResponseWriter, *http.Request) bool { return false }
func (y *system) len() int                                        { return 0 }
func (y *system) closeAll(frame.CloseCode, string)                {}
func (y *system) waitEmpty()                                      {}
func (y *system) stop()                                           {}
func (y *system) dial(context.Context, string, *adapters.DialOptions) (*Conn, bool, error) {
	return nil, false, nil
}

func (c *Conn) send(frame.Opcode, []byte, *protocol.PreparedMessage, bool) error {
	return ErrClosed
}
func (c *Conn) closeWith(frame.CloseCode, string) error { return nil }
func (c *Conn) ping([]byte) error                       { return ErrClosed }
func (c *Conn) pause(bool)                              {}
func (c *Conn) sockAddr(bool) net.Addr                  { return nil }
func (c *Conn) abort(error)                             {}

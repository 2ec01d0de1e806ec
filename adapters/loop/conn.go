package loop

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/assembler"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Conn is one WebSocket connection of a Server. Its methods may be called
// from any goroutine, callbacks included.
//
// A loop drives it (a plain TCP connection on Linux) or, for wss and where
// epoll does not exist, a goroutine adapters.Conn does; the API and the
// rules are the same.
//
// Its size is an idle connection's cost beside the engine's (128 bytes, a
// size class): what only some connections need, or only until they are
// open, is behind a pointer.
type Conn struct {
	srv *Server
	x   *extra // what only some connections need (see extra)

	// Loop-driven connections (conn_linux.go). mu guards the engine and
	// the socket's write side; the loop alone reads and closes the socket
	// and runs callbacks, so state it alone touches needs no lock.
	mu  sync.Mutex
	eng *protocol.Conn
	l   *loop
	fd  int
	st  connState // mu

	// Loop-owned.
	join     assembler.Joiner // the message being gathered from several events
	deadline instant          // filed under it in the loop's timer heap (0: none; see timerHeap.set)
	hidx     int32            // in the loop's timer heap; -1 when absent
	ended    bool             // the end was reported (OnClose); set under mu, for Done

	data any
}

// connState is what both the loop and other goroutines change: guarded
// by Conn.mu.
type connState struct {
	closed    bool // the socket is closed (the loop closed it)
	queued    bool // in the loop's inbox
	writeErr  bool // a write failed: the peer is gone
	readLater bool // input was left unread (in the socket, or in the engine behind a message)
	busy      bool // the loop is dispatching its events and settles it next
}

// extra is what only some connections need, behind one pointer: a
// goroutine-driven connection's state (adapted, for its whole life), or a
// loop-driven one's until it is open, when it needs any (opening).
type extra struct {
	*adapted
	opening
}

// goConn returns a goroutine-driven connection's state, nil when a loop
// drives it. Without c.mu: a loop-driven connection has its loop from the
// start (and its c.x changes under c.mu), a goroutine-driven one has none
// and its c.x never changes.
func (c *Conn) goConn() *adapted {
	if c.l != nil {
		return nil
	}
	return c.x.adapted
}

// opening is what a loop-driven connection needs only until it is open: a
// server's request bytes when they came in more than one read, a dialer's
// wait.
type opening struct {
	pre    []byte
	opened chan error // Dial waits for the open (or the failure) on it
}

// reportOpen tells a waiting Dial how the opening ended. c.mu held.
func (c *Conn) reportOpen(err error) {
	if c.x != nil && c.x.opened != nil {
		c.x.opened <- err
		c.x.opened = nil
	}
}

// adapted is a goroutine-driven connection's: start is closed once OnOpen
// returned, and request is the handshake's until then.
type adapted struct {
	ac      *adapters.Conn
	start   chan struct{}
	request *http.Request
}

// instant is a loop's time: nanoseconds since the server started (a third
// of a time.Time; the server's start keeps the monotonic reading). Zero is
// no deadline.
type instant int64

// instant returns t as an instant; the zero time is 0.
func (s *Server) instant(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return max(instant(t.Sub(s.epoch)), 1)
}

// timeOf returns an instant as a time.
func (s *Server) timeOf(i instant) time.Time { return s.epoch.Add(time.Duration(i)) }

// ErrClosed is returned by calls on a connection that has ended before a
// close error was known.
var ErrClosed = protocol.ErrClosed

// Send queues a message without waiting for the socket: it is written at
// once if the socket takes it, else when it can. The connection's unsent
// output is bounded by Options.SendLimit (Options.SendFull says what
// happens past it). After the end it returns the close error.
func (c *Conn) Send(op frame.Opcode, p []byte) error {
	if ad := c.goConn(); ad != nil {
		return ad.ac.Send(op, p)
	}
	return c.send(op, p, nil, false)
}

// SendPrepared queues a message encoded once for many connections (see
// Broadcast), bounded as Send is.
func (c *Conn) SendPrepared(m *protocol.PreparedMessage) error {
	return c.sendPrepared(m, false)
}

// sendPrepared is SendPrepared, and with later Broadcast's send (see
// Conn.send).
func (c *Conn) sendPrepared(m *protocol.PreparedMessage, later bool) error {
	if ad := c.goConn(); ad != nil {
		return ad.ac.SendPrepared(m)
	}
	return c.send(0, nil, m, later)
}

// Broadcast sends m to every connection, bounded as SendPrepared is, and
// returns how many took it: the encoding (and compression) is done once
// for all. Unlike SendPrepared it does not write from the caller's
// goroutine: each member's loop writes, and what queued for a member
// before its loop got to it (a busy feed's next messages) goes out in the
// same system call. A loop that falls behind by 16 KiB for a member
// leaves that member's writes to the caller again, so Broadcast slows to
// the sockets' pace instead of queueing without end.
func Broadcast(m *protocol.PreparedMessage, conns ...*Conn) int {
	n := 0
	for _, c := range conns {
		if c.sendPrepared(m, true) == nil {
			n++
		}
	}
	return n
}

// NewPreparedMessage prepares a message for SendPrepared and Broadcast.
func NewPreparedMessage(op frame.Opcode, data []byte) (*protocol.PreparedMessage, error) {
	return protocol.NewPreparedMessage(op, data)
}

// Close starts the close handshake with code and reason and returns at
// once; OnClose reports the end. Closing twice is a no-op.
func (c *Conn) Close(code frame.CloseCode, reason string) error {
	if ad := c.goConn(); ad != nil {
		go ad.ac.Close(code, reason) // it waits for the peer's close frame
		return nil
	}
	return c.closeWith(code, reason)
}

// CloseNow drops the connection at once, without the close handshake, like
// closing the socket (a hostile peer, a user banned): OnClose reports
// adapters.ErrClosedNow, status 1006, and sends from then on return it.
// Safe from any goroutine, callbacks included.
func (c *Conn) CloseNow() error {
	if ad := c.goConn(); ad != nil {
		return ad.ac.CloseNow()
	}
	c.abort(adapters.ErrClosedNow)
	return nil
}

// Ping sends a ping with payload p; OnClose reports a peer that stops
// answering the keepalive pings the engine sends by itself.
func (c *Conn) Ping(p []byte) error {
	if ad := c.goConn(); ad != nil {
		return ad.ac.SendPing(p)
	}
	return c.ping(p)
}

// Done returns a channel closed when the connection has ended: when its
// engine ended (OnClose runs just after), or when a connection that never
// opened was dropped. For a goroutine of the application's that feeds the
// connection. A loop-driven connection makes the channel at the first call
// (an idle one that never asks holds none).
func (c *Conn) Done() <-chan struct{} {
	if ad := c.goConn(); ad != nil {
		return ad.ac.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srv.doneOf(c, c.ended || c.st.closed)
}

// CloseStatus says how the connection ended (Err is nil while open).
func (c *Conn) CloseStatus() protocol.CloseStatus {
	if ad := c.goConn(); ad != nil {
		return ad.ac.CloseStatus()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.CloseStatus()
}

// Subprotocol is the subprotocol the handshake chose ("" for none).
func (c *Conn) Subprotocol() string {
	if ad := c.goConn(); ad != nil {
		return ad.ac.Subprotocol()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.Subprotocol()
}

// Request is the client's handshake request, for a server's connection,
// during OnOpen: the loop drops it afterwards (a kilobyte a connection),
// so keep what you need from it (a room name, a user) with SetData.
func (c *Conn) Request() *http.Request {
	if ad := c.goConn(); ad != nil {
		return ad.request
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng.Request()
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr {
	if ad := c.goConn(); ad != nil {
		return ad.ac.RemoteAddr()
	}
	return c.sockAddr(false)
}

// LocalAddr is this side's address of the connection (nil once it has
// ended).
func (c *Conn) LocalAddr() net.Addr {
	if ad := c.goConn(); ad != nil {
		return ad.ac.LocalAddr()
	}
	return c.sockAddr(true)
}

// Latency is the last ping's round-trip time, keepalive's included (zero
// before the first pong): the loop reads every pong, paused or not.
func (c *Conn) Latency() time.Duration {
	if ad := c.goConn(); ad != nil {
		return ad.ac.Latency()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eng == nil {
		return 0
	}
	return c.eng.Latency()
}

// SetReadLimit sets the largest message the connection accepts from now
// on (Config.MaxMessageSize until then; 1 MiB by default), for instance a
// larger one once the peer has logged in. A larger message fails the
// connection with 1009 (message too big), from its frame header when it
// can be. Safe from any goroutine, callbacks included.
func (c *Conn) SetReadLimit(n int64) {
	if ad := c.goConn(); ad != nil {
		ad.ac.SetReadLimit(n)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eng != nil {
		c.eng.SetMaxMessageSize(n)
	}
}

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool {
	if ad := c.goConn(); ad != nil {
		return ad.ac.Compressed()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eng != nil && deflate.Negotiated(c.eng.Extensions())
}

// SetData attaches a value of the application's to the connection (a
// user, a room); Data returns it. Safe from any goroutine only if the
// application orders the calls; callbacks of one connection are ordered.
func (c *Conn) SetData(v any) { c.data = v }

// Data returns what SetData attached.
func (c *Conn) Data() any { return c.data }

// Pause stops reading the connection: no OnMessage until Resume. Keepalive
// is told, so a paused connection is not failed for the pongs it does not
// read. Close still reads (the peer's close frame must come in).
func (c *Conn) Pause() {
	if ad := c.goConn(); ad != nil {
		ad.ac.Pause()
		return
	}
	c.pause(true)
}

// Resume reads the connection again after Pause.
func (c *Conn) Resume() {
	if ad := c.goConn(); ad != nil {
		ad.ac.Resume()
		return
	}
	c.pause(false)
}

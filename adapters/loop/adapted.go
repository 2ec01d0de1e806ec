package loop

import (
	"context"
	"net/http"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
)

// The goroutine driver: an adapters.Conn under the same callbacks, for
// wss (a loop reads plain sockets only) and where epoll does not exist.

// newAdapted returns the Conn a goroutine-driven connection will have.
func (s *Server) newAdapted(r *http.Request) *Conn {
	return &Conn{srv: s, x: &extra{adapted: &adapted{start: make(chan struct{}), request: r}}, hidx: -1}
}

// adaptedOptions are the adapters' options with OnMessage delivering to
// c's callback once OnOpen has returned.
func (s *Server) adaptedOptions(c *Conn) *adapters.AcceptOptions {
	o := s.opts.acceptOptions()
	if cb := s.opts.OnMessage; cb != nil {
		o.OnMessage = func(_ *adapters.Conn, op frame.Opcode, p []byte) {
			<-c.x.adapted.start
			cb(c, op, p)
		}
	} else {
		o.OnMessage = func(*adapters.Conn, frame.Opcode, []byte) {}
	}
	if cb := s.opts.OnPing; cb != nil {
		o.OnPing = func(_ *adapters.Conn, p []byte) {
			<-c.x.adapted.start
			cb(c, p)
		}
	}
	if cb := s.opts.OnPong; cb != nil {
		o.OnPong = func(_ *adapters.Conn, p []byte, rtt time.Duration) {
			<-c.x.adapted.start
			cb(c, p, rtt)
		}
	}
	return o
}

// runAdapted runs OnOpen, then lets messages through, and reports the end
// to OnClose.
func (s *Server) runAdapted(c *Conn, ac *adapters.Conn) {
	c.x.adapted.ac = ac
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(c.x.adapted.start)
		ac.CloseNow()
		return
	}
	s.adapted[c] = struct{}{}
	s.adaptedWG.Add(1)
	s.mu.Unlock()
	if cb := s.opts.OnOpen; cb != nil {
		cb(c)
	}
	c.x.adapted.request = nil
	close(c.x.adapted.start)
	go func() {
		defer s.adaptedWG.Done()
		<-ac.Done()
		if cb := s.opts.OnClose; cb != nil {
			cb(c, ac.CloseStatus().Err)
		}
		s.mu.Lock()
		delete(s.adapted, c)
		s.mu.Unlock()
	}()
}

// dialAdapted dials with package adapters (wss, proxies, HTTP/2).
func (s *Server) dialAdapted(ctx context.Context, rawURL string, opts *adapters.DialOptions) (*Conn, error) {
	c := s.newAdapted(nil)
	var o adapters.DialOptions
	if opts != nil {
		o = *opts
	}
	o.Options = s.adaptedOptions(c).Options // the server's, as on a loop (see Server.Dial)
	ac, _, err := adapters.Dial(ctx, rawURL, &o)
	if err != nil {
		return nil, err
	}
	s.runAdapted(c, ac)
	return c, nil
}

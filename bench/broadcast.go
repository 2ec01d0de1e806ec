package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
)

// BroadcastLibraries are the fan-out servers compared: wsengine's
// Broadcast (a prepared message queued to every member), gorilla's
// PreparedMessage written to each member in turn, gws's Broadcaster, and a
// plain coder Write loop. Each runs in a child process as "bcast-<lib>":
// every connection joins one room, and the child's stats address takes
// GET /broadcast?n=N&size=S, which sends N text messages of S bytes to
// every member and answers once they are handed over (queued or written,
// as the library does).
var BroadcastLibraries = []string{"wsengine", "wsengine-loop", "gorilla", "gws", "coder"}

// broadcastPrefix marks a child's library as a broadcast server.
const broadcastPrefix = "bcast-"

// room is a broadcast server: its members and how to send to all of them.
type room struct {
	lib      string
	compress bool
	mu       sync.Mutex
	members  []any // *adapters.Conn, *gorilla.Conn, *gws.Conn or *websocket.Conn
	// The members typed for wsengine's Broadcast, reused.
	wsConns   []*adapters.Conn
	loopConns []*loop.Conn
}

func newRoom(lib string, compress bool) *room { return &room{lib: lib, compress: compress} }

func (rm *room) join(m any) {
	rm.mu.Lock()
	rm.members = append(rm.members, m)
	rm.mu.Unlock()
}

func (rm *room) leave(m any) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for i, x := range rm.members {
		if x == m {
			rm.members[i] = rm.members[len(rm.members)-1]
			rm.members = rm.members[:len(rm.members)-1]
			return
		}
	}
}

// handler upgrades each request and keeps the connection in the room
// until it ends, reading only what the library needs read (control frames,
// the close).
func (rm *room) handler() http.Handler {
	switch rm.lib {
	case "wsengine":
		opts := wsengineOptions(rm.compress)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := adapters.Accept(w, r, opts)
			if err != nil {
				return
			}
			rm.join(c)
			<-c.Done() // its own background reader sees the close
			rm.leave(c)
		})
	case "wsengine-loop":
		// The hijacked connections run on the loops; members join and
		// leave from the callbacks.
		srv, err := loop.NewServer(loop.Options{
			Config:             &adapters.Config{MaxMessageSize: MaxMessage},
			DisableCompression: !rm.compress,
			OnOpen:             func(c *loop.Conn) { rm.join(c) },
			OnClose:            func(c *loop.Conn, _ error) { rm.leave(c) },
		})
		if err != nil {
			panic(err)
		}
		return srv
	case "gorilla":
		up := gorillaUpgrader(rm.compress)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := gorillaUpgrade(up, w, r)
			if err != nil {
				return
			}
			rm.join(c)
			for {
				if _, _, err := c.NextReader(); err != nil {
					break
				}
			}
			rm.leave(c)
			c.Close()
		})
	case "gws":
		up := gws.NewUpgrader(&gwsRoomHandler{rm: rm}, &gws.ServerOption{
			ReadMaxPayloadSize: MaxMessage,
			PermessageDeflate:  gws.PermessageDeflate{Enabled: rm.compress, ServerContextTakeover: true, ClientContextTakeover: true},
		})
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			socket, err := up.Upgrade(w, r)
			if err != nil {
				return
			}
			socket.ReadLoop()
		})
	case "coder":
		mode := websocket.CompressionDisabled
		if rm.compress {
			mode = websocket.CompressionContextTakeover
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode, InsecureSkipVerify: true})
			if err != nil {
				return
			}
			ctx := c.CloseRead(context.Background()) // reads control frames until the close
			rm.join(c)
			<-ctx.Done()
			rm.leave(c)
			c.CloseNow()
		})
	}
	panic("bench: unknown broadcast library " + rm.lib)
}

type gwsRoomHandler struct {
	gws.BuiltinEventHandler
	rm *room
}

func (h *gwsRoomHandler) OnOpen(socket *gws.Conn)             { h.rm.join(socket) }
func (h *gwsRoomHandler) OnClose(socket *gws.Conn, err error) { h.rm.leave(socket) }

// broadcast sends n messages of size bytes to every member, as each
// library's documentation does it.
func (rm *room) broadcast(n, size int) error {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	data := payload(size)
	rm.wsConns, rm.loopConns = rm.wsConns[:0], rm.loopConns[:0]
	for _, x := range rm.members {
		switch x := x.(type) {
		case *adapters.Conn:
			rm.wsConns = append(rm.wsConns, x)
		case *loop.Conn:
			rm.loopConns = append(rm.loopConns, x)
		}
	}
	for range n {
		switch rm.lib {
		case "wsengine":
			m, err := adapters.NewPreparedMessage(adapters.OpText, data)
			if err != nil {
				return err
			}
			adapters.Broadcast(m, rm.wsConns...)
		case "wsengine-loop":
			m, err := loop.NewPreparedMessage(adapters.OpText, data)
			if err != nil {
				return err
			}
			loop.Broadcast(m, rm.loopConns...)
		case "gorilla":
			m, err := gorilla.NewPreparedMessage(gorilla.TextMessage, data)
			if err != nil {
				return err
			}
			for _, x := range rm.members {
				x.(*gorilla.Conn).WritePreparedMessage(m)
			}
		case "gws":
			b := gws.NewBroadcaster(gws.OpcodeText, data)
			for _, x := range rm.members {
				b.Broadcast(x.(*gws.Conn))
			}
			b.Close()
		case "coder":
			ctx := context.Background()
			for _, x := range rm.members {
				x.(*websocket.Conn).Write(ctx, websocket.MessageText, data)
			}
		}
	}
	return nil
}

// serveBroadcast is the child's /broadcast endpoint.
func (rm *room) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	if err := rm.broadcast(n, size); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rm.mu.Lock()
	fmt.Fprintln(w, len(rm.members))
	rm.mu.Unlock()
}

// Broadcast asks s (a broadcast server) to send n messages of size bytes
// to every member; it returns once they are handed over.
func (s *Server) Broadcast(n, size int) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/broadcast?n=%d&size=%d", s.stats, n, size))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("bench: broadcast: %s", resp.Status)
	}
	return nil
}

// BroadcastResult is one fan-out run against one server.
type BroadcastResult struct {
	Lib        string
	Compress   bool
	Conns      int
	Broadcasts int
	Batch      int
	Elapsed    time.Duration
	// CPUDelivered is the server's CPU time (user + system) per delivered
	// message; AllocsBroadcast its allocations per broadcast.
	CPUDelivered    time.Duration
	UserDelivered   time.Duration // the user-time part of CPUDelivered (see Stats.User)
	AllocsBroadcast float64
	// WritesDelivered is the server's write system calls per delivered
	// message: below 1 when it writes several messages to a member at once.
	WritesDelivered float64
	// Runs and Spread are set on a median of several runs (MedianBroadcast).
	Runs   int
	Spread float64
}

// Delivered returns the messages delivered per second.
func (r BroadcastResult) Delivered() float64 {
	return float64(r.Broadcasts*r.Conns) / r.Elapsed.Seconds()
}

// StartBroadcastServer starts a child serving lib's fan-out (one of
// BroadcastLibraries), for RunBroadcast.
func StartBroadcastServer(lib string, compress bool) (*Server, error) {
	return StartServer(broadcastPrefix+lib, compress)
}

// RunBroadcast makes s send broadcasts messages of size bytes to conns
// gorilla clients (dialed here, each reading every message), batch at a
// time, and measures the server's side, after a warm-up of up to 50
// messages. With batch 1 every broadcast stands alone, as in a chat; with
// more, the clients need a batch's messages only after all of them are
// sent, as from a busy feed, and a library that writes what queued behind
// a member's last write in one system call can.
func RunBroadcast(s *Server, conns, broadcasts, batch, size int) (BroadcastResult, error) {
	cs, err := Dial(s, conns)
	if err != nil {
		return BroadcastResult{}, err
	}
	defer closeAll(cs)
	var delivered atomic.Int64
	var target atomic.Int64
	reached := make(chan struct{}, 1)
	failed := make(chan error, 1)
	for _, c := range cs {
		go func() {
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if len(p) != size {
					select {
					case failed <- fmt.Errorf("bench: a %d-byte message of %d", len(p), size):
					default:
					}
					return
				}
				if delivered.Add(1) == target.Load() {
					reached <- struct{}{}
				}
			}
		}()
	}
	// Every client is in the room before the first message.
	deadline := time.Now().Add(time.Minute)
	for members(s) < conns {
		if time.Now().After(deadline) {
			return BroadcastResult{}, fmt.Errorf("bench: %d of %d members joined", members(s), conns)
		}
		time.Sleep(10 * time.Millisecond)
	}
	send := func(n int) error {
		target.Store(delivered.Load() + int64(n*conns))
		if err := s.Broadcast(n, size); err != nil {
			return err
		}
		select {
		case <-reached:
			return nil
		case err := <-failed:
			return err
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("bench: %d of %d deliveries", delivered.Load(), target.Load())
		}
	}
	// Warm-up: buffers grow to what a batch needs, pools and compressors
	// fill, for every library alike.
	for range min(50, broadcasts) {
		if err := send(1); err != nil {
			return BroadcastResult{}, err
		}
	}
	before, err := s.Stats(false)
	if err != nil {
		return BroadcastResult{}, err
	}
	start := time.Now()
	for done := 0; done < broadcasts; {
		n := min(max(batch, 1), broadcasts-done)
		if err := send(n); err != nil {
			return BroadcastResult{}, err
		}
		done += n
	}
	elapsed := time.Since(start)
	after, err := s.Stats(false)
	if err != nil {
		return BroadcastResult{}, err
	}
	return BroadcastResult{
		Lib: strings.TrimPrefix(s.Lib, broadcastPrefix), Compress: s.Compress, Conns: conns, Broadcasts: broadcasts, Batch: batch, Elapsed: elapsed,
		CPUDelivered:    (after.CPU - before.CPU) / time.Duration(broadcasts*conns),
		UserDelivered:   (after.User - before.User) / time.Duration(broadcasts*conns),
		AllocsBroadcast: float64(after.Mallocs-before.Mallocs) / float64(broadcasts),
		WritesDelivered: float64(after.Writes-before.Writes) / float64(broadcasts*conns),
	}, nil
}

// members asks a broadcast server how many members its room has.
func members(s *Server) int {
	resp, err := http.Get(fmt.Sprintf("http://%s/broadcast?n=0", s.stats))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var n int
	fmt.Fscan(resp.Body, &n)
	return n
}

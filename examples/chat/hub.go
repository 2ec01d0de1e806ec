package main

import (
	"context"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/wsengine/ws/adapters"
)

// MaxMessage is the largest chat message a member may send.
const MaxMessage = 64 << 10

// MaxRoomName is the longest room name.
const MaxRoomName = 100

// Hub is the rooms of one node and their members. Messages go to a room
// through Publish: straight to the node's own members, or through the Bus
// to every node's (Deliver).
type Hub struct {
	logf func(format string, args ...any)
	opts *adapters.AcceptOptions

	mu      sync.Mutex
	rooms   map[string]*room
	bus     Bus
	closing bool
	members sync.WaitGroup // one per member's handler
}

// room is the members of one room on this node. Its lock is held while a
// message is handed to every member: that never waits on a socket
// (Broadcast queues), so a slow member delays nobody.
type room struct {
	mu    sync.Mutex
	conns []*adapters.Conn
	index map[*adapters.Conn]int
}

// Bus carries a room's messages to every node, this one included.
type Bus interface {
	Publish(room string, msg []byte) error
	Close()
}

// NewHub returns a hub that logs abnormal ends through logf.
func NewHub(logf func(format string, args ...any)) *Hub {
	return &Hub{
		logf:  logf,
		rooms: map[string]*room{},
		opts: &adapters.AcceptOptions{Options: adapters.Options{
			Config: &adapters.Config{MaxMessageSize: MaxMessage},
			// A member that lets 1 MiB of messages pile up is dropped with
			// 1008: it never holds the others back (the default policy,
			// written out).
			SendLimit: 1 << 20, SendFull: adapters.FailSlowConsumer,
		}},
	}
}

// SetBus makes the rooms span every node on bus. Call it before serving.
func (h *Hub) SetBus(b Bus) { h.bus = b }

// ServeHTTP upgrades a request for /ws?room=NAME and runs the member until
// it leaves.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("room")
	if name == "" || len(name) > MaxRoomName || !utf8.ValidString(name) {
		http.Error(w, "chat: the room is ?room=NAME, 1 to 100 bytes of UTF-8", http.StatusBadRequest)
		return
	}
	c, err := adapters.Accept(w, r, h.opts)
	if err != nil {
		return
	}
	if !h.join(name, c) {
		c.Close(adapters.CloseGoingAway, "server shutting down")
		return
	}
	defer h.members.Done()
	defer h.leave(name, c)
	var buf []byte
	for {
		op, msg, err := c.ReadAppend(context.Background(), buf[:0])
		if err != nil {
			if !adapters.IsClean(err) {
				h.logf("chat %s in %q: %v", c.RemoteAddr(), name, err)
			}
			c.CloseNow()
			return
		}
		buf = msg
		if op == adapters.OpText {
			h.Publish(name, msg)
		}
	}
}

// Publish sends msg to every member of the room: through the bus when
// there is one (once; every node delivers it), else to this node's
// members.
func (h *Hub) Publish(name string, msg []byte) {
	if h.bus != nil {
		if err := h.bus.Publish(name, msg); err != nil {
			h.logf("chat: publish to %q: %v", name, err)
		}
		return
	}
	h.Deliver(name, msg)
}

// Deliver hands msg to this node's members of the room: prepared once,
// queued to each (adapters.Broadcast). A member whose queue is full is
// dropped by its own policy; nobody waits for it.
func (h *Hub) Deliver(name string, msg []byte) {
	h.mu.Lock()
	rm := h.rooms[name]
	h.mu.Unlock()
	if rm == nil {
		return
	}
	m, err := adapters.NewPreparedMessage(adapters.OpText, msg)
	if err != nil {
		return // not UTF-8: a node on the bus that is not this program
	}
	rm.mu.Lock()
	adapters.Broadcast(m, rm.conns...)
	rm.mu.Unlock()
}

func (h *Hub) join(name string, c *adapters.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	rm := h.rooms[name]
	if rm == nil {
		rm = &room{index: map[*adapters.Conn]int{}}
		h.rooms[name] = rm
	}
	rm.mu.Lock()
	rm.index[c] = len(rm.conns)
	rm.conns = append(rm.conns, c)
	rm.mu.Unlock()
	h.members.Add(1)
	return true
}

func (h *Hub) leave(name string, c *adapters.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rm := h.rooms[name]
	rm.mu.Lock()
	i := rm.index[c]
	last := len(rm.conns) - 1
	rm.conns[i] = rm.conns[last]
	rm.index[rm.conns[i]] = i
	rm.conns[last] = nil
	rm.conns = rm.conns[:last]
	delete(rm.index, c)
	empty := len(rm.conns) == 0
	rm.mu.Unlock()
	if empty {
		delete(h.rooms, name)
	}
}

// Members returns how many members are in the room on this node.
func (h *Hub) Members(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rm := h.rooms[name]; rm != nil {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		return len(rm.conns)
	}
	return 0
}

// Shutdown closes every member with 1001 ("server shutting down") and
// takes no new ones; it returns once every member has closed, or ctx's
// error when ctx ends first.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	var all []*adapters.Conn
	for _, rm := range h.rooms {
		rm.mu.Lock()
		all = append(all, rm.conns...)
		rm.mu.Unlock()
	}
	h.mu.Unlock()
	for _, c := range all {
		go c.Close(adapters.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.members.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range all {
			c.CloseNow()
		}
		return ctx.Err()
	}
}

// Package protocoltest wires a client and a server protocol.Conn together in
// memory, with a fake clock, for deterministic tests: bytes move when Step is
// called, in chunks a test may choose, and time moves only when the test
// jumps it, usually to the earliest Deadline of the two.
package protocoltest

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Epoch is the fake clock's starting time.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// KeyReader is a random source that repeats one 4-byte pattern, so every
// masking key a client draws from it is Key. Tests use it for exact bytes.
type KeyReader [4]byte

// Read fills p with the key, repeated.
func (k KeyReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = k[i%4]
	}
	return len(p), nil
}

// Side is one end of a Pair and what it saw.
type Side struct {
	Conn *protocol.Conn
	// Events holds every event taken from Conn, with Data copied.
	Events []protocol.Event
	// Errs holds every error Receive returned.
	Errs []error
	// Wire holds every byte this side wrote to the transport.
	Wire []byte
	// TransportClosed is set once this side closed the transport.
	TransportClosed bool
	// inflight holds bytes written by this side not yet delivered.
	inflight []byte
	// gotEOF is set once ReceiveEOF was delivered to this side.
	gotEOF bool
}

// Pair is a client and a server joined by an in-memory transport.
type Pair struct {
	Client, Server *Side
	Now            time.Time
	// Chunk, if set, says how many of n waiting bytes to deliver in one
	// Receive call (at least 1 is delivered). Nil delivers all.
	Chunk func(n int) int
}

// NewPair returns a pair of established connections (no opening handshake).
func NewPair(client, server protocol.Config) (*Pair, error) {
	c, err := protocol.NewEstablished(protocol.RoleClient, client, Epoch)
	if err != nil {
		return nil, err
	}
	s, err := protocol.NewEstablished(protocol.RoleServer, server, Epoch)
	if err != nil {
		return nil, err
	}
	return &Pair{Client: &Side{Conn: c}, Server: &Side{Conn: s}, Now: Epoch}, nil
}

// Join returns a pair around two Conns the caller made (for example with
// protocol.NewClient and protocol.NewServer), starting at now.
func Join(client, server *protocol.Conn, now time.Time) *Pair {
	return &Pair{Client: &Side{Conn: client}, Server: &Side{Conn: server}, Now: now}
}

// Handshake makes a client and a server with the given configuration and
// options, runs the opening handshake between them (with chunk, if not
// nil, as the Pair's Chunk), and returns the pair open, or an error saying
// why it is not. Set the pair's Chunk afterwards to split later bytes.
func Handshake(cfg protocol.Config, client protocol.ClientOptions, server protocol.ServerOptions, chunk func(n int) int) (*Pair, error) {
	c, err := protocol.NewClient(cfg, client, Epoch)
	if err != nil {
		return nil, err
	}
	s, err := protocol.NewServer(cfg, server, Epoch)
	if err != nil {
		return nil, err
	}
	p := Join(c, s, Epoch)
	p.Chunk = chunk
	p.Settle()
	if c.State() != protocol.StateOpen || s.State() != protocol.StateOpen {
		return nil, fmt.Errorf("protocoltest: handshake failed: client %v, server %v", c.CloseStatus().Err, s.CloseStatus().Err)
	}
	return p, nil
}

// Drain takes a side's outputs: outgoing bytes go in flight, events are
// recorded, and a transport close is noted. It reports whether anything
// happened.
func (p *Pair) Drain(s *Side) bool {
	moved := false
	if out := s.Conn.Outgoing(); len(out) > 0 && !s.TransportClosed {
		s.Wire = append(s.Wire, out...)
		s.inflight = append(s.inflight, out...)
		s.Conn.Advance(len(out))
		moved = true
	}
	for ev := s.Conn.NextEvent(); ev.Kind != protocol.EventNone; ev = s.Conn.NextEvent() {
		ev.Data = bytes.Clone(ev.Data)
		s.Events = append(s.Events, ev)
		moved = true
	}
	if s.Conn.ShouldCloseTransport() && !s.TransportClosed {
		s.TransportClosed = true
		moved = true
	}
	return moved
}

// deliver moves bytes in flight from one side to the other, and the EOF
// once the sender closed the transport and every byte was delivered.
func (p *Pair) deliver(from, to *Side) bool {
	if to.TransportClosed {
		from.inflight = nil
		return false
	}
	if to.Conn.InputPending() { // what the engine kept from the last chunk
		if err := to.Conn.Receive(p.Now, nil); err != nil {
			to.Errs = append(to.Errs, err)
		}
		return true
	}
	if len(from.inflight) > 0 {
		n := len(from.inflight)
		if p.Chunk != nil {
			n = min(max(p.Chunk(n), 1), n)
		}
		chunk := bytes.Clone(from.inflight[:n])
		from.inflight = from.inflight[n:]
		if err := to.Conn.Receive(p.Now, chunk); err != nil {
			to.Errs = append(to.Errs, err)
		}
		return true
	}
	if from.TransportClosed && !to.gotEOF {
		to.gotEOF = true
		to.Conn.ReceiveEOF(p.Now)
		return true
	}
	return false
}

// Step drains both sides and delivers one chunk each way. It reports
// whether anything happened.
func (p *Pair) Step() bool {
	moved := p.Drain(p.Client)
	moved = p.Drain(p.Server) || moved
	moved = p.deliver(p.Client, p.Server) || moved
	moved = p.deliver(p.Server, p.Client) || moved
	moved = p.Drain(p.Client) || moved
	moved = p.Drain(p.Server) || moved
	return moved
}

// Settle steps until nothing moves, without moving the clock.
func (p *Pair) Settle() {
	for i := 0; p.Step(); i++ {
		if i > 1_000_000 {
			panic("protocoltest: pair does not settle")
		}
	}
}

// Deadline returns the earlier of the two sides' deadlines (zero if none).
func (p *Pair) Deadline() time.Time {
	a, b := p.Client.Conn.Deadline(), p.Server.Conn.Deadline()
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// JumpToDeadline moves the clock to the earliest deadline, lets both sides
// handle it and settles. It reports false if no timer is set.
func (p *Pair) JumpToDeadline() bool {
	d := p.Deadline()
	if d.IsZero() {
		return false
	}
	p.Advance(d.Sub(p.Now))
	return true
}

// Advance moves the clock by d, lets both sides handle timeouts and settles.
func (p *Pair) Advance(d time.Duration) {
	p.Now = p.Now.Add(d)
	p.Client.Conn.HandleTimeout(p.Now)
	p.Server.Conn.HandleTimeout(p.Now)
	p.Settle()
}

// RunUntilClosed settles and jumps from deadline to deadline until both
// sides are closed, at most steps jumps.
func (p *Pair) RunUntilClosed(steps int) error {
	p.Settle()
	for i := 0; i < steps; i++ {
		if p.Client.Conn.State() == protocol.StateClosed && p.Server.Conn.State() == protocol.StateClosed {
			return nil
		}
		if !p.JumpToDeadline() {
			break
		}
	}
	if p.Client.Conn.State() == protocol.StateClosed && p.Server.Conn.State() == protocol.StateClosed {
		return nil
	}
	return fmt.Errorf("protocoltest: not closed: client %v, server %v", p.Client.Conn.State(), p.Server.Conn.State())
}

// Kinds returns the kinds of a side's events, for compact assertions.
func (s *Side) Kinds() []protocol.EventKind {
	k := make([]protocol.EventKind, len(s.Events))
	for i, ev := range s.Events {
		k[i] = ev.Kind
	}
	return k
}

// Messages joins a side's data events into whole messages, in order. A
// message still open at the end is left out.
func (s *Side) Messages() []Message {
	var out []Message
	var cur *Message
	for _, ev := range s.Events {
		if ev.Kind != protocol.EventData {
			continue
		}
		if cur == nil {
			cur = &Message{Opcode: ev.Opcode}
		}
		cur.Data = append(cur.Data, ev.Data...)
		if ev.Fin {
			out = append(out, *cur)
			cur = nil
		}
	}
	return out
}

// Message is a whole data message.
type Message struct {
	Opcode frame.Opcode
	Data   []byte
}

// EncodeFrame builds a frame as a peer of role from sends it: masked with
// key by a client, unmasked by a server.
func EncodeFrame(from protocol.Role, key [4]byte, op frame.Opcode, rsv uint8, fin bool, payload []byte) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Length: uint64(len(payload))}
	if from == protocol.RoleClient {
		h.Masked, h.Mask = true, key
	}
	b := frame.AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	if h.Masked {
		frame.Mask(b[start:], key, 0)
	}
	return b
}

// EncodeFragments builds a message of opcode op as a peer of role from
// sends it in frames of at most fragment bytes of payload (the first
// carries op, the rest are continuations, the last has FIN), as gorilla's
// writer sends a large message in 4 KiB frames.
func EncodeFragments(from protocol.Role, key [4]byte, op frame.Opcode, payload []byte, fragment int) []byte {
	var b []byte
	for off := 0; ; off += fragment {
		end := min(off+fragment, len(payload))
		b = append(b, EncodeFrame(from, key, op, 0, end == len(payload), payload[off:end])...)
		if end == len(payload) {
			return b
		}
		op = frame.OpContinuation
	}
}

// Take drains c's outputs: the outgoing bytes (advanced past) and every
// pending event, with Data copied; while the engine kept input
// (InputPending), it goes on with Receive(nil) and drains again.
func Take(c *protocol.Conn) ([]byte, []protocol.Event) {
	var out []byte
	var evs []protocol.Event
	for {
		out = append(out, c.Outgoing()...)
		c.Advance(len(c.Outgoing()))
		for ev := c.NextEvent(); ev.Kind != protocol.EventNone; ev = c.NextEvent() {
			ev.Data = bytes.Clone(ev.Data)
			evs = append(evs, ev)
		}
		if !c.InputPending() {
			return out, evs
		}
		c.Receive(time.Time{}, nil) // an earlier time is taken as the latest seen
	}
}

// MergePieces joins the data events of each frame delivered in pieces
// (More set) into one event, so event lists can be compared whatever the
// byte split. The merged Data is a new slice; evs is not changed.
func MergePieces(evs []protocol.Event) []protocol.Event {
	var out []protocol.Event
	for _, ev := range evs {
		if n := len(out); n > 0 && out[n-1].Kind == protocol.EventData && out[n-1].More {
			last := &out[n-1]
			last.Data = append(slices.Clip(last.Data), ev.Data...)
			last.More, last.Fin = ev.More, ev.Fin
			continue
		}
		out = append(out, ev)
	}
	return out
}

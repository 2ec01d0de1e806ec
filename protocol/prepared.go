package protocol

import (
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wsengine/ws/frame"
)

// PreparedMessage is a data message encoded once per wire form and sent on
// any number of connections with SendPrepared: a broadcast's payload is
// compressed once per set of compression parameters, not once per member.
//
// A server frame is not masked, so every connection of one form sends the
// same bytes: no extension, or one whose encoding of a whole message does
// not depend on the connection (SharedEncoder: permessage-deflate without
// this side's context takeover, RFC 7692 §7.1.1.1). A connection that keeps
// a compression context encodes the message itself, through that context
// (never a shared encoding, which its peer's window would hold and its own
// would not). A client masks its copy with its own key.
//
// It is safe for concurrent use by any number of connections and
// goroutines; its payload is never changed.
type PreparedMessage struct {
	op    frame.Opcode
	data  []byte                         // plain[header:]
	plain []byte                         // the whole server frame, uncompressed
	forms atomic.Pointer[[]preparedForm] // copy on write
	mu    sync.Mutex                     // serialises encodings
}

// preparedForm is the message's payload as sent on connections whose
// extension reports key (nil: no extension), and its whole server frame
// (wire ends with payload).
type preparedForm struct {
	key     any
	payload []byte
	wire    []byte
	rsv     uint8
}

// NewPreparedMessage prepares a whole message (op is frame.OpText or
// frame.OpBinary); data is copied. Text must be UTF-8 (ErrInvalidText).
func NewPreparedMessage(op frame.Opcode, data []byte) (*PreparedMessage, error) {
	if op != frame.OpText && op != frame.OpBinary {
		return nil, ErrBadOpcode
	}
	if op == frame.OpText && !utf8.Valid(data) {
		return nil, ErrInvalidText
	}
	plain := serverFrame(op, 0, data)
	return &PreparedMessage{op: op, data: plain[len(plain)-len(data):], plain: plain}, nil
}

// serverFrame returns a whole unmasked frame of one message: what every
// server connection of one wire form writes.
func serverFrame(op frame.Opcode, rsv uint8, payload []byte) []byte {
	h := frame.Header{Fin: true, Rsv: rsv, Opcode: op, Length: uint64(len(payload))}
	b := frame.AppendHeader(make([]byte, 0, frame.MaxHeaderSize+len(payload)), h)
	return append(b, payload...)
}

// Opcode returns the message's type.
func (m *PreparedMessage) Opcode() frame.Opcode { return m.op }

// Len returns the length of the message's payload.
func (m *PreparedMessage) Len() int { return len(m.data) }

// Forms returns how many encodings were made so far: one per distinct wire
// form among the connections it was sent on.
func (m *PreparedMessage) Forms() int {
	if f := m.forms.Load(); f != nil {
		return len(*f)
	}
	return 0
}

// form returns the encoding for key, making it with encode the first time.
func (m *PreparedMessage) form(key any, encode func() (preparedForm, error)) (preparedForm, error) {
	if f, ok := m.lookup(key); ok {
		return f, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.lookup(key); ok {
		return f, nil
	}
	f, err := encode()
	if err != nil {
		return preparedForm{}, err
	}
	f.key = key
	var forms []preparedForm
	if old := m.forms.Load(); old != nil {
		forms = append(forms, *old...)
	}
	forms = append(forms, f)
	m.forms.Store(&forms)
	return f, nil
}

func (m *PreparedMessage) lookup(key any) (preparedForm, bool) {
	if forms := m.forms.Load(); forms != nil {
		for _, f := range *forms {
			if f.key == key {
				return f, true
			}
		}
	}
	return preparedForm{}, false
}

// SharedEncoder is an Extension whose encoding of a whole message may be
// shared between connections: with equal keys the encodings are equal, and
// valid on each. ShareKey returns ok false while the connection's encoding
// depends on state of its own (a compression context kept across
// messages); the key must be comparable with ==.
type SharedEncoder interface {
	ShareKey() (key any, ok bool)
	// EncodeShared appends the encoding of the whole message p, from no
	// state, and returns the RSV bits to set (0: sent as it is).
	EncodeShared(dst, p []byte, op frame.Opcode) ([]byte, uint8, error)
}

// SharesPrepared reports whether SendPrepared would send a prepared
// message from the frame it shares with other connections if the engine
// had no output buffer now: a server with no output waiting whose
// extension, if any, shares its encoding (SharedEncoder). A driver that
// takes the engine's buffer while it is idle then lends it none for the
// message (see OutputShared).
func (c *Conn) SharesPrepared() bool {
	_, _, ok := c.shareKey()
	return ok && !c.send.inMsg && c.framesShareable()
}

// framesShareable reports whether a prepared message's shared frame can be
// this connection's whole output: it is a server's (unmasked), and no
// output waits.
func (c *Conn) framesShareable() bool { return c.role == RoleServer && c.unsent() == 0 }

// shareKey returns the key of the encoding this connection shares with
// others (nil and no encoder without an extension); ok is false when its
// extension encodes through state of its own.
func (c *Conn) shareKey() (key any, se SharedEncoder, ok bool) {
	if len(c.cfg.Extensions) == 0 {
		return nil, nil, true
	}
	if se, ok = c.cfg.Extensions[0].(SharedEncoder); ok {
		key, ok = se.ShareKey()
	}
	return key, se, ok
}

// SendPrepared queues a prepared message as one frame: the encoding its
// wire form shares with other connections when there is one, else encoded
// through this connection's own extension state, exactly as Send would.
// Misuse returns the errors of Send and changes nothing.
//
// Next: write Outgoing.
func (c *Conn) SendPrepared(now time.Time, m *PreparedMessage) error {
	c.tick(now)
	if err := c.canSend(); err != nil {
		return err
	}
	if c.send.inMsg {
		return ErrMessageInProgress
	}
	key, se, ok := c.shareKey()
	if !ok {
		return c.SendWith(now, m.op, m.data, true, SendOptions{})
	}
	f, err := m.form(key, func() (preparedForm, error) {
		if se == nil {
			return preparedForm{payload: m.data, wire: m.plain}, nil
		}
		p, rsv, err := se.EncodeShared(nil, m.data, m.op)
		wire := serverFrame(m.op, rsv, p)
		return preparedForm{payload: wire[len(wire)-len(p):], wire: wire, rsv: rsv}, err
	})
	if err != nil {
		c.failInternal(err)
		return err
	}
	if cap(c.out) == 0 && c.framesShareable() {
		// An engine with no buffer of its own (a driver that pools them)
		// sends the shared frame itself: no copy, and no buffer held while
		// it waits for the transport (outputState.shared).
		c.notePending()
		c.out, c.outStart, c.output.shared = f.wire[:len(f.wire):len(f.wire)], 0, true
		return nil
	}
	if err := c.writeFrame(m.op, f.rsv, true, f.payload); err != nil {
		c.failInternal(err)
		return err
	}
	return nil
}

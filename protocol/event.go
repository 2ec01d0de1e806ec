package protocol

import (
	"net/http"
	"time"

	"github.com/wsengine/ws/frame"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventNone: no event is pending.
	EventNone EventKind = iota
	// EventOpen: the opening handshake completed; the connection is open.
	EventOpen
	// EventData: payload of a data frame. See Event for how frames and
	// messages map to events.
	EventData
	// EventPing: a ping arrived (the engine already queued the pong).
	EventPing
	// EventPong: a pong arrived. Latency is set if it answered a ping of ours.
	EventPong
	// EventClose: a close frame arrived, with Code and Reason (1005 and no
	// reason for an empty close). The engine already queued its reply.
	EventClose
	// EventClosed: the connection ended; CloseStatus says how. Always the
	// last event.
	EventClosed
	// EventRequest (server): a valid handshake request arrived. The engine
	// already decided; Request holds what the application may inspect.
	EventRequest
	// EventResponse (client): the server's handshake response arrived.
	EventResponse
)

// String names the kind, for logs.
func (k EventKind) String() string {
	switch k {
	case EventNone:
		return "none"
	case EventOpen:
		return "open"
	case EventData:
		return "data"
	case EventPing:
		return "ping"
	case EventPong:
		return "pong"
	case EventClose:
		return "close"
	case EventClosed:
		return "closed"
	case EventRequest:
		return "request"
	case EventResponse:
		return "response"
	}
	return "invalid event"
}

// Event is one output of the engine, in the style of crypto/tls.QUICEvent: a
// flat struct whose Kind says which fields are set. Data points into the
// engine's receive buffers, which only the receive calls reuse: it stays
// valid until the next Receive, ReceiveBuffered or ReadBuffer call (any
// other call, Send and HandleTimeout included, leaves it alone); copy what
// you keep longer.
//
// Data events follow frames, not messages, so a proxy can forward frames as
// they come: one event per frame, or several for a frame larger than 16 KiB
// whose payload arrives in pieces. Opcode is the frame's opcode on its first
// event (text or binary starts a message, continuation continues one) and
// OpContinuation on later pieces of the same frame; More is true while
// pieces of the same frame follow; Fin is true on the event that ends the
// message. Rsv is the frame's RSV bits. A message whose first frame an
// extension owns is delivered decoded, with Rsv still showing the bits.
type Event struct {
	Kind   EventKind
	Opcode frame.Opcode
	Rsv    uint8
	Fin    bool
	More   bool
	// Code beside the small fields: an Event is copied on every message's
	// path, and so it is a word smaller (TestEventSize).
	Code frame.CloseCode
	Data []byte
	// FrameLength is the payload length of the frame a data event belongs
	// to, from its header: a capacity hint for whoever gathers the pieces.
	FrameLength uint64
	Reason      string
	Latency     time.Duration
	// Answered is, on EventPong, the number (see Conn.PingsSent) of the
	// latest ping this pong answers: that one and every earlier one are
	// answered. Zero for a pong that answers none.
	Answered uint64
	// Request is the client's handshake request (EventRequest).
	Request *http.Request
	// Response is the server's handshake response (EventResponse); its
	// Body is empty (the engine owns the bytes that follow it).
	Response *http.Response
}

package protocol

// State is where a connection is in its life.
type State uint8

const (
	// StateConnecting: the opening handshake is under way.
	StateConnecting State = iota
	// StateOpen: messages flow both ways.
	StateOpen
	// StateClosing: a close frame was sent or received, not both, or both
	// were and a client waits for the server to close the transport.
	StateClosing
	// StateClosed: the connection ended; CloseStatus says how.
	StateClosed
)

// String names the state, for logs.
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateClosing:
		return "closing"
	case StateClosed:
		return "closed"
	}
	return "invalid state"
}

// The transitions, all of them:
//
//	Connecting ─handshake ok─▶ Open ─close sent or received─▶ Closing ─both, or EOF, or timeout─▶ Closed
//	Connecting ─rejected, EOF, timeout─▶ Closed
//	Open ─EOF, failure─▶ Closed
//
// A failure (a peer violation, a keepalive timeout, Fail) sends a close frame
// if none was sent and goes straight to Closed: the transport closes as soon
// as Outgoing is written.

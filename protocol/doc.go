// Package protocol is the WebSocket connection state machine of RFC 6455:
// the opening handshake, framing, the close handshake and keepalive, for a
// client or a server. Bytes and time go in; events, bytes and deadlines come
// out. Over HTTP/2 (RFC 8441) the frames are the same and only the opening
// handshake differs: it is HTTP/2 HEADERS, which the engine takes and gives
// as values (NewServerFromRequest and Response for a server; ClientOptions
// HTTP2, Request and ReceiveResponse for a client) while applying the same
// rules.
//
// Invariants:
//   - No I/O: the engine never touches a socket, never blocks, never starts
//     a goroutine and never reads a clock. Time is the now argument of every
//     call that can change state, and never goes backwards.
//   - No caller's slice is kept after a call returns; event Data and
//     Outgoing are views into the engine's buffers with documented lifetimes.
//   - Nothing is lost: every data frame received before a close frame is
//     delivered before the close event, and data handed to Send before Close
//     is written before the close frame.
//   - Output is bounded against the peer: what the engine writes on its own
//     in answer to input is at most 16 pending pongs (past them a ping's
//     pong replaces the last one not yet taken, RFC 6455 §5.5.3; a few
//     pings sent together each get their pong) and one close frame,
//     however many pings arrive; what the application sends
//     is bounded by its driver. A peer that takes none of our bytes for
//     Config.WriteTimeout (20 s by default) is failed: 1006 with
//     ErrWriteTimeout, noticed between that and 1.5 times it (the driver
//     reports what it wrote: Advance, or Wrote after TakeOutgoing). After
//     the end, what is left to write has Config.CloseTimeout (Deadline).
//   - Errors are of three kinds, never mixed: peer violations
//     (*frame.ProtocolError, with the close code sent), API misuse
//     (ErrInvalidState and friends, nothing changed), and how the connection
//     ended (*CloseError in CloseStatus).
//
// Start with NewClient or NewServer (the handshake included) or
// NewEstablished (handshake done elsewhere), then drive the Conn as its doc
// comment says. Package protocoltest runs a client and a server against
// each other in memory with a fake clock.
package protocol

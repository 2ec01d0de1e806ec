// Package adapters is wsengine for applications: WebSocket connections over
// net/http and net.Conn, and the only package an application imports.
//
//   - Accept upgrades a net/http request (server); Dial connects (client,
//     ws:// and wss://); NewConn runs a connection whose handshake was done
//     elsewhere.
//   - A Conn reads and writes messages: Read and Write (whole messages),
//     Reader and Writer (streams), ReadJSON and WriteJSON; or Options.OnMessage
//     to have messages delivered to a callback. Ping measures the round trip;
//     Close runs the close handshake, CloseNow drops the connection; Done and
//     CloseStatus say how it ended; NetConn is a net.Conn view.
//   - The connection's end is a *CloseError: IsClean(err) for 1000 and 1001,
//     errors.Is(err, ErrKeepaliveTimeout) for a peer that went silent,
//     CloseCodeOf(err) for the code (0 when err is not a close error).
//   - Config (every zero field is its default) sets the message limit,
//     keepalive and the timeouts; SetReadLimit changes one connection's limit.
//
// Underneath, package protocol is the pure engine and package assembler the
// message queue; adapters moves bytes, time and goroutines, and every
// protocol decision is made in package protocol.
//
// # Concurrency
//
// Every method of a Conn may be called from any goroutine, OnMessage
// included, at the same time as any other. The rules that make that safe:
//
//   - One lock guards the engine and is never held during I/O.
//   - Reading: at most one goroutine reads the socket, the holder of the read
//     token. A Read (or a stream Reader's Read, or NetConn's Read) that finds
//     no message queued takes the token and reads the socket itself, so a
//     message reaches a waiting reader with no goroutine in between. When no
//     call has read for a quarter second, a ping is awaiting its pong, Close or Ping
//     waits for the peer, or the connection waits for the peer's EOF, a
//     background reader does it, and gives the token back to the first Read
//     that comes (it interrupts the background reader's socket read). With
//     Options.OnMessage the background reader runs for the connection's life
//     and calls the callback between reads.
//   - Writing: at most one goroutine writes the socket, the holder of the
//     write token, and it writes until no output is left, so bytes queued by
//     others (pongs, close replies, keepalive pings) go out behind its own.
//     Whole messages are serialised; frames never interleave. Background
//     writers never wait for the token; an application call waits its turn
//     bounded by its own ctx.
//   - A ctx bounds only its own call. Only the holder of a token sets a
//     deadline on the socket, for its own ctx. A message that its ctx cuts
//     short fails the connection (part of a frame may be on the wire): that
//     call returns ctx.Err(), every other call the close error. A Ping whose
//     ctx ends leaves the connection alone.
//   - One timer per connection, from the injected Clock, created once and
//     reset: keepalive, the close and open timeouts, the background reader's
//     start, and the end of the waits below.
//   - When the engine ends the connection (a close handshake, a failure, a
//     keepalive timeout), every pending call returns at once with the close
//     error: a blocked Read is interrupted, and a write blocked on a peer that
//     does not read gets 100 ms before the socket is closed under it. Closing
//     the socket never waits for either token.
//   - The transport ends as RFC 6455 §7.1.1 says: after this side's close
//     frame is written, the write side is shut (CloseWrite) and the socket is
//     read until the peer's EOF or the close timeout, then closed, so unread
//     bytes do not make the kernel reset the connection and destroy the close
//     frame in flight.
//   - Flow control: when the queue reaches its high water mark the socket is
//     not read until the application catches up, and the engine is told
//     (protocol.Conn.PauseReading), so keepalive neither sends pings whose
//     pongs could not be read nor fails a healthy peer. Close reads anyway.
//   - A message's reply goes out before what the bytes after it cause: the
//     engine stops after each message (protocol.Conn.SetStopAfterMessage), so
//     an echo of a message received just before a protocol violation is
//     written before the failure's close frame.
//   - Inside OnMessage nothing is read until the callback returns: Close there
//     sends the close frame and returns at once, and Ping waits for its ctx.
//   - A read that has waited a second for the peer is parked: the engine's
//     read buffer is released and the read goes on into 64 bytes of the
//     Conn's own, so an idle connection holds no read buffer.
//   - No goroutine, timer or buffer outlives a closed connection.
package adapters

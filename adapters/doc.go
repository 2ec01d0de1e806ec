// Package adapters is wsengine for applications: WebSocket connections over
// net/http and net.Conn, and the only package an application imports.
//
//   - Accept upgrades a net/http request (server); Dial connects (client,
//     ws:// and wss://); NewConn runs a connection whose handshake was done
//     elsewhere.
//   - A Conn reads and writes messages: Read and Write (whole messages),
//     ReadAppend (whole messages into the caller's reused buffer), Reader
//     and Writer (streams), ReadJSON and WriteJSON; or Options.OnMessage
//     to have messages delivered to a callback. Send and SendPrepared queue
//     a message without waiting for the socket, bounded by
//     Options.SendLimit; NewPreparedMessage and Broadcast send one message,
//     encoded once, to many connections. Ping measures the round trip;
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
//     token. A Read, ReadAppend, stream Reader's Read or NetConn's Read that
//     finds no message queued takes the token and reads the socket itself, so a
//     message reaches a waiting reader with no goroutine in between. When no
//     call has read for a quarter second, a ping is awaiting its pong, Close or Ping
//     waits for the peer, or the connection waits for the peer's EOF, a
//     background reader does it, and gives the token back to the first Read
//     that comes (it interrupts the background reader's socket read). With
//     Options.OnMessage the background reader runs for the connection's life
//     and calls the callback between reads.
//   - Writing: at most one goroutine writes the socket, the holder of the
//     write token, and it writes until no output is left, so bytes queued by
//     others (pongs, close replies, keepalive pings, Send's messages) go out
//     behind its own. Whole messages are serialised; frames never
//     interleave. Background writers never wait for the token; an
//     application call waits its turn bounded by its own ctx. Send appends
//     its message to the engine's output and starts a writer goroutine if
//     none writes; a Send while a Writer is open waits in order behind it,
//     never on the socket.
//   - One bound on output: the engine's count of unsent bytes (its output
//     and what the writer holds). A peer's input adds at most one pong to
//     it; Send refuses or fails the connection (1008, ErrSendQueueFull) past
//     Options.SendLimit; Write waits; a peer that takes none of it for
//     Config.WriteTimeout is failed (ErrWriteTimeout).
//   - A ctx bounds only its own call. Only the holder of a token sets a
//     deadline on the socket, for its own ctx. A message that its ctx cuts
//     short fails the connection (part of a frame may be on the wire): that
//     call returns ctx.Err(), every other call the close error. A Ping whose
//     ctx ends leaves the connection alone.
//   - One timer per connection, from the injected Clock, created once and
//     reset: keepalive, the close and open timeouts, the background reader's
//     start, and the end of the waits below.
//   - When the engine ends the connection (a close handshake, a failure, a
//     keepalive or write timeout), every pending call returns at once with
//     the close error: a blocked Read is interrupted, and a write blocked on
//     a peer that does not read gets 100 ms before the socket is closed
//     under it. Closing the socket never waits for either token.
//   - Hostile and stuck peers: a peer's pings cost at most one pending pong
//     (protocol's output bound) and one OnPing call at a time, so a ping
//     flood from a peer that never reads holds the connection's memory
//     constant (under 1 MiB, measured: about 100 KiB). A peer that takes
//     none of our bytes for Config.WriteTimeout (20 s) is failed with
//     ErrWriteTimeout (1006) whatever the application is doing, a paused
//     reader and a Write blocked on it included: writes go out in 128 KiB
//     pieces, and each counts as the peer's progress.
//   - The transport ends as RFC 6455 §7.1.1 says: after this side's close
//     frame is written, the socket is read until the peer's EOF or the
//     close timeout, then closed, so unread bytes do not make the kernel
//     reset the connection and destroy the close frame in flight. A
//     transport that can (CloseWrite) half-closes first, and the peer ends
//     sooner; one that cannot (a wrapped net.Conn) still lingers, unless the
//     peer's close frame came already.
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
//     Conn's own. The buffers only the next messages would reuse go too
//     (the write buffers, a Writer's, the queue's spare, OnMessage's, and
//     those permessage-deflate gathers compressed messages in), so an idle
//     connection holds no buffer, however large its last messages. With
//     context takeover the compression contexts are state, and stay: the
//     last 32 KiB a peer's compressor may refer to (a server imposes none
//     with Options.Compression's ClientNoContextTakeover), and this side's
//     compressor if its ContextTakeover keeps it.
//   - Once Accept has hijacked an HTTP/1.1 connection it lets go of
//     net/http's 4 KiB read and write buffers, which net/http keeps
//     referenced until the handler returns: a handler that runs its
//     connection in a Read loop holds about 11 KiB per idle connection,
//     heap and goroutine stack (bench/: 10.6 KiB at 9,800 connections).
//   - No goroutine, timer or buffer outlives a closed connection.
//
// # WebSockets over HTTP/2
//
// RFC 8441 runs a WebSocket on one stream of an HTTP/2 connection, opened
// by an extended CONNECT (:protocol websocket) and answered 200; after
// that, the frames are the same. Browsers use it when the server
// advertises SETTINGS_ENABLE_CONNECT_PROTOCOL.
//
//   - The switch: Go's net/http advertises it only in a process started
//     with GODEBUG=http2xconnect=1 (read once, in net/http's init; neither
//     os.Setenv in main nor a //go:debug directive works). Without it,
//     browsers open their WebSockets over HTTP/1.1, and Accept serves those
//     as always. r.Proto in the handler, or the response's ProtoMajor on a
//     client, says which one a connection used.
//   - Accept serves an extended CONNECT on the request's stream: the engine
//     validates it (package protocol: RFC 8441 rules, then origin,
//     subprotocol and permessage-deflate as over HTTP/1.1), the answer goes
//     out as the response's headers, and the request body and the flushed
//     response carry the frames. Every behaviour of a Conn is the same:
//     keepalive, the close handshake and its timeouts, limits, compression,
//     NetConn, the bounded calls.
//   - The stream is the handler's and ends when the handler returns, so the
//     handler must not return before the connection is over. For such a
//     Conn, Done, Close and the close error returned by Read, Write and the
//     rest wait until the stream is released (within the close timeout and
//     100 ms): a handler that returns after any of them is safe; one that
//     hands the Conn to another goroutine and returns at once ends the
//     WebSocket. Closing the WebSocket ends its stream, not the TCP
//     connection the other streams share.
//   - Neither a request body read nor a response write can be interrupted
//     without net/http resetting the stream, so one goroutine pumps each
//     side through a 16 KiB buffer, and the Conn's deadlines apply to those
//     buffers as a socket's apply to the kernel's.
//   - Dial opens one when DialOptions.HTTP2 holds an HTTP2Client; share it
//     among Dials to multiplex their WebSockets on one TCP connection.
package adapters

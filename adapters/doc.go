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
// included, at the same time as any other.
//
//   - One lock guards the engine and is never held during I/O. One goroutine
//     at a time reads the socket and one writes it, for everyone: the writer
//     writes until no output is left (pongs, close replies, pings, Send's
//     messages); whole messages never interleave.
//   - Reading: a Read (ReadAppend, a Reader's Read, NetConn's Read) that finds
//     no message queued reads the socket itself. A background reader takes
//     over when no call has read for a quarter second or something must be
//     read now (an awaited pong, Close, the peer's EOF), and the next Read
//     takes the socket back. With Options.OnMessage the background reader
//     runs for the connection's life and calls the callback between reads:
//     nothing is read while it runs, and Close there returns at once.
//   - Writing: Write waits its turn, bounded by its ctx; Send never waits on
//     the socket (one non-blocking write, a writer goroutine for the rest);
//     Broadcast leaves a room's writes to sweeps, which write what a busy
//     feed queued for a member meanwhile in one system call.
//   - Bounds: a ctx bounds only its own call; a message it cuts short fails
//     the connection (that call returns ctx.Err(), the others the close
//     error), a Ping whose ctx ends leaves it alone. Unsent output is one
//     count, the engine's: Send refuses or fails past Options.SendLimit,
//     Write waits, and a peer that takes none of it for Config.WriteTimeout
//     is failed (ErrWriteTimeout). A peer's pings cost at most 16 pending
//     pongs and one OnPing call at a time.
//   - Flow control: at the queue's high water mark (or on Pause, until
//     Resume) the socket is not read and the engine is told, so keepalive
//     neither pings nor fails a peer the application is slow to read. Close
//     reads anyway.
//   - Order: the reply to a message goes out before what the bytes after it
//     cause. Time: one timer per connection, from the injected Clock.
//   - The end: every pending call returns the close error at once; output
//     not yet written gets the close timeout before the socket closes under
//     it (none after CloseNow or a failed write). After this side's close
//     frame the socket is half-closed and read until the peer's EOF or the
//     close timeout (RFC 6455 §7.1.1), so that a reset destroys nothing.
//   - Memory: a read that has waited a second is parked: an idle connection
//     holds no buffer (compression windows with context takeover stay), and
//     keepalive leaves it parked. A busy one reads into at most 64 KiB. Its
//     buffers grow through one pool's size classes and a park gives them
//     back, so waking for a large message takes them from the pool. No
//     goroutine, timer or buffer outlives a closed connection.
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
//     rest wait until the stream is released (within twice the close
//     timeout): a handler that returns after any of them is safe; one that
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

// Package loop runs WebSocket connections in a few event loops instead of
// a goroutine each: the engine (package protocol) driven by epoll on
// Linux, for servers with many mostly idle connections.
//
//	srv, _ := loop.NewServer(loop.Options{
//		OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) { c.Send(op, p) },
//	})
//	srv.Serve(ln) // or mount srv (an http.Handler) in a mux
//
// # The loops
//
// NewServer starts Options.Loops loops (GOMAXPROCS by default), each an
// epoll instance and one goroutine that owns its connections: it alone
// reads their sockets, runs their engines' input and timers, runs their
// callbacks and closes their sockets. Serve accepts on a goroutine of its
// own and hands each TCP connection to a loop, which reads the request:
// a WebSocket upgrade goes to the engine's sans-I/O handshake (no
// net/http per connection); any other request leaves the loop with the
// bytes read so far for net/http's ordinary serving (Options.HTTP).
// A request net/http already read (ServeHTTP, srv as a handler) is
// hijacked and handed over the same way, Dial runs ws:// clients on the
// loops, and NewConn takes a connection whose handshake was done
// elsewhere.
//
// # Callbacks run on the loop
//
// OnOpen, OnMessage and OnClose of one connection run one at a time, in
// order, on its loop. While one runs, the loop's other connections wait:
// a callback must not block (no network calls, no waiting on a channel
// another connection's callback fills). Send, Close and Pause return at
// once and may be called there. Hand slow work to a goroutine of your
// own, with Pause and Resume for flow control. OnMessage's p is the
// loop's memory, valid until it returns.
//
// # The rules, per connection
//
//   - Output: Send and SendPrepared from any goroutine frame the message
//     into the engine's output under the connection's lock and write it at
//     once, non-blocking; what the socket does not take is written by the
//     loop when the socket is writable (edge-triggered EPOLLOUT, registered
//     once with EPOLLIN: no epoll_ctl after the first). Broadcast leaves
//     the write to each member's loop instead, so that the messages a busy
//     feed queues for a member before its loop gets to it go out in one
//     system call; past 16 KiB waiting for one member the caller writes,
//     which slows it to the sockets' pace. Unsent output is bounded by
//     Options.SendLimit with Options.SendFull's policy, as in package
//     adapters, and the engine's write watchdog (Config.WriteTimeout) fails
//     a peer that takes none of it. Send, SendPrepared, Broadcast and Close
//     keep the order of their calls.
//   - Flow control: while unsent output is above Options.HighWater the
//     connection is not read (a peer that does not read its echoes is not
//     read either) until it is down to a quarter, and keepalive does not
//     fail it meanwhile; Pause does the same for the application. Close
//     reads anyway. The engine decides (protocol.Conn.HoldInput), for
//     goroutine-driven connections too (adapters.Options.OutputHighWater).
//   - Time: one timer per loop, epoll_wait's timeout, over a heap of the
//     engines' deadlines (keepalive, open, close, write watchdog, linger).
//   - The end: after the engine's close, the socket is half-closed and
//     read until the peer's EOF or the close timeout (RFC 6455 §7.1.1),
//     unless the peer's EOF came already, then closed by the loop; output
//     the peer does not take gets the close timeout too. The engine decides
//     (protocol.Conn.EndTransport), as for goroutine-driven connections.
//     OnClose runs when the engine ends, before that linger.
//   - Memory: an idle connection holds its engine (576 bytes) and a Conn
//     (128), no buffer. Each loop lends one 64 KiB scratch read buffer and
//     one event slice to the connection it reads; a connection keeps a
//     buffer only while part of a frame waits for the rest, or output
//     waits for the socket. Write and gathering buffers come from the
//     server's pool in power-of-two size classes (4 KiB to 256 KiB, the
//     one pool type package adapters uses too): output that piles up moves
//     into a buffer of the next class, and the one it leaves goes back
//     (protocol.Conn.SwapWriteBuffer), so coalesced output grows without
//     allocating once the pool is warm, and so does a message gathered
//     from fragments (assembler.Buffers); the garbage collector empties the
//     pool after a burst. A prepared message waiting alone for a member's
//     socket is the message's own frame, shared by every member
//     (protocol.Conn.OutputShared), not a buffer per member.
//     The handshake's request is parsed where it was read and dropped after
//     OnOpen (see Conn.Request).
//   - System calls: reads and writes on the non-blocking sockets are raw
//     (the scheduler is not told, as they never block), and a loop polls
//     a few times before it sleeps in epoll_wait.
//
// # TLS and other systems
//
// A loop reads plain TCP sockets. wss connections (a TLS listener given
// to Serve, or ServeHTTP behind net/http's TLS), HTTP/2 streams (RFC
// 8441), hijacked connections that are not a *net.TCPConn, and every
// connection where epoll does not exist (build tag !linux) run on package
// adapters' goroutine driver under the same callbacks and Conn API.
//
// Shutdown closes every connection with 1001 and waits; Close drops them.
// Either leaves no goroutine and no descriptor of the server's behind.
package loop

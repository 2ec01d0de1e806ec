// Package ws is wsengine, a sans-I/O WebSocket engine (RFC 6455, RFC 7692
// and, over HTTP/2, RFC 8441) for Go. This package holds only documentation; the code lives in
// small packages with one job each.
//
// # Packages
//
//   - frame: frame headers, masking, close payloads and incremental UTF-8
//     validation. Pure functions and small value types; zero allocations.
//   - protocol: the connection state machine, from the HTTP/1.1 upgrade
//     handshake (or HTTP/2's extended CONNECT) to the closed state, for a
//     client or a server. Bytes and time
//     in; events, bytes and deadlines out. No goroutines, no sockets, no
//     clock reads.
//   - assembler: the message queue between the engine and the application.
//     It joins frames into messages, applies flow control with high and low
//     water marks, and closes only after every message already received has
//     been read.
//   - adapters: the only code that touches sockets and goroutines: Dial,
//     Accept for net/http (HTTP/1.1 and HTTP/2), a message API and a
//     net.Conn view.
//   - fuzz: fuzz targets and rapid properties across the packages.
//
// # Data flow
//
//	net.Conn / http.Handler ──adapters──▶ protocol.Conn ──events──▶ assembler.Queue ──▶ application
//	          ▲                               │  ▲                         │
//	          └────────── outgoing bytes ─────┘  └── now, Deadline ◀───────┘ (pause/resume reading)
//
// # The drive loop
//
// A driver (the adapters, a test, or an event loop of your own) repeats:
//
//  1. Feed input: Receive(now, bytes) for what the socket read (or read
//     straight into ReadBuffer(n) and call ReceiveBuffered(now, read), which
//     saves the copy), ReceiveEOF(now) when it ended, HandleTimeout(now) when
//     Deadline() has passed; or issue a command (Send, Ping, Close).
//  2. Drain the outputs in this order: write Outgoing() to the socket and
//     Advance by what was written; take every NextEvent() until it reports
//     none; close the socket if ShouldCloseTransport(); arm a timer for
//     Deadline().
//  3. While InputPending() (Receive stops after 256 pending events, or after
//     each message with SetStopAfterMessage), call Receive(now, nil) and
//     drain again before reading the socket.
//
// # Time
//
// The engine never reads a clock. Every call that can change state takes
// now time.Time from the caller, Deadline says when to call back, and
// HandleTimeout acts: it sends keepalive pings, fails the connection with
// 1011 when a pong is missing, and gives up a close handshake that takes too
// long. Time must not go backwards. Tests drive it with a fake clock that
// jumps to the earliest deadline, so every timer is exercised byte for byte
// and instantly; the adapters inject a real clock by default.
package ws

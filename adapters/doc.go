// Package adapters binds protocol.Conn and assembler.Queue to net.Conn and
// net/http: Dial, Accept, NewConn, and a Conn with message, streaming,
// ping, close and net.Conn APIs. It moves bytes, time and goroutines; every
// protocol decision is made in package protocol.
//
// Inside a Conn: one read goroutine feeds the engine what the socket reads
// and hands data events to the queue, pausing while the queue is above its
// high water mark; one timer, armed at the engine's Deadline, drives
// keepalive and the close timeout; writes are serialised by a write lock
// that is never held while the engine is, so a peer that stops reading
// cannot stall the read goroutine (it only queues its pongs and close
// replies, which the blocked writer flushes after its own write). When the
// engine asks, the socket is closed once its last bytes are written. No
// goroutine or timer outlives a Conn that has closed.
//
// Concurrency: Write, Writer, Ping, Close and CloseStatus may be called from
// any goroutine; concurrent writes are serialised whole messages, never
// interleaved frames. Reads (Read, Reader, NetConn's Read) are for one
// goroutine at a time.
package adapters

// Package assembler is the message queue between protocol.Conn and the
// application. It joins data frames into messages, lets a reader stream a
// long message as it arrives, applies flow control with high and low water
// marks, and closes only after every message already received has been
// consumed (design.md P1: Python websockets 14.0 emptied its queue on close
// and lost the message that arrived with the close frame).
//
// Invariants:
//   - Close never discards: complete messages queued before it are returned,
//     in order, without blocking; only then does Next return the close error.
//     A message cut short by the close is reported as ErrIncompleteMessage,
//     never delivered as if complete.
//   - Push copies what it keeps; the engine's buffers are reused.
//   - What Next and NextAppend return is the caller's: the queue never
//     writes to it again. Next hands over a buffer of the message's own;
//     NextAppend copies into the caller's and keeps the queue's for reuse.
//   - A cancelled Next or Read leaves the queue exactly as it was.
//   - With Config.Buffers, the buffers the queue gathers in for itself
//     come from it and go back to it; none is ever handed to the caller.
//   - Queued bytes are bounded: a message over MaxMessageSize is refused, and
//     Paused tells the producer to stop reading at HighWater until the
//     reader has brought the queue down to LowWater.
//
// Concurrency: one producer (Push, PushEvent, Close) and any number of
// consumers (Next, NextAppend, TryNext, NextReader) may run at the same
// time. Concurrent Next and NextAppend calls each get distinct whole
// messages. A message streamed by a Reader belongs to that stream until it
// is read to io.EOF: meanwhile Next, NextAppend and TryNext return
// ErrStreamInProgress (waiting could deadlock a reader that abandoned its
// stream), and NextReader continues the same message.
package assembler

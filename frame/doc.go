// Package frame is the pure, allocation-free layer of RFC 6455 framing:
// frame headers, masking, close payloads and incremental UTF-8 validation.
//
// Invariants:
//   - Nothing here holds state beyond what the caller passes in; every
//     function is safe to call from any goroutine on its own data.
//   - No function allocates on success or on failure, with one exception:
//     ParseClose returns a non-empty close reason as a string, a copy that
//     outlives the payload (one allocation of at most 123 bytes, once per
//     connection). Parse errors are preallocated *ProtocolError values
//     carrying the close code to send (1002 protocol error, 1007 invalid
//     data).
//   - Parsers are incremental in the style of bufio.SplitFunc: a result of
//     n == 0 with a nil error means "not enough bytes yet", never failure.
//   - Functions never retain a caller's slice after they return.
//
// Decisions that depend on negotiated state (RSV bits, which side must mask,
// size limits) belong to the caller, package protocol; Header only exposes
// the bits.
package frame

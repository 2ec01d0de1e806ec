// Package protocol is the WebSocket connection state machine: bytes and time
// in, events, bytes and deadlines out. It never reads a clock, never blocks,
// never starts a goroutine and never keeps a caller's slice.
package protocol

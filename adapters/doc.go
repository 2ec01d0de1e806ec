// Package adapters binds protocol.Conn and assembler.Queue to net.Conn and
// net/http. It moves bytes, time and goroutines; every protocol decision is
// made in package protocol.
package adapters

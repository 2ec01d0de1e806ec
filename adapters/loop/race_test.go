//go:build race

package loop

// RaceEnabled: under the race detector sync.Pool drops a quarter of what it
// is given, on purpose, so pooled buffers are allocated again. (Exported
// from a test file, for the external tests too.)
const RaceEnabled = true

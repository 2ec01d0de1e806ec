//go:build race

package loop_test

// raceEnabled: under the race detector sync.Pool drops a quarter of what it
// is given, on purpose, so pooled buffers are allocated again.
const raceEnabled = true

//go:build race

package deflate_test

// raceEnabled: under the race detector sync.Pool drops a quarter of what it
// is given, on purpose, so pooling shows less.
const raceEnabled = true

//go:build race

package bufpool

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put, at random, so a buffer put is not always the one got back.
const raceEnabled = true

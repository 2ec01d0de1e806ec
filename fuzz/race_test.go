//go:build race

package fuzz

// raceEnabled: under the race detector the properties over real sockets
// draw shorter sequences, so that the package's run (about a minute and a
// half) does not crowd out the time-bounded interop tests that CI runs
// beside it.
const raceEnabled = true

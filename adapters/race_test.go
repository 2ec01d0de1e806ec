//go:build race

package adapters_test

// raceEnabled: the race detector makes goroutine stacks larger, so the
// stack budgets do not apply under it.
const raceEnabled = true

//go:build race

package adapters_test

// raceEnabled: the race detector makes goroutine stacks larger, so the
// stack budgets do not apply under it, and its sync.Pool drops buffers at
// random, so allocation counts that rely on the pool are not checked under
// it. The README's test command runs those tests again without it.
const raceEnabled = true

//go:build !race

package loop

const RaceEnabled = false

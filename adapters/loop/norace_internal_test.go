//go:build linux && !race

package loop

const raceDetector = false

//go:build linux && race

package loop

const raceDetector = true

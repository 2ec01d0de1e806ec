//go:build unix

package adapters_test

import (
	"syscall"
	"testing"
)

// raiseFileLimit lifts the soft limit on open files to the hard limit.
func raiseFileLimit(t *testing.T, need uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip("no rlimit:", err)
	}
	if lim.Cur < need {
		lim.Cur = min(need, lim.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

//go:build !unix

package adapters_test

import "testing"

// raiseFileLimit does nothing where there is no rlimit: the memory tests
// run with the default limit on open files.
func raiseFileLimit(*testing.T, uint64) {}

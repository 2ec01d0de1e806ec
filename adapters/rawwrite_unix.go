//go:build unix

package adapters

import "syscall"

// rawWrites says whether a TCP socket takes the non-blocking writes of
// canWriteNow here.
const rawWrites = true

func rawWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

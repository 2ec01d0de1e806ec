//go:build !unix

package adapters

import "errors"

// rawWrites: elsewhere (Windows) every write goes through the net.Conn.
const rawWrites = false

func rawWrite(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }

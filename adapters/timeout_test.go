package adapters

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// isTimeout recognises what a socket read cut by a deadline returns,
// directly (a net.Conn's own *net.OpError) or wrapped, and nothing else.
func TestIsTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	a.SetReadDeadline(time.Now())
	_, deadline := a.Read(make([]byte, 1))
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a pipe's deadline", deadline, true},
		{"an OpError", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"wrapped", fmt.Errorf("read: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
		{"EOF", io.EOF, false},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, false},
	}
	for _, tt := range tests {
		if got := isTimeout(tt.err); got != tt.want {
			t.Errorf("%s: isTimeout(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

package bench

import (
	"fmt"

	gorilla "github.com/gorilla/websocket"
)

// EchoSizes are the message sizes of the echo benchmarks.
var EchoSizes = []int{16, 1 << 10, 64 << 10}

// SizeName renders a size as 16B, 1KiB, 64KiB, 1MiB.
func SizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func closeAll(cs []*gorilla.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

package adapters

import (
	"net"
	"testing"
	"time"
)

// TestMonoClock: a connection's clock reads as time.Now does: never
// backwards, within a millisecond of time.Now on both its monotonic and
// its wall reading, and usable for deadlines set on a socket.
func TestMonoClock(t *testing.T) {
	m := &monoClock{base: time.Now()}
	prev := m.Now()
	for i := 0; i < 1000; i++ {
		before := time.Now()
		now := m.Now()
		after := time.Now()
		if now.Before(prev) {
			t.Fatalf("clock went back: %v after %v", now, prev)
		}
		if now.Before(before) || now.After(after) {
			t.Fatalf("monotonic reading %v not within [%v, %v]", now, before, after)
		}
		if d := now.Round(0).Sub(after.Round(0)); d > time.Millisecond || d < -time.Millisecond {
			t.Fatalf("wall reading %v off time.Now's by %v", now.Round(0), d)
		}
		prev = now
	}
	// A connection made without Options.Clock runs on its own monoClock.
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, RoleServer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if mc, ok := c.clock.(*monoClock); !ok || mc != &c.mono {
		t.Fatalf("clock is %T, want the connection's monoClock", c.clock)
	}
}

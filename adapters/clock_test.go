package adapters

import (
	"net"
	"testing"
	"time"
)

// TestMonoClock: a connection's clock reads as time.Now does: never
// backwards, and between two time.Now calls made around it, on both its
// monotonic and (within a millisecond) its wall reading.
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
		// The wall readings bracket it too, but for the system clock's
		// slewing since base: a millisecond is ample.
		if w := now.Round(0); w.Before(before.Round(0).Add(-time.Millisecond)) || w.After(after.Round(0).Add(time.Millisecond)) {
			t.Fatalf("wall reading %v not within [%v, %v] ± 1 ms", w, before.Round(0), after.Round(0))
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

package loop

import "testing"

// The heap files a connection under the earliest deadline it was given
// since it was last popped: a later one leaves it in place (it is popped
// early and filed again), an earlier one moves it up, zero removes it.
func TestTimerHeapFilesEarliest(t *testing.T) {
	var h timerHeap
	cs := make([]*Conn, 4)
	for i := range cs {
		cs[i] = &Conn{hidx: -1}
	}
	h.set(cs[0], 40)
	h.set(cs[1], 20)
	h.set(cs[2], 30)
	h.set(cs[3], 10)
	h.set(cs[3], 50) // later: stays at 10
	h.set(cs[0], 5)  // earlier: moves up
	h.set(cs[2], 0)  // removed
	if !armed(cs[3].deadline, 50) || armed(cs[3].deadline, 9) || !armed(cs[2].deadline, 0) || armed(0, 7) {
		t.Fatal("armed disagrees with the filing")
	}
	var got []instant
	for len(h) > 0 {
		d, _ := h.next()
		c := h.pop()
		if c.hidx != -1 {
			t.Fatalf("popped connection still has index %d", c.hidx)
		}
		got = append(got, d)
	}
	want := []instant{5, 10, 20}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
}

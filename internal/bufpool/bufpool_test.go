package bufpool

import "testing"

// A pooled buffer holds what Get was asked for: a buffer is pooled in the
// largest class it fills and taken from the smallest that holds the size,
// so none grows by an append.
func TestClasses(t *testing.T) {
	for _, tc := range []struct{ put, get int }{
		{Min, 1}, {Min, Min}, {2*Min - 1, Min}, {2 * Min, Min + 1},
		{2 * Min, 2 * Min}, {3 * Min, 2 * Min}, {4 * Min, 4 * Min}, {Max, Max}, {Max, Max/2 + 1},
	} {
		var p Pool
		b := make([]byte, 0, tc.put)
		p.Put(b)
		got := p.Get(tc.get)
		if cap(got) < tc.get || len(got) != 0 {
			t.Errorf("put cap %d, Get(%d): len %d cap %d", tc.put, tc.get, len(got), cap(got))
		}
		if !raceEnabled && &got[:1][0] != &b[:1][0] {
			t.Errorf("put cap %d, Get(%d): not the pooled buffer", tc.put, tc.get)
		}
	}
}

// A buffer too small for a request stays pooled for a smaller one.
func TestGetSkipsSmallerClasses(t *testing.T) {
	var p Pool
	small := make([]byte, 0, Min)
	p.Put(small)
	if b := p.Get(Min + 1); cap(b) < Min+1 || &b[:1][0] == &small[:1][0] {
		t.Fatalf("Get(%d) returned cap %d", Min+1, cap(b))
	}
	if b := p.Get(1); !raceEnabled && &b[:1][0] != &small[:1][0] {
		t.Fatal("the small buffer was not kept for a small Get")
	}
}

// From an empty pool, and for sizes it does not pool, Get makes a buffer
// of the class (or, past Max, of the size); Put leaves buffers outside Min
// to Max alone.
func TestOutsideThePool(t *testing.T) {
	var p Pool
	for _, tc := range []struct{ size, cap int }{
		{0, Min}, {1, Min}, {Min, Min}, {Min + 1, 2 * Min}, {100 << 10, 128 << 10}, {Max, Max}, {Max + 1, Max + 1},
	} {
		if b := p.Get(tc.size); cap(b) != tc.cap || len(b) != 0 {
			t.Errorf("Get(%d) from an empty pool: len %d cap %d, want cap %d", tc.size, len(b), cap(b), tc.cap)
		}
	}
	for _, size := range []int{Min - 1, Max + 1} {
		b := make([]byte, 0, size)
		p.Put(b)
		for _, get := range []int{1, Min, Max} {
			if got := p.Get(get); &got[:1][0] == &b[:1][0] {
				t.Errorf("a buffer of cap %d was pooled and returned for Get(%d)", size, get)
			}
		}
	}
}

// Once warm, a Get and a Put allocate nothing.
func TestWarmPoolAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers at random under the race detector")
	}
	var p Pool
	for _, size := range []int{1, Min + 1, 64 << 10, Max} {
		p.Put(p.Get(size))
		if n := testing.AllocsPerRun(100, func() { p.Put(p.Get(size)) }); n != 0 {
			t.Errorf("Get(%d) and Put: %v allocations", size, n)
		}
	}
}

func BenchmarkGetPut(b *testing.B) {
	var p Pool
	b.ReportAllocs()
	for b.Loop() {
		p.Put(p.Get(16 << 10))
	}
}

// fakeOutput is an engine's output for MakeRoom: a buffer, and the
// engine's SwapWriteBuffer rule for output that waits (a larger spare
// takes it; a smaller one comes back).
type fakeOutput struct{ out []byte }

func (f *fakeOutput) Outgoing() []byte { return f.out }

func (f *fakeOutput) SwapWriteBuffer(spare []byte) []byte {
	if cap(spare) <= cap(f.out) {
		return spare
	}
	old := f.out[:0]
	f.out = append(spare[:0], f.out...)
	return old
}

// MakeRoom moves waiting output into a pooled buffer only when it lacks
// room and both fit the pool; the output is kept whole.
func TestMakeRoom(t *testing.T) {
	for _, tc := range []struct {
		name           string
		waiting, capa  int
		size           int
		moved          bool
		wantCapAtLeast int
	}{
		{"room enough", 100, Min, 100, false, Min},
		{"nothing waits", 0, 0, 100, false, 0},
		{"too little room", Min - 10, Min, 100, true, Min + 90},
		{"past the largest class", Max, Max + 10, Min, false, Max + 10},
	} {
		var p Pool
		f := &fakeOutput{out: make([]byte, tc.waiting, tc.capa)}
		for i := range f.out {
			f.out[i] = byte(i)
		}
		before := f.out
		p.MakeRoom(f, tc.size)
		moved := tc.waiting > 0 && &f.out[0] != &before[0]
		if moved != tc.moved || cap(f.out) < tc.wantCapAtLeast || len(f.out) != tc.waiting {
			t.Errorf("%s: moved %v (want %v), len %d cap %d", tc.name, moved, tc.moved, len(f.out), cap(f.out))
		}
		for i := range f.out {
			if f.out[i] != byte(i) {
				t.Fatalf("%s: byte %d changed", tc.name, i)
			}
		}
		if tc.moved && !raceEnabled {
			if back := p.Get(cap(before)); &back[:1][0] != &before[:1][0] {
				t.Errorf("%s: the buffer left did not go back to the pool", tc.name)
			}
		}
	}
}

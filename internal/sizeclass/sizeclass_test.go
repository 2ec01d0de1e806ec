package sizeclass

import "testing"

// Objects land in the class that holds them with the allocator's header: a
// pointerful object of 760 bytes (768 with its header) in the 768-byte
// class, one of 776 bytes in the 896-byte class, a pointer-free one of
// 768 bytes (no header) in the 768-byte class.
func TestCount(t *testing.T) {
	type fits struct {
		p *int
		b [752]byte
	}
	type over struct {
		p *int
		b [768]byte
	}
	type plain struct{ b [768]byte }
	const n = 1000
	for _, tc := range []struct {
		name        string
		class, want uint32
		count       func() uint64
	}{
		{"760 B with pointers", 768, n, func() uint64 { return Count(n, 768, func() *fits { return new(fits) }) }},
		{"776 B with pointers", 768, 0, func() uint64 { return Count(n, 768, func() *over { return new(over) }) }},
		{"776 B with pointers", 896, n, func() uint64 { return Count(n, 896, func() *over { return new(over) }) }},
		{"768 B without", 768, n, func() uint64 { return Count(n, 768, func() *plain { return new(plain) }) }},
	} {
		got := tc.count()
		if tc.want == 0 && got >= n || tc.want > 0 && got < uint64(tc.want) {
			t.Errorf("%s in the %d-byte class: %d of %d", tc.name, tc.class, got, n)
		}
	}
}

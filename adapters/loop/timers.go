package loop

// timerHeap orders a loop's connections by their next deadline: one timer
// per loop (epoll_wait's timeout), not one per connection.
type timerHeap []*Conn

func (h timerHeap) less(i, j int) bool { return h[i].deadline < h[j].deadline }

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = int32(i), int32(j)
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// set puts c at deadline d (zero: no timer), adding, moving or removing it.
func (h *timerHeap) set(c *Conn, d instant) {
	c.deadline = d
	switch {
	case d == 0:
		h.remove(c)
	case c.hidx < 0:
		c.hidx = int32(len(*h))
		*h = append(*h, c)
		h.up(int(c.hidx))
	default:
		if !h.down(int(c.hidx)) {
			h.up(int(c.hidx))
		}
	}
}

func (h *timerHeap) remove(c *Conn) {
	i := int(c.hidx)
	if i < 0 {
		return
	}
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	c.hidx = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// next is the earliest deadline, if any.
func (h timerHeap) next() (instant, bool) {
	if len(h) == 0 {
		return 0, false
	}
	return h[0].deadline, true
}

// pop removes and returns the connection with the earliest deadline.
func (h *timerHeap) pop() *Conn {
	c := (*h)[0]
	h.remove(c)
	return c
}

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

// set files c under deadline d (zero: no timer), adding, moving or
// removing it. A deadline later than the one c is filed under leaves it
// there: the keepalive deadline moves later with every message received,
// and moving c down the heap each time costs more than popping it once
// early, when expire finds nothing due and files it again.
func (h *timerHeap) set(c *Conn, d instant) {
	switch {
	case d == 0:
		c.deadline = 0
		h.remove(c)
	case c.hidx < 0:
		c.deadline = d
		c.hidx = int32(len(*h))
		*h = append(*h, c)
		h.up(int(c.hidx))
	case d < c.deadline:
		c.deadline = d
		h.up(int(c.hidx))
	}
}

// armed reports whether a connection filed under deadline at (zero: none)
// is popped in time for the engine's deadline d.
func armed(at, d instant) bool { return d == 0 || at != 0 && at <= d }

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

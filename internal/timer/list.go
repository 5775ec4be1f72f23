package timer

// list is an intrusive, circular, doubly linked list of timers threaded through Timer.next and Timer.prev.
// Only the head is stored (head.prev is the tail) so that an empty list, and each of the wheel's 704 slots,
// costs one word. Timers are appended at the tail, so a list keeps the order in which timers were added.
type list struct {
	head *Timer
}

func (l *list) empty() bool {
	return l.head == nil
}

// push appends t at the tail.
func (l *list) push(t *Timer) {
	h := l.head
	if h == nil {
		t.next, t.prev = t, t
		l.head = t
		return
	}
	tail := h.prev
	t.prev, t.next = tail, h
	tail.next = t
	h.prev = t
}

// remove unlinks t, which must be in l.
func (l *list) remove(t *Timer) {
	if t.next == t {
		l.head = nil
	} else {
		t.prev.next = t.next
		t.next.prev = t.prev
		if l.head == t {
			l.head = t.next
		}
	}
	t.next, t.prev = nil, nil
}

// popFront unlinks and returns the head, or nil when l is empty.
func (l *list) popFront() *Timer {
	t := l.head
	if t != nil {
		l.remove(t)
	}
	return t
}

// takeAll empties l and returns its timers as a nil-terminated chain through next (prev is left stale), which
// the caller walks while it moves every timer elsewhere.
func (l *list) takeAll() *Timer {
	h := l.head
	if h == nil {
		return nil
	}
	h.prev.next = nil
	l.head = nil
	return h
}

// sortByWhen orders l by deadline. The sort is stable, so timers with equal deadlines keep their order in l;
// it allocates nothing, costs O(n) when l is already sorted (the common case) and O(n log n) otherwise.
func (l *list) sortByWhen() {
	h := l.head
	if h == nil || h.next == h || sorted(h) {
		return
	}
	h.prev.next = nil // break the circle: from here on the chain is singly linked through next

	// Bottom-up merge sort driven like a binary counter: bins[i] is nil or a sorted run of 2^i timers. A higher
	// bin always holds timers that came earlier in l, so it is the left operand of every merge, and merge
	// prefers its left operand on ties: that is what keeps the sort stable.
	var bins [64]*Timer
	for h != nil {
		run := h
		h = h.next
		run.next = nil
		i := 0
		for ; bins[i] != nil; i++ {
			run = merge(bins[i], run)
			bins[i] = nil
		}
		bins[i] = run
	}
	var out *Timer
	for _, run := range bins {
		if run != nil {
			out = merge(run, out)
		}
	}

	// Restore the prev links and the circle.
	l.head = out
	prev := out
	for t := out.next; t != nil; t = t.next {
		t.prev = prev
		prev = t
	}
	prev.next = out
	out.prev = prev
}

// sorted reports whether the circular list starting at h is in deadline order.
func sorted(h *Timer) bool {
	for t := h; t.next != h; t = t.next {
		if t.next.when < t.when {
			return false
		}
	}
	return true
}

// merge merges two nil-terminated chains sorted by deadline; on equal deadlines a's timers come first.
func merge(a, b *Timer) *Timer {
	var out *Timer
	link := &out // the next pointer to fill in
	for a != nil && b != nil {
		if b.when < a.when {
			*link = b
			link, b = &b.next, b.next
		} else {
			*link = a
			link, a = &a.next, a.next
		}
	}
	if a != nil {
		*link = a
	} else {
		*link = b
	}
	return out
}

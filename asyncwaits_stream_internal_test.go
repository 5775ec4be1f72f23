package eddy

import "testing"

// A connection whose callback FIFO never empties (a steady stream of AsyncWrites to a peer that reads
// as fast as it is written, one write always in flight) must not grow the FIFO's array with every
// callback that ever ran: the waits that ran are dead and their slots are to be reused.
func TestAsyncWaitsSteadyStreamStaysBounded(t *testing.T) {
	var w asyncWaits
	cb := func(Conn, error) {}
	ran := 0
	w.add(1, cb) // one 1-byte write in flight
	for i := 0; i < 100000; i++ {
		w.add(2, cb) // the next 1-byte write, behind it
		if w.advance(1) != 1 {
			t.Fatalf("round %d: %d complete, want 1", i, w.ready)
		}
		for _, ok := w.next(); ok; _, ok = w.next() {
			ran++
		}
		if w.len() != 1 {
			t.Fatalf("round %d: %d waiting, want 1", i, w.len())
		}
	}
	if ran != 100000 {
		t.Fatalf("%d callbacks completed, want 100000", ran)
	}
	if c := cap(w.q); c > 4*maxKeptWaits {
		t.Fatalf("array of %d slots for at most 2 waits at a time", c)
	}
	for i := 0; i < w.head; i++ {
		if w.q[i].cb != nil {
			t.Fatalf("slot %d of a run wait still holds its callback", i)
		}
	}
}

// Compaction keeps the order and the byte accounting of the waits it moves, with waits complete but not
// yet popped among them.
func TestAsyncWaitsCompactionKeepsOrder(t *testing.T) {
	var w asyncWaits
	var fired []int
	mk := func(id int) func(Conn, error) { return func(Conn, error) { fired = append(fired, id) } }
	id := 0
	queued := 0
	for round := 0; round < 200; round++ {
		for k := 0; k < 3; k++ { // three 1-byte writes
			queued++
			w.add(int64(queued), mk(id))
			id++
		}
		w.advance(2) // two bytes out
		queued -= 2
		pops := 1 // some rounds leave complete waits unpopped when the next add compacts the array
		if round%2 == 1 {
			pops = 3
		}
		for ; pops > 0; pops-- {
			if x, ok := w.next(); ok {
				x.cb(nil, nil)
			}
		}
	}
	if cap(w.q) >= id {
		t.Fatalf("array of %d slots for %d waits: it never compacted", cap(w.q), id)
	}
	w.advance(queued)
	for x, ok := w.next(); ok; x, ok = w.next() {
		x.cb(nil, nil)
	}
	if len(fired) != id {
		t.Fatalf("%d fired, want %d", len(fired), id)
	}
	for i, v := range fired {
		if v != i {
			t.Fatalf("fired[%d] = %d: out of order", i, v)
		}
	}
}

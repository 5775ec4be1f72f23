package eddy

import "testing"

func TestAsyncWaitsCompleteInOrderAsBytesGoOut(t *testing.T) {
	var w asyncWaits
	var fired []int
	cb := func(id int) func(Conn, error) { return func(Conn, error) { fired = append(fired, id) } }
	w.add(10, cb(1)) // bytes 1..10
	w.add(15, cb(2)) // bytes 11..15
	w.add(40, cb(3)) // bytes 16..40
	run := func(n int) {
		w.advance(n)
		for x, ok := w.next(); ok; x, ok = w.next() {
			x.cb(nil, nil)
		}
	}
	run(9)
	if len(fired) != 0 {
		t.Fatalf("fired %v after 9 bytes", fired)
	}
	run(6) // 15 bytes out: the first two are complete
	if len(fired) != 2 || fired[0] != 1 || fired[1] != 2 {
		t.Fatalf("fired %v after 15 bytes, want [1 2]", fired)
	}
	w.add(30, cb(4)) // queued behind the 25 bytes left of write 3
	run(25)
	if len(fired) != 3 || w.len() != 1 {
		t.Fatalf("fired %v, %d waiting; want write 3 done and write 4 waiting", fired, w.len())
	}
	if left := w.take(); len(left) != 1 || w.len() != 0 {
		t.Fatalf("take returned %d, left %d", len(left), w.len())
	}
}

// A callback that registers another wait while the completed ones run (an AsyncWrite or a Flushed from
// the callback) goes behind them, and one with nothing ahead completes on the next advance, in order.
func TestAsyncWaitsAddedByACallbackRunAfterTheCompletedOnes(t *testing.T) {
	var w asyncWaits
	var fired []int
	var cb func(id int) func(Conn, error)
	cb = func(id int) func(Conn, error) {
		return func(Conn, error) {
			fired = append(fired, id)
			if id == 1 {
				w.add(0, cb(3)) // a Flushed with nothing queued
				w.add(5, cb(4)) // a write of 5 more bytes
			}
		}
	}
	w.add(4, cb(1))
	w.add(8, cb(2))
	for n := 8; w.advance(n) > 0; n = 0 {
		for x, ok := w.next(); ok; x, ok = w.next() {
			x.cb(nil, nil)
		}
	}
	if want := []int{1, 2, 3}; len(fired) != 3 || fired[0] != 1 || fired[1] != 2 || fired[2] != 3 {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	if w.len() != 1 {
		t.Fatalf("%d waiting, want the 5-byte write", w.len())
	}
	w.advance(5)
	if x, ok := w.next(); !ok || x.cb == nil {
		t.Fatal("the 5-byte write did not complete")
	}
	if _, ok := w.next(); ok || w.len() != 0 {
		t.Fatalf("left %d", w.len())
	}
}

// Once emptied, the queue keeps its array: a connection written from other goroutines registers its
// callbacks without allocating, while a burst longer than maxKeptWaits lets its array go.
func TestAsyncWaitsReuseTheirArray(t *testing.T) {
	var w asyncWaits
	cb := func(Conn, error) {}
	cycle := func(k int) {
		for i := 1; i <= k; i++ {
			w.add(int64(i), cb)
		}
		w.advance(k)
		for _, ok := w.next(); ok; _, ok = w.next() {
		}
	}
	cycle(4)
	if allocs := testing.AllocsPerRun(100, func() { cycle(4) }); allocs != 0 {
		t.Fatalf("%v allocations per cycle, want 0", allocs)
	}
	cycle(maxKeptWaits + 1)
	if w.q != nil || w.len() != 0 {
		t.Fatalf("kept an array of %d after a burst of %d", cap(w.q), maxKeptWaits+1)
	}
}

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
		for _, x := range w.advance(n) {
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
	if len(fired) != 3 || len(w) != 1 {
		t.Fatalf("fired %v, %d waiting; want write 3 done and write 4 waiting", fired, len(w))
	}
	if left := w.take(); len(left) != 1 || len(w) != 0 {
		t.Fatalf("take returned %d, left %d", len(left), len(w))
	}
}

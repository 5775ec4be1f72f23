package http1

import (
	"errors"
	"testing"
	"time"
)

// The helper behind the three waits for a deadline another goroutine may move (response.awaitAck,
// the hijacked connection's Read and Write, the body's Read): awaitDeadline.

type awaitResult struct {
	v  error
	ok bool
}

func startAwait(d *deadline, ready <-chan error, done <-chan struct{}) <-chan awaitResult {
	res := make(chan awaitResult, 1)
	go func() {
		v, ok := awaitDeadline(d, ready, done)
		res <- awaitResult{v, ok}
	}()
	return res
}

func newTestDeadline() *deadline { return &deadline{moved: make(chan struct{}, 1)} }

// blocked asserts that the wait has not ended, giving it a moment to do so wrongly.
func blocked(t *testing.T, res <-chan awaitResult, what string) {
	t.Helper()
	select {
	case r := <-res:
		t.Fatalf("%s: the wait ended (%v, %v); it should still wait", what, r.v, r.ok)
	case <-time.After(50 * time.Millisecond):
	}
}

func ended(t *testing.T, res <-chan awaitResult, what string) awaitResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the wait did not end", what)
		return awaitResult{}
	}
}

func TestAwaitDeadlineReadyAndDone(t *testing.T) {
	d := newTestDeadline()
	ready := make(chan error, 1)
	errX := errors.New("x")
	ready <- errX
	if v, ok := awaitDeadline(d, ready, nil); !ok || v != errX {
		t.Fatalf("got (%v, %v), want (x, true)", v, ok)
	}
	done := make(chan struct{})
	res := startAwait(d, ready, done)
	blocked(t, res, "no deadline")
	close(done)
	if r := ended(t, res, "done closed"); !r.ok || r.v != nil {
		t.Fatalf("done: got (%v, %v), want (nil, true)", r.v, r.ok)
	}
}

func TestAwaitDeadlinePast(t *testing.T) {
	d := newTestDeadline()
	d.set(time.Now().Add(-time.Second))
	if !d.passed() {
		t.Fatal("a deadline in the past has not passed")
	}
	ready := make(chan error, 1)
	if _, ok := awaitDeadline(d, ready, nil); ok {
		t.Fatal("a wait past its deadline did not fail at once")
	}
	// An outcome already in still counts.
	ready <- nil
	if _, ok := awaitDeadline(d, ready, nil); !ok {
		t.Fatal("a wait past its deadline ignored the outcome already in")
	}
	// A wake-up left by the move does not make a wait past its deadline wait.
	d.set(time.Now().Add(-time.Second))
	if _, ok := awaitDeadline(d, ready, nil); ok {
		t.Fatal("a wait past its deadline, with a move pending, did not fail")
	}
}

func TestAwaitDeadlineMoves(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first time.Duration // 0: none
		move  func(d *deadline)
		fails bool // the wait ends at the moved deadline; else it goes on until ready
	}{
		{"none to past", 0, func(d *deadline) { d.set(time.Now().Add(-time.Millisecond)) }, true},
		{"none to soon", 0, func(d *deadline) { d.set(time.Now().Add(20 * time.Millisecond)) }, true},
		{"far to past", time.Hour, func(d *deadline) { d.set(time.Now()) }, true},
		{"far to soon", time.Hour, func(d *deadline) { d.set(time.Now().Add(20 * time.Millisecond)) }, true},
		{"soon to far", 300 * time.Millisecond, func(d *deadline) { d.set(time.Now().Add(time.Hour)) }, false},
		{"soon to none", 300 * time.Millisecond, func(d *deadline) { d.set(time.Time{}) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDeadline()
			start := time.Now()
			if tc.first > 0 {
				d.set(start.Add(tc.first))
				<-d.moved // set before the wait: no wake-up pending
			}
			ready := make(chan error, 1)
			res := startAwait(d, ready, nil)
			blocked(t, res, "before the move")
			tc.move(d)
			if tc.first > 0 && time.Since(start) >= tc.first {
				t.Skip("inconclusive: the move came after the first deadline (a starved machine)")
			}
			if tc.fails {
				if r := ended(t, res, "after the move"); r.ok {
					t.Fatal("the wait ended without its deadline passing")
				}
				return
			}
			// Past the first deadline, the wait goes on.
			time.Sleep(tc.first + 100*time.Millisecond)
			blocked(t, res, "past the first deadline")
			ready <- nil
			if r := ended(t, res, "ready"); !r.ok {
				t.Fatal("the wait failed at a deadline that had been moved")
			}
		})
	}
}

// A body Read blocked without a deadline wakes when SetReadDeadline sets one in the past, and a
// later or cleared one lets it go on (the pipe's moves wake it through ready).
func TestBodyPipeDeadlineMoves(t *testing.T) {
	p := &bodyPipe{ready: make(chan struct{}, 1), contentLength: -1, ctx: &requestContext{}}
	wait := func() <-chan awaitResult {
		res := make(chan awaitResult, 1)
		go func() {
			_, ok := awaitDeadline(&p.dl, p.ready, nil)
			res <- awaitResult{ok: ok}
		}()
		return res
	}
	res := wait()
	blocked(t, res, "no deadline")
	p.setDeadline(time.Now().Add(time.Hour))
	if r := ended(t, res, "moved"); !r.ok {
		t.Fatal("a move to later failed the wait")
	}
	res = wait()
	blocked(t, res, "an hour's deadline")
	p.setDeadline(time.Now().Add(-time.Second))
	ended(t, res, "moved to the past") // the wake-up: the Read looks again
	if _, ok := awaitDeadline(&p.dl, p.ready, nil); ok {
		t.Fatal("a wait past the moved deadline did not fail")
	}
	if !p.deadlinePassed() {
		t.Fatal("deadlinePassed: false for a deadline in the past")
	}
}

// A wait with a deadline reuses its deadline's timer: after the first, it allocates nothing (a
// streaming handler with a WriteTimeout waits at every Flush).
func TestAwaitDeadlineReusesItsTimer(t *testing.T) {
	d := newTestDeadline()
	d.set(time.Now().Add(time.Hour))
	<-d.moved
	ready := make(chan error, 1)
	wait := func() {
		ready <- nil
		if _, ok := awaitDeadline(d, ready, nil); !ok {
			t.Fatal("the wait failed")
		}
	}
	wait()
	if n := testing.AllocsPerRun(50, wait); n != 0 {
		t.Fatalf("%v allocations per wait, want 0", n)
	}
}

// Two goroutines waiting on one deadline at once (reads of a hijacked conn) each see it pass: the
// second makes a timer of its own rather than share the first's.
func TestAwaitDeadlineTwoWaitersBothTimeOut(t *testing.T) {
	d := newTestDeadline()
	d.set(time.Now().Add(100 * time.Millisecond))
	<-d.moved
	a := startAwait(d, make(chan error), nil)
	b := startAwait(d, make(chan error), nil)
	for _, res := range []<-chan awaitResult{a, b} {
		if r := ended(t, res, "a waiter"); r.ok {
			t.Fatal("a wait succeeded without its outcome")
		}
	}
}

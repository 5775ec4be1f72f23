package eddy

import (
	"errors"
	"time"

	"github.com/eddyio/eddy/internal/netpoll"
	"github.com/eddyio/eddy/internal/uring"
)

// urParker lets a uring loop sleep in the Go runtime's poller instead of in io_uring_enter.
//
// A loop blocked in io_uring_enter keeps its P: held (a raw system call, invisible to the scheduler)
// or in the syscall state, which the runtime's monitor notices only after 20 µs to 10 ms. With every
// P held by a loop (the default: one loop per P), nothing else in the process runs meanwhile, and
// nobody polls the network for the goroutines that wait on package net sockets: an in-process net
// client of a uring server waited 400 µs per round trip with one P (docs/uring-engine.md). A goroutine
// parked in the runtime's poller gives its P up at once, and the thread that takes the P polls the
// network for every goroutine, the loop's included.
//
// The ring tells the poller through an eventfd registered with IORING_REGISTER_EVENTFD. With
// DEFER_TASKRUN the ring descriptor itself never becomes readable for a completion (its work waits for
// the ring's thread), but the registered eventfd is signalled as soon as that work is queued. While the
// loop runs, the signal is switched off (IORING_CQ_EVENTFD_DISABLED), so a busy loop pays nothing for
// it. The loop goroutine stays locked to its thread (SINGLE_ISSUER), so a park costs the runtime a
// hand-off of the P to another thread and back: the loop parks only when the uring loops hold every P,
// and a busy one only after a held wait found nothing (urLoop.wait).
type urParker struct {
	ring   *uring.Ring
	waker  *netpoll.Waker // the eventfd: registered with the ring, and written by the loop's wakers while it is parked
	pf     *pollFile      // a duplicate of the eventfd, in the runtime's poller
	poll   func(uintptr) bool
	failed error // the runtime's poller failed: the loop no longer parks
}

// newUrParker creates the eventfd and registers it with r, on the loop's thread. It fails when the
// kernel or the runtime cannot do it; the loop then waits in io_uring_enter.
func newUrParker(r *uring.Ring) (*urParker, error) {
	w, err := netpoll.NewWaker()
	if err != nil {
		return nil, err
	}
	if err := r.RegisterEventFD(w.FD()); err != nil {
		w.Close()
		return nil, err
	}
	fail := func(err error) (*urParker, error) {
		r.UnregisterEventFD()
		w.Close()
		return nil, err
	}
	if !r.SetEventFDEnabled(false) {
		return fail(errors.New("the kernel has no IORING_CQ_EVENTFD_DISABLED (5.8)"))
	}
	// A duplicate, because the wakers write the original until the loop's task queue is closed
	// (loopCore.waker).
	pf, err := newPollFile(w.FD(), "io_uring eventfd")
	if err != nil {
		return fail(err)
	}
	k := &urParker{ring: r, waker: w, pf: pf}
	k.poll = func(uintptr) bool {
		if k.waker.Drain() {
			return true // signalled: completions or their work are queued, or a waker wrote
		}
		return k.ring.CQReady() > 0
	}
	return k, nil
}

// park submits what is queued and, unless that posts completions, sleeps until the ring has some or
// timeout has passed (a negative timeout: no limit), then lets the kernel post the completions whose
// work woke it. It reports whether it slept. An error of the runtime's poller is kept in k.failed.
func (k *urParker) park(timeout time.Duration) (bool, error) {
	r := k.ring
	r.SetEventFDEnabled(true)
	// Work queued while the signal was off does not signal now: run it first (SetEventFDEnabled), all
	// of it, as one enter runs at most 20 items and the rest signal nothing (SubmitAndRun).
	if _, err := r.SubmitAndRun(); err != nil || r.CQReady() > 0 || r.TaskWorkPending() {
		r.SetEventFDEnabled(false)
		return false, err
	}
	if err := k.pf.wait(timeout, k.poll); err != nil {
		k.failed = err
	}
	r.SetEventFDEnabled(false)
	_, err := r.SubmitAndRun()
	return true, err
}

// close closes the eventfd and its duplicate, once the ring is closed and the loop's task queue too.
func (k *urParker) close() {
	if k != nil {
		k.pf.close()
		k.waker.Close()
	}
}

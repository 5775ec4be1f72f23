package pool

import (
	"sync/atomic"
	"time"
)

// publishEvery bounds how many completed tasks a busy worker keeps to itself before
// publishing them for Stats: an atomic add per task would cost more than a tiny task.
const publishEvery = 64

// worker is one goroutine of a pool. Its counters are written only by itself and read by
// Stats; the padding keeps two workers' counters off the same cache line.
type worker struct {
	p         *Pool
	completed atomic.Uint64 // published: lags by less than publishEvery, exact when parked
	panics    atomic.Uint64

	// Used only by the worker's own goroutine.
	done    uint64      // tasks that returned, published or not
	timer   *time.Timer // idle timer, made on the first park of an elastic worker
	mark    uint64      // tasks run when the idle timer was last armed
	uncount bool        // shrink already took this worker out of p.workers
	parked  bool        // woken from parking by Stop and still counted idle
	_       [cacheLine]byte
}

// loop is the body of the worker goroutine: run first, then take tasks until the pool stops
// or the worker has been idle long enough to exit.
func (w *worker) loop(first task) {
	p := w.p
	normal := false
	defer func() {
		if !normal {
			// A task called runtime.Goexit (run has reported it): this goroutine is
			// ending but the worker is not, so it goes on in a new one.
			go w.loop(task{})
			return
		}
		w.exit()
	}()
	if first.r != nil {
		w.run(first)
	}
	for !p.abandon.Load() {
		select {
		case t := <-p.tasks:
			p.taken()
			w.run(t)
			continue
		default:
		}
		if !w.park() {
			break
		}
	}
	normal = true
}

// park waits for a task, for the pool to stop, or for the idle timer. It reports whether the
// worker should go on.
func (w *worker) park() bool {
	p := w.p
	w.publish()
	var expire <-chan time.Time
	if p.cfg.idle > 0 && p.cfg.minWorkers < p.cfg.maxWorkers {
		expire = w.idleTimer()
	}
	p.parking()
	select {
	case t := <-p.tasks:
		// Taking the task ends the parking: slack is unchanged.
		p.idle.Add(-1)
		w.run(t)
		return true
	case <-p.quit:
		// Still counted idle until it runs a task or has left the count (exit): a Stop that
		// gives up meanwhile does not report it as running.
		w.parked = true
		w.drain()
		return false
	case <-expire:
		p.unpark()
		return w.expired()
	}
}

// idleTimer returns the channel of the worker's idle timer, arming it the first time.
// Afterwards the timer is re-armed only when it fires, not for every task: a worker exits
// between one and two idle timeouts after its last task.
func (w *worker) idleTimer() <-chan time.Time {
	if w.timer == nil {
		w.timer = time.NewTimer(w.p.cfg.idle)
		w.mark = w.runs()
	}
	return w.timer.C
}

// runs counts the tasks this worker has run, whatever their end.
func (w *worker) runs() uint64 {
	return w.done + w.panics.Load()
}

// publish makes the completed count exact for Stats.
func (w *worker) publish() {
	if n := w.done - w.completed.Load(); n != 0 {
		w.completed.Add(n)
	}
}

// expired handles the idle timer firing. It reports whether the worker should go on.
func (w *worker) expired() bool {
	p := w.p
	if n := w.runs(); n != w.mark || !p.shrink() {
		// Busy during the last period, or the pool is at its minimum: stay.
		w.mark = n
		w.timer.Reset(p.cfg.idle)
		return true
	}
	// This worker is no longer counted. A submitter that queued a task, or began to wait for
	// room, while it was still counted may have started no worker for it, so look once more
	// before leaving; one that does so after this point sees the lower count and starts a
	// worker itself (submit announces its wait before its last look at the count). The worker
	// comes back only into a free place: taking the task here and counting itself back
	// regardless could run one task more than the maximum, if a submitter has started a
	// worker in its place meanwhile. Without a place, the workers counted now take the task.
	if (len(p.tasks) > 0 || p.waiting.Load() > 0) && p.recount() {
		w.mark = w.runs()
		w.timer.Reset(p.cfg.idle)
		return true
	}
	w.uncount = true
	return false
}

// drain runs what is left in the queue after the pool has stopped, unless Stop gives up.
func (w *worker) drain() {
	p := w.p
	for !p.abandon.Load() {
		select {
		case t := <-p.tasks:
			if w.parked {
				w.parked = false
				p.unpark()
			}
			p.taken()
			w.run(t)
		default:
			return
		}
	}
}

// run runs one task, recovering and reporting a panic so that the worker survives it.
func (w *worker) run(t task) {
	normal := false
	defer func() {
		switch {
		case normal:
		case t.owned: // a Goexit, reported on the task's future (task)
			w.done++
		default:
			w.panics.Add(1)
			w.p.report(recover())
		}
	}()
	t.r.run()
	normal = true
	if w.done++; w.done%publishEvery == 0 {
		w.publish()
	}
}

// exit removes the worker from the pool, keeping its counts.
func (w *worker) exit() {
	p := w.p
	if w.timer != nil {
		w.timer.Stop()
	}
	if !w.uncount {
		p.workers.Add(-1)
	}
	if w.parked {
		p.unpark()
	}
	w.publish()
	p.mu.Lock()
	delete(p.live, w)
	p.doneCompleted += w.completed.Load()
	p.donePanics += w.panics.Load()
	p.mu.Unlock()
	p.unref()
}

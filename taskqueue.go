package eddy

import "sync"

// task is a unit of work queued onto a loop from another goroutine: fn(t), with its argument in arg.
// Passing the argument separately lets the common tasks (close a connection, hand over a socket) avoid
// allocating a closure. The other fields carry a Conn method's request inline, so that an AsyncWrite or
// an Execute from another goroutine allocates nothing (arg then holds the connection's pointer): b and cb
// are an AsyncWrite's bytes and callback, do an Execute's function. Other tasks leave them empty.
type task struct {
	fn  func(t *task)
	arg any
	b   []byte
	cb  func(Conn, error)
	do  func(Conn)
}

// taskQueue is a bounded multi-producer queue drained by one loop. Producers append under a mutex and the
// loop swaps the whole slice out in one step, so a burst of tasks costs one lock round per side and no
// allocation once both slices have grown. (A lock-free list would need a node allocation per task; with the
// swap, contention is limited to a few instructions per push.)
type taskQueue struct {
	mu     sync.Mutex
	tasks  []task
	spare  []task
	cap    int
	closed bool
}

// push appends a task and then calls wake, both under the queue's lock. It fails with ErrQueueFull at
// capacity (unless always is set) and ErrEngineStopped once the queue is closed. Calling wake under the lock
// orders it before close: the loop closes its wake-up descriptor only after closing the queue, so a
// producer can never write to a descriptor that was closed (and perhaps reused by another file).
//
// always is for work that is bounded by other means (at most one close request per connection, one
// hand-over per accepted socket) and must not be refused.
func (q *taskQueue) push(t task, always bool, wake func()) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return ErrEngineStopped
	case !always && len(q.tasks) >= q.cap:
		return ErrQueueFull
	}
	q.tasks = append(q.tasks, t)
	if wake != nil {
		wake()
	}
	return nil
}

// ifOpen runs fn under the queue's lock unless the queue is closed; see push.
func (q *taskQueue) ifOpen(fn func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		fn()
	}
}

// pending reports whether tasks are waiting.
func (q *taskQueue) pending() bool {
	q.mu.Lock()
	n := len(q.tasks)
	q.mu.Unlock()
	return n > 0
}

// run runs every task queued so far and returns how many ran. Tasks queued by the tasks themselves run on
// the next call, so one call is bounded.
//
// A task that ends the goroutine (runtime.Goexit: the loop then stops, loopCore.serveGuarded) leaves
// the tasks after it at the head of the queue, so that they run all the same.
func (q *taskQueue) run() int {
	q.mu.Lock()
	batch := q.tasks
	q.tasks = q.spare[:0]
	q.mu.Unlock()
	i := 0
	defer func() {
		if i < len(batch) { // batch[i] did not return
			q.mu.Lock()
			queued := q.tasks // in the spare array: copied out, cleared, so that it keeps no task alive
			q.tasks = append(batch[i+1:len(batch):len(batch)], queued...)
			clear(queued)
			q.mu.Unlock()
			batch[i] = task{} // the rest may be q.tasks now (append reuses batch's array when nothing was queued)
		}
	}()
	for ; i < len(batch); i++ {
		batch[i].fn(&batch[i])
		batch[i] = task{}
	}
	q.mu.Lock()
	q.spare = batch[:0]
	q.mu.Unlock()
	return len(batch)
}

// close rejects further pushes and returns the tasks still queued, for the caller to run or drop.
func (q *taskQueue) close() []task {
	q.mu.Lock()
	q.closed = true
	left := q.tasks
	q.tasks = nil
	q.mu.Unlock()
	return left
}

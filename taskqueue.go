package eddy

import "sync"

// task is a unit of work queued onto a loop from another goroutine: fn(arg). Passing the argument
// separately lets the common tasks (close a connection, hand over a socket) avoid allocating a closure.
type task struct {
	fn  func(arg any)
	arg any
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

// push appends a task. It fails with ErrQueueFull at capacity and ErrEngineStopped once the queue is closed.
func (q *taskQueue) push(t task) error {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return ErrEngineStopped
	case len(q.tasks) >= q.cap:
		q.mu.Unlock()
		return ErrQueueFull
	}
	q.tasks = append(q.tasks, t)
	q.mu.Unlock()
	return nil
}

// pushAlways appends a task even past the capacity. It is for work that is bounded by other means (at
// most one close request per connection, one hand-over per accepted socket) and must not be refused.
func (q *taskQueue) pushAlways(t task) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrEngineStopped
	}
	q.tasks = append(q.tasks, t)
	q.mu.Unlock()
	return nil
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
func (q *taskQueue) run() int {
	q.mu.Lock()
	batch := q.tasks
	q.tasks = q.spare[:0]
	q.mu.Unlock()
	for i := range batch {
		batch[i].fn(batch[i].arg)
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

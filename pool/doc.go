// Package pool is eddy's thread-pool model: a bounded pool of worker goroutines with a bounded
// queue, for blocking and CPU-heavy work that must stay off the event loops. Submit waits for
// room (or its context), TrySubmit fails fast with ErrFull, Go returns a future.Future for a
// function's result, and a Pool is a future.Executor so that continuations can run on it.
//
// # Design notes
//
// The queue is a buffered channel of tasks (a function and a flag): a submission is one
// non-blocking channel send and allocates nothing. Workers are started on demand, up to the maximum, when a task is queued
// and no worker is idle; those above the minimum exit after being idle for the idle timeout
// (measured with one timer per worker, re-armed at most once per timeout, never per task). A
// pool whose minimum equals its maximum is a fixed pool, started in New.
//
// Submissions pass through a gate, one atomic word holding a stopping bit and the number of
// submitters inside. Stop sets the bit, wakes submitters blocked for room, and once the last one
// is out, no task can enter the queue: workers then drain it and exit. If Stop's context ends
// first, Stop removes what is still queued, counts it, and returns a *StopError; tasks already
// running are not interrupted. Queue entries carry a flag for what must not be dropped even
// then (Execute's continuations, which run on a goroutine of their own, and Go's tasks, whose
// futures fail with ErrStopped). Counters that change per task (completed, panics) live in each
// worker, on its own cache line, and are summed by Stats.
//
// A panic in a task is recovered on the worker, counted and given to the panic handler; the
// worker carries on. A task that calls runtime.Goexit is reported the same way, and its worker
// goes on in a new goroutine. The tasks of Go, and the continuations that package future runs
// with a Pool as Executor (which package future hands over through an internal hook, as tasks
// marked as reporting their own end), are not: their panics and Goexits are reported on their
// futures only.
package pool

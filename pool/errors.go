package pool

import (
	"errors"
	"fmt"
)

var (
	// ErrFull is the error of TrySubmit when every worker is busy and the queue is full.
	ErrFull = errors.New("pool: full")

	// ErrStopped is the error of a submission to a pool that Stop has been called on.
	ErrStopped = errors.New("pool: stopped")
)

// errNilFunc is the error of Submit and TrySubmit given a nil function.
var errNilFunc = errors.New("pool: nil function submitted")

// StopError is the error of Stop when its context ends before the pool has drained. The tasks
// still queued at that moment were dropped without running (apart from those of Execute and Go:
// see Stop); tasks already running go on to their end, since a goroutine cannot be interrupted.
type StopError struct {
	Dropped int   // queued tasks removed without running
	Running int   // workers that had not exited when Stop gave up: running a task, or about to exit
	Err     error // the context's error
}

// Error describes what Stop gave up on.
func (e *StopError) Error() string {
	return fmt.Sprintf("pool: stop abandoned: dropped %d queued tasks, %d still running: %v",
		e.Dropped, e.Running, e.Err)
}

// Unwrap returns the context's error, so that errors.Is(err, context.DeadlineExceeded) holds
// for a Stop that ran out of time.
func (e *StopError) Unwrap() error {
	return e.Err
}

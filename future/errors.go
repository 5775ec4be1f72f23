package future

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

var (
	// ErrPending is the error Result returns for a future that is not complete yet.
	ErrPending = errors.New("future: not complete")

	// ErrInvalid is the error of the zero Future, which no promise can complete.
	ErrInvalid = errors.New("future: zero Future")

	// ErrNoFutures is the error of Any and Race called with no futures.
	ErrNoFutures = errors.New("future: no futures")

	// ErrTimeout is the error of a WithTimeout future whose time ran out. It wraps
	// context.DeadlineExceeded, so errors.Is(err, context.DeadlineExceeded) holds.
	ErrTimeout = fmt.Errorf("future: timed out: %w", context.DeadlineExceeded)

	// ErrGoexit is the error of a future whose function called runtime.Goexit
	// (for instance through testing.T.FailNow) instead of returning.
	ErrGoexit = errors.New("future: function called runtime.Goexit")
)

// PanicError is the error of a future whose function, or whose Executor, panicked.
// Value is what was passed to panic and Stack the goroutine's stack where it was recovered.
type PanicError struct {
	Value any
	Stack []byte
}

// newPanicError records a value returned by recover, with the current stack.
func newPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error returns "future: panic: " followed by the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("future: panic: %v", e.Value)
}

// Unwrap returns the panic value when it is an error, so that errors.Is and
// errors.As see through the panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// recovered turns what recover returned in a deferred call into an error. A nil value
// means the goroutine is unwinding through runtime.Goexit (a nil panic is reported by
// the runtime as a non-nil *runtime.PanicNilError).
func recovered(v any) error {
	if v == nil {
		return ErrGoexit
	}
	return newPanicError(v)
}

package uring

import "errors"

// ErrUnavailable is matched (with errors.Is) by every error from Available: io_uring cannot be used by
// this process. The error also wraps the underlying cause, such as unix.EPERM or unix.ENOSYS.
var ErrUnavailable = errors.New("io_uring unavailable")

// ErrClosed is returned by operations on a Ring or BufRing that has been closed.
var ErrClosed = errors.New("uring: ring closed")

// unavailableError explains why io_uring cannot be used. It matches ErrUnavailable and its cause.
type unavailableError struct {
	reason string
	err    error
}

func (e *unavailableError) Error() string {
	if e.err == nil {
		return "uring: " + ErrUnavailable.Error() + ": " + e.reason
	}
	return "uring: " + ErrUnavailable.Error() + ": " + e.reason + ": " + e.err.Error()
}

func (e *unavailableError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.err}
}

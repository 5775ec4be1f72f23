//go:build !linux

package uring

import "errors"

// Available reports why io_uring cannot be used: it exists only on Linux. The error matches
// ErrUnavailable and errors.ErrUnsupported.
func Available() error {
	if err := injectedSetupFault(); err != nil {
		return &unavailableError{reason: "io_uring_setup failed", err: err}
	}
	return &unavailableError{reason: "io_uring is Linux-only", err: errors.ErrUnsupported}
}

//go:build !linux

package aio

import (
	"errors"
	"fmt"
)

// uringBackend is io_uring's, which only Linux has; newUringBackend says so.
type uringBackend struct{ backend }

func newUringBackend(int) (*uringBackend, error) {
	return nil, fmt.Errorf("aio: io_uring backend: io_uring is Linux's: %w", errors.ErrUnsupported)
}

//go:build !unix

package http1

import (
	"errors"
	"os"
	"syscall"
)

// dupFile cannot duplicate descriptors portably here: such sources are copied instead.
func dupFile(syscall.Conn, string) (*os.File, error) {
	return nil, errors.New("http1: no descriptor duplication on this platform")
}

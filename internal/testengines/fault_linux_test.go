package testengines

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// setUnavailable makes io_uring's setup fail as a container's seccomp profile makes it, until the
// returned function is called.
func setUnavailable(*testing.T) func() { return uring.SetSetupFaultForTest(unix.EPERM) }

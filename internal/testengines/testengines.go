// Package testengines lists the engines the test suites of eddy's packages run on: epoll, uring and
// std on Linux, std elsewhere. The uring engine is left out where io_uring is unavailable (an old
// kernel, kernel.io_uring_disabled, a container's seccomp profile), so that the suites pass there
// with its tests skipped, unless EDDY_REQUIRE_URING is set, on a machine that must have it: then its
// tests run, and fail. It is for tests only.
package testengines

import (
	"os"
	"testing"

	"github.com/eddyio/eddy"
)

// List returns the engines to run every test on, in the order tests run them.
func List() []eddy.EngineKind {
	if UringMissing() != "" {
		return withoutUring
	}
	return all
}

// UringMissing returns why the uring engine is left out of List on this machine, or "" when it is
// not (it runs, or the platform has no such engine). It probes io_uring on each call (a ring set up
// and closed, tens of microseconds), so that a fault a test injects is seen.
func UringMissing() string {
	if !hasUring || os.Getenv("EDDY_REQUIRE_URING") != "" {
		return ""
	}
	return uringUnavailable()
}

// SkipMissingUring shows, as a skipped subtest of t, that the uring engine is left out of List here:
// the suites' loops over List call it, so that a run on such a machine says what it did not test.
func SkipMissingUring(t *testing.T) {
	if why := UringMissing(); why != "" {
		t.Run(string(eddy.EngineUring), func(t *testing.T) {
			t.Skipf("io_uring is unavailable here (EDDY_REQUIRE_URING=1 makes this fail): %s", why)
		})
	}
}

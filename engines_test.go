package eddy_test

import (
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/testengines"
)

// testEngines lists the engines every test runs on: epoll, uring and std on Linux (uring only where
// io_uring is available, or EDDY_REQUIRE_URING is set), std elsewhere.
func testEngines() []eddy.EngineKind { return testengines.List() }

// skipMissingUring shows, as a skipped subtest of t, that the uring engine is left out here.
func skipMissingUring(t *testing.T) {
	if why := testengines.UringMissing(); why != "" {
		t.Run(string(eddy.EngineUring), func(t *testing.T) {
			t.Skipf("io_uring is unavailable here (EDDY_REQUIRE_URING=1 makes this fail): %s", why)
		})
	}
}

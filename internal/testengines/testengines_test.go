package testengines

import (
	"slices"
	"testing"

	"github.com/eddyio/eddy"
)

// List leaves uring out, with a reason, where io_uring is unavailable, and keeps it when
// EDDY_REQUIRE_URING asks for it.
func TestUringLeftOutWhereUnavailable(t *testing.T) {
	if !hasUring {
		if slices.Contains(List(), eddy.EngineUring) || UringMissing() != "" {
			t.Fatalf("List() = %v, UringMissing() = %q on a platform without uring", List(), UringMissing())
		}
		return
	}
	t.Setenv("EDDY_REQUIRE_URING", "")
	defer setUnavailable(t)()
	if why := UringMissing(); why == "" || slices.Contains(List(), eddy.EngineUring) {
		t.Fatalf("io_uring made unavailable: List() = %v, UringMissing() = %q", List(), why)
	}
	t.Setenv("EDDY_REQUIRE_URING", "1")
	if why := UringMissing(); why != "" || !slices.Contains(List(), eddy.EngineUring) {
		t.Fatalf("with EDDY_REQUIRE_URING: List() = %v, UringMissing() = %q", List(), why)
	}
}

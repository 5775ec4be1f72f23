package eddy_test

import (
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/testengines"
)

// testEngines lists the engines every test runs on (testengines.List).
func testEngines() []eddy.EngineKind { return testengines.List() }

// skipMissingUring shows, as a skipped subtest of t, that the uring engine is left out here.
func skipMissingUring(t *testing.T) { testengines.SkipMissingUring(t) }

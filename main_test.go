package eddy_test

import (
	"os"
	"testing"

	"github.com/eddyio/eddy/internal/fdcheck"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	if os.Getenv(benchServerEnv) != "" {
		os.Exit(runBenchServer())
	}
	fdcheck.Main(m)
}

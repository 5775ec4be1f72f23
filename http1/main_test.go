package http1_test

import (
	"testing"

	"github.com/eddyio/eddy/internal/fdcheck"
)

func TestMain(m *testing.M) {
	fdcheck.Main(m)
}

package main

import (
	"testing"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// An argument that is not a flag is a usage error (status 2), as an unknown flag is. echo ignored
// it and started serving: "echo 127.0.0.1:9001", meaning the address, served on the default
// address instead, and a typo went unnoticed.
func TestUnexpectedArgumentIsUsageError(t *testing.T) {
	prog := progtest.Build(t)
	progtest.UsageError(t, progtest.ExitTimeout, prog, `unexpected argument "127.0.0.1:9001"`, "-addr", "tcp://127.0.0.1:0", "127.0.0.1:9001")
}

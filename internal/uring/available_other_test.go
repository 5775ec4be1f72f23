//go:build !linux

package uring

import (
	"errors"
	"testing"
)

func TestAvailableReportsUnsupportedOS(t *testing.T) {
	err := Available()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Available() = %v, want ErrUnavailable and errors.ErrUnsupported", err)
	}
}

func TestSetSetupFaultForTestIsReported(t *testing.T) {
	fault := errors.New("injected")
	restore := SetSetupFaultForTest(fault)
	defer restore()
	if err := Available(); !errors.Is(err, fault) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available() = %v, want the injected fault", err)
	}
}

package uring

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProbeReportsrequiredOps(t *testing.T) {
	r := newRing(t, 8)
	ops, err := r.Probe()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel supports %d opcodes", ops.Len())
	if miss := ops.Missing(requiredOps...); len(miss) > 0 {
		t.Fatalf("missing %v", miss)
	}
	if ops.Has(Op(255)) {
		t.Fatal("opcode 255 reported as supported")
	}
}

func TestAvailableHere(t *testing.T) {
	err := Available()
	if err != nil {
		if os.Getenv("EDDY_REQUIRE_URING") != "" {
			t.Fatal(err)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Available() = %v, which does not match ErrUnavailable", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

func TestSetSetupFaultForTestFailsSetup(t *testing.T) {
	requireURing(t)
	for _, tc := range []struct {
		fault  error
		reason string
	}{
		{unix.EPERM, "seccomp"},
		{unix.ENOSYS, "not implemented"},
		{unix.ENOMEM, "RLIMIT_MEMLOCK"},
	} {
		t.Run(tc.fault.Error(), func(t *testing.T) {
			restore := SetSetupFaultForTest(tc.fault)
			defer restore()
			if r, err := New(8, WithoutSingleIssuer()); !errors.Is(err, tc.fault) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("New = %v, want %v", err, tc.fault)
			}
			err := Available()
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, tc.fault) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Available() = %v, want ErrUnavailable wrapping %v and mentioning %q", err, tc.fault, tc.reason)
			}
			t.Log(err)
		})
	}
	// restore put everything back.
	if err := Available(); err != nil {
		t.Fatalf("Available() after restore = %v", err)
	}
}

func TestSetSetupFaultForTestNests(t *testing.T) {
	outer := SetSetupFaultForTest(unix.EPERM)
	inner := SetSetupFaultForTest(unix.ENOSYS)
	if err := injectedSetupFault(); err != unix.ENOSYS {
		t.Fatalf("fault %v, want ENOSYS", err)
	}
	inner()
	if err := injectedSetupFault(); err != unix.EPERM {
		t.Fatalf("fault after inner restore %v, want EPERM", err)
	}
	outer()
	if err := injectedSetupFault(); err != nil {
		t.Fatalf("fault after outer restore %v, want none", err)
	}
}

func TestAvailableReadsDisabledSysctl(t *testing.T) {
	requireURing(t)
	path := filepath.Join(t.TempDir(), "io_uring_disabled")
	saved := procIOUringDisabled
	procIOUringDisabled = path
	t.Cleanup(func() { procIOUringDisabled = saved })

	for _, tc := range []struct {
		value  string
		fault  error
		reason string // "" means available
	}{
		{"0\n", nil, ""},
		{"2\n", nil, "io_uring_disabled=2"},
		{"1\n", nil, ""}, // root, or a member of io_uring_group: setup works
		{"1\n", unix.EPERM, "io_uring_group"},
	} {
		if err := os.WriteFile(path, []byte(tc.value), 0o600); err != nil {
			t.Fatal(err)
		}
		restore := SetSetupFaultForTest(tc.fault)
		err := Available()
		restore()
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("io_uring_disabled=%q, fault %v: Available() = %v, want nil", tc.value, tc.fault, err)
		case tc.reason != "" && (!errors.Is(err, unix.EPERM) || !strings.Contains(fmtErr(err), tc.reason)):
			t.Errorf("io_uring_disabled=%q, fault %v: Available() = %v, want EPERM mentioning %q",
				tc.value, tc.fault, err, tc.reason)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRegisterFromAnotherThreadWithSingleIssuer(t *testing.T) {
	// Documents a kernel rule the engine must follow: with SINGLE_ISSUER, register calls (probe, buffer
	// rings) come from the ring's thread too.
	r := newRing(t, 8)
	if r.SetupFlags()&SetupSingleIssuer == 0 {
		t.Skip("no SINGLE_ISSUER")
	}
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_, err := r.Probe()
		errc <- err
	}()
	err := <-errc
	t.Logf("Probe from another thread: %v", err)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Probe from another thread = %v, want nil or EEXIST", err)
	}
}

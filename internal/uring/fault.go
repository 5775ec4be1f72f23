package uring

import "sync/atomic"

// setupFault, when set, is returned by ring setup instead of calling io_uring_setup. Only
// SetSetupFaultForTest writes it.
var setupFault atomic.Pointer[error]

// SetSetupFaultForTest makes every following ring setup (New, and therefore Available) fail with err
// as if io_uring_setup had returned it, until restore is called; err == nil clears the fault. It lets
// the engine's tests, which live in another package, check the fallback to epoll, for example with
// unix.EPERM as a container's seccomp profile would return. It is for tests only: production code must
// never call it. Calls may nest; restore puts back the fault that was in place before.
func SetSetupFaultForTest(err error) (restore func()) {
	var p *error
	if err != nil {
		p = &err
	}
	old := setupFault.Swap(p)
	return func() { setupFault.Store(old) }
}

// injectedSetupFault reports the fault set by SetSetupFaultForTest, if any.
func injectedSetupFault() error {
	if p := setupFault.Load(); p != nil {
		return *p
	}
	return nil
}

package aio_test

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func init() {
	// A goroutine that locked its thread and returns without unlocking it ends the thread; the
	// kernel then fails that thread's io_uring requests still waiting, which the backend must ask
	// for again (threadexit_internal_linux_test.go). The main thread never ends (the runtime parks
	// it for good): fn runs there unlocked, as any other goroutine.
	soakExitingThread = func(fn func()) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				runtime.UnlockOSThread()
			}
			fn()
		}()
		<-done
	}
	soakCountFDs = func() (int, bool) {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return 0, false
		}
		return len(ents) - 1, true // the directory ReadDir had open
	}
}

package aio

import "testing"

// Hooks for the tests of package aio_test.

// SetStreamNoWait makes the io_uring backend's Reads and Writes RWF_NOWAIT (streamNoWait) until
// called with false.
func SetStreamNoWait(on bool) { streamNoWait.Store(on) }

// Polls returns how many Reads and Writes of a's io_uring backend met EAGAIN and waited in a
// POLL_ADD; -1 on another backend.
func Polls(a *IO) int {
	be, ok := a.be.(*uringBackend)
	if !ok {
		return -1
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.polls
}

// OnExitingThread runs fn on a goroutine locked to a thread that ends when it returns, and waits
// until the thread is gone (onExitingThread).
func OnExitingThread(t *testing.T, fn func()) { onExitingThread(t, fn) }

package eddy

import (
	"runtime"
	"testing"
	"time"
)

// The loop holds its P through a wait only while no goroutine is waiting to run: with one P, a goroutine
// that OnData made runnable (a pool worker, say) would otherwise wait for the whole held part.
func TestUringHeldWaitOnlyWithNothingRunnable(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	l := &urLoop{}
	l.runnable[0].Name = "/sched/goroutines/runnable:goroutines"

	ran := make(chan struct{})
	go close(ran) // runnable, and with one P it cannot run before this goroutine lets it
	if d := l.heldWait(); d != 0 {
		t.Fatalf("heldWait = %v with a goroutine waiting to run, want 0", d)
	}
	<-ran

	// Other goroutines of the test binary may be runnable for a moment (timers); none stays so.
	deadline := time.Now().Add(5 * time.Second)
	for l.heldWait() != urHeldWait {
		if time.Now().After(deadline) {
			t.Fatal("heldWait never returned urHeldWait with nothing runnable")
		}
		time.Sleep(time.Millisecond)
	}
}

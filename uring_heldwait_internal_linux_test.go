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

	// The new goroutine is runnable, and with one P it cannot run before this one lets it, unless this
	// one is preempted in between (sysmon does so when the thread was descheduled for 10 ms, as on a
	// loaded CI machine): one of a few tries must see it.
	seen := false
	for try := 0; try < 20 && !seen; try++ {
		ran := make(chan struct{})
		go close(ran)
		seen = l.heldWait() == 0
		<-ran
	}
	if !seen {
		t.Fatalf("heldWait = %v with a goroutine waiting to run, 20 times, want 0", urHeldWait)
	}

	// Other goroutines of the test binary may be runnable for a moment (timers); none stays so.
	deadline := time.Now().Add(5 * time.Second)
	for l.heldWait() != urHeldWait {
		if time.Now().After(deadline) {
			t.Fatal("heldWait never returned urHeldWait with nothing runnable")
		}
		time.Sleep(time.Millisecond)
	}
}

package eddy

import (
	"runtime"
	"testing"
)

// runIn runs fn on a goroutine of its own and waits for it to end, by return or by runtime.Goexit.
func runIn(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// A task that calls runtime.Goexit ends the loop's goroutine in the middle of a batch: the tasks behind
// it must still run, from the queue (taskQueue.run) or, at the loop's end, from l.left (runLeftTasks),
// when the loop's body runs again (loopCore.serveGuarded).
func TestTasksBehindAGoexitStillRun(t *testing.T) {
	for _, at := range []string{"run", "runLeftTasks"} {
		t.Run(at, func(t *testing.T) {
			var l loopCore
			l.tasks.cap = 16
			var ran []int
			mark := func(t *task) { ran = append(ran, t.arg.(int)) }
			l.tasks.push(task{fn: mark, arg: 1}, false, nil)
			l.tasks.push(task{fn: func(*task) { runtime.Goexit() }}, false, nil)
			l.tasks.push(task{fn: mark, arg: 2}, false, nil)
			l.tasks.push(task{fn: mark, arg: 3}, false, nil)
			if at == "run" {
				runIn(func() { l.tasks.run() })
				runIn(func() { l.tasks.run() })
			} else {
				runIn(l.runLeftTasks)
				runIn(l.runLeftTasks)
			}
			if len(ran) != 3 || ran[0] != 1 || ran[1] != 2 || ran[2] != 3 {
				t.Fatalf("tasks ran: %v; want [1 2 3], each once, in order", ran)
			}
		})
	}
}

package eddy

import (
	"runtime"
	"testing"
)

// After a task ends the goroutine (runtime.Goexit) in the middle of a batch, and the rest has run, no
// slot of the queue's arrays may still hold a task: a task carries an AsyncWrite's bytes and callback,
// which the queue would keep alive (the engine outlives its stopped loop).
func TestTaskQueueKeepsNoTaskAfterAGoexit(t *testing.T) {
	var q taskQueue
	q.cap = 16
	var ran []int
	mark := func(t *task) { ran = append(ran, t.arg.(int)) }
	q.push(task{fn: mark, arg: -1}, false, nil) // a batch run to its end: the queue then has a spare array
	q.push(task{fn: mark, arg: 0}, false, nil)
	q.run()
	ran = ran[:0]
	q.push(task{fn: func(*task) {
		q.push(task{fn: mark, arg: 2}, false, nil) // queued while the batch runs
		runtime.Goexit()
	}}, false, nil)
	q.push(task{fn: mark, arg: 1}, false, nil)
	runIn(func() { q.run() })
	runIn(func() { q.run() })
	if len(ran) != 2 || ran[0] != 1 || ran[1] != 2 {
		t.Fatalf("ran %v, want [1 2]", ran)
	}
	for name, s := range map[string][]task{"tasks": q.tasks, "spare": q.spare} {
		for i, x := range s[:cap(s)] {
			if x.fn != nil || x.arg != nil {
				t.Errorf("%s[%d] still holds a task that ran", name, i)
			}
		}
	}
}

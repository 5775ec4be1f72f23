package eddy

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

// zzBase is the address of a slice's array, nil for none.
func zzBase(s []stdTask) unsafe.Pointer {
	if cap(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(s[:1]))
}

// zzCheckIdle checks a connection's task list between sections: nothing left, the kept arrays
// bounded and distinct, and no task kept alive in a slot of theirs (a big []byte of an AsyncWrite, an
// Execute's closure).
func zzCheckIdle(t *testing.T, c *stdConn, when string) {
	t.Helper()
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.left != nil || c.lefti != 0 {
		t.Fatalf("%s: left %d/%d after the section", when, c.lefti, len(c.left))
	}
	if cap(c.spare) > maxKeptTasks || (len(c.tasks) == 0 && cap(c.tasks) > maxKeptTasks) {
		t.Fatalf("%s: kept arrays of %d and %d tasks", when, cap(c.spare), cap(c.tasks))
	}
	if a, b := zzBase(c.tasks), zzBase(c.spare); a != nil && a == b {
		t.Fatalf("%s: tasks and spare share an array", when)
	}
	for i, x := range c.spare[:cap(c.spare)] {
		if !x.zzEmpty() {
			t.Fatalf("%s: spare[%d] still holds a task", when, i)
		}
	}
	for i, x := range c.tasks[len(c.tasks):cap(c.tasks)] {
		if !x.zzEmpty() {
			t.Fatalf("%s: tasks[%d] beyond the queue still holds a task", when, len(c.tasks)+i)
		}
	}
}

func (x stdTask) zzEmpty() bool {
	return x.f == nil && x.b == nil && x.cb == nil && x.do == nil && x.done == nil
}

// TestStdTasksModel drives a connection's task list at random, against a model: bursts of tasks
// of every kind queued between sections, tasks that queue more while they run, and tasks that end
// their goroutine (runtime.Goexit) and leave the rest to the section's next holder. Every task runs
// once, in the order queued; between sections nothing is left over, the kept arrays are bounded,
// never the same, and hold no task that ran.
func TestStdTasksModel(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 33))
	t.Logf("seed %d", seed)
	c := &stdConn{}
	var got, want []int
	next := 0
	var queueRandom func(depth int)
	queueRandom = func(depth int) {
		id := next
		next++
		want = append(want, id)
		switch p := r.IntN(100); {
		case p < 5 && depth == 0:
			c.queueTask(func() {
				got = append(got, id)
				runtime.Goexit()
			})
		case p < 15 && depth < 2:
			n := r.IntN(3) + 1
			c.queueTask(func() {
				got = append(got, id)
				for range n {
					queueRandom(depth + 1) // after everything queued before this task ran
				}
			})
		case p < 40:
			c.queue(stdTask{done: func(Conn, error) { got = append(got, id) }})
			c.donePending.Add(1)
		default:
			c.queueTask(func() { got = append(got, id) })
		}
	}
	// section runs the section as its holders do: a task that ends the goroutine leaves the section
	// held and the rest to a new goroutine (sectionLost, without the close).
	section := func() {
		c.mu.Lock()
		for {
			done := make(chan bool)
			go func() {
				ok := false
				defer func() { done <- ok }()
				c.runTasks()
				ok = true
			}()
			if <-done {
				break
			}
		}
		c.mu.Unlock()
	}
	for round := 0; round < 2000; round++ {
		n := r.IntN(3 * maxKeptTasks)
		if r.IntN(4) > 0 {
			n = r.IntN(maxKeptTasks)
		}
		for range n {
			queueRandom(0)
		}
		section()
		// Tasks queued by tasks are appended behind what was queued; the model's want is in queue
		// order when each is queued, which is the order they must run.
		if len(got) != len(want) {
			t.Fatalf("round %d: %d tasks ran, %d queued", round, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("round %d: task %d ran at %d, want task %d", round, got[i], i, want[i])
			}
		}
		zzCheckIdle(t, c, "after a section")
	}
	if n := c.donePending.Load(); n != 0 {
		t.Fatalf("donePending %d after all completions ran", n)
	}
}

package eddy

import (
	"runtime"
	"slices"
	"testing"
)

// TestStdTasksReuseTheirArrays: the section's task list of the std engine runs its tasks in order,
// a task queued by a task among them too, keeps its emptied arrays for the next tasks (no allocation
// per task once warm), lets go of a long burst's, and a task that ends its goroutine leaves the ones
// behind it for the section's next holder, in order (review h28).
func TestStdTasksReuseTheirArrays(t *testing.T) {
	c := &stdConn{}
	var got []int
	mark := func(i int) func() { return func() { got = append(got, i) } }
	section := func() {
		c.mu.Lock()
		c.runTasks()
		c.mu.Unlock()
	}
	c.queueTask(mark(1))
	c.queueTask(func() {
		got = append(got, 2)
		c.queueTask(mark(4)) // queued while the section runs: after the ones taken with it
	})
	c.queueTask(mark(3))
	section()
	if want := []int{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}

	n := 0
	inc := func() { n++ }
	cycle := func() {
		for i := 0; i < 4; i++ {
			c.queueTask(inc)
		}
		section()
	}
	cycle()
	if allocs := testing.AllocsPerRun(100, cycle); allocs != 0 {
		t.Fatalf("%v allocations per cycle of 4 tasks, want 0", allocs)
	}
	if n != 4*102 {
		t.Fatalf("%d tasks ran, want %d", n, 4*102)
	}

	for i := 0; i < 3*maxKeptTasks; i++ {
		c.queueTask(inc)
	}
	section()
	if cap(c.spare) > maxKeptTasks || cap(c.tasks) > maxKeptTasks || c.left != nil {
		t.Fatalf("kept arrays of %d and %d (left %d) after a burst of %d", cap(c.spare), cap(c.tasks), cap(c.left), 3*maxKeptTasks)
	}

	got = nil
	c.queueTask(mark(1))
	c.queueTask(runtime.Goexit)
	c.queueTask(mark(2))
	c.queueTask(mark(3))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.mu.Lock()
		defer c.mu.Unlock() // the guard's part: the section is released as the goroutine ends
		c.runTasks()
	}()
	<-done
	c.queueTask(mark(4))
	section()
	if want := []int{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("around a Goexit ran %v, want %v", got, want)
	}
}

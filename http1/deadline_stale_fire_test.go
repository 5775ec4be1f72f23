package http1

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// A program whose main module says go 1.22 or older (or that runs with GODEBUG=asynctimerchan=1)
// has the timers of before Go 1.23: a timer that fired and was not received keeps its value in
// its channel across Reset. The deadline's reused timer is left so whenever a wait ends on ready,
// done or a move just as the timer fires; the next wait, on a later deadline, must not take that
// stale fire for its own and fail at once.
func TestDeadlineStaleFireOfReusedTimer(t *testing.T) {
	if os.Getenv("EDDY_HTTP1_ASYNC_TIMER_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDeadlineStaleFireOfReusedTimer$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "EDDY_HTTP1_ASYNC_TIMER_CHILD=1", "GODEBUG=asynctimerchan=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("with GODEBUG=asynctimerchan=1: %v\n%s", err, out)
		}
		return
	}
	d := &deadline{moved: make(chan struct{}, 1)}
	ready := make(chan int, 1)

	// A first wait makes the deadline's timer.
	d.set(time.Now().Add(time.Hour))
	ready <- 1
	if v, ok := awaitDeadline(d, ready, nil); !ok || v != 1 {
		t.Fatalf("first wait: %v, %v", v, ok)
	}
	if d.timer == nil {
		t.Fatal("no timer kept")
	}
	// The state a wait leaves when its timer fires as its ready wins: a fire nobody received.
	d.timer.Reset(time.Nanosecond)
	for stop := time.Now().Add(5 * time.Second); len(d.timer.C) == 0; {
		if time.Now().After(stop) {
			t.Skip("timer channel never buffered a fire: not the asynchronous timers of before Go 1.23")
		}
		time.Sleep(time.Millisecond)
	}

	// The next wait, on a deadline an hour away, must go on until done closes.
	d.set(time.Now().Add(time.Hour))
	done := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(done)
	}()
	if _, ok := awaitDeadline(d, ready, done); !ok {
		t.Fatal("a wait on a deadline an hour away timed out at once: it took the reused timer's stale fire for its own")
	}
}

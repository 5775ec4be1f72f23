package timer_test

import (
	"fmt"
	"time"

	"github.com/eddyio/eddy/internal/timer"
)

// conn stands for a loop's connection: it embeds its idle timer, so arming it allocates nothing.
type conn struct {
	name string
	idle timer.Timer
}

func closeIdle(arg any) {
	fmt.Println("closing idle", arg.(*conn).name)
}

// A loop keeps one Wheel: it schedules idle timeouts, asks Next how long it may sleep, and calls Advance
// after each wait. Here the clock is simulated; a loop would use time.Since of its start.
func ExampleWheel() {
	const idleTimeout = 30 * time.Second
	start := int64(0)
	w := timer.New(time.Millisecond, start)

	a, b := &conn{name: "a"}, &conn{name: "b"}
	for _, c := range []*conn{a, b} {
		c.idle.Init(closeIdle, c)
		w.Schedule(&c.idle, start+int64(idleTimeout))
	}

	// Ten seconds later, b receives data: its timeout moves.
	now := start + int64(10*time.Second)
	w.Advance(now)
	w.Schedule(&b.idle, now+int64(idleTimeout))

	sleep, _ := w.Next(now)
	fmt.Println("sleep", sleep)
	now += int64(sleep)
	fmt.Println("ran", w.Advance(now), "pending", w.Len())

	sleep, _ = w.Next(now)
	fmt.Println("sleep", sleep)
	fmt.Println("ran", w.Advance(now+int64(sleep)), "pending", w.Len())
	// Output:
	// sleep 20s
	// closing idle a
	// ran 1 pending 1
	// sleep 10s
	// closing idle b
	// ran 1 pending 0
}

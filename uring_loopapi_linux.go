package eddy

import (
	"time"

	"github.com/eddyio/eddy/internal/timer"
)

// The uring loop as a Loop (and so a future.Executor): work and timers from any goroutine, run on the
// loop serialised with the callbacks of its connections.

func (g *uringEngine) loopList() []Loop {
	ls := make([]Loop, len(g.loops))
	for i, l := range g.loops {
		ls[i] = l
	}
	return ls
}

// Execute runs fn on the loop. Work queued this way is not refused at the queue's capacity (a continuation
// dropped would leave its future pending forever); on a stopped loop fn runs on the caller instead.
func (l *urLoop) Execute(fn func()) {
	if err := l.tasks.push(task{runFunc, fn}, true, l.wake); err != nil {
		fn()
	}
}

// Index returns the loop's position in Engine.Loops.
func (l *urLoop) Index() int { return l.idx }

// urLoopTimer is a Loop.AfterFunc timer on the loop's wheel.
type urLoopTimer struct {
	Timer
	l    *urLoop
	t    timer.Timer
	when int64
}

// AfterFunc runs fn on the loop once d has passed. The wait of the loop's io_uring_enter has nanosecond
// resolution, so the timer fires close to its deadline, never before it.
func (l *urLoop) AfterFunc(d time.Duration, fn func()) *Timer {
	lt := &urLoopTimer{Timer: Timer{fn: fn}, l: l}
	lt.when = l.clock() + int64(d)
	if err := l.tasks.push(task{urScheduleLoopTimer, lt}, true, l.wake); err != nil {
		go func() { time.Sleep(d); lt.fire() }() // the loop has stopped
	}
	return &lt.Timer
}

func urScheduleLoopTimer(arg any) {
	lt := arg.(*urLoopTimer)
	if lt.state.Load() == timerPending {
		lt.t.Init(urFireLoopTimer, lt) // a stopped timer stays on the wheel until its deadline and is then skipped
		lt.l.wheel.Schedule(&lt.t, lt.when)
	}
}

func urFireLoopTimer(arg any) { arg.(*urLoopTimer).fire() }

package eddy

import (
	"sync"
	"time"
)

// stdLoop is the portable engine's Loop: a goroutine that runs queued functions one at a time. On this
// engine connection callbacks run on per-connection goroutines, so a stdLoop serialises only the work
// given to it (and, on the first loop, OnTick: tickLoop), not a connection's callbacks (use Conn.Execute
// for that).
type stdLoop struct {
	idx       int
	loadCount // the connections assigned to the loop, under the engine's mu (changed; read anywhere)
	mu        sync.Mutex
	cond      sync.Cond
	tasks     []func()
	stopped   bool
	done      chan struct{}
}

func newStdLoop(idx int) *stdLoop {
	l := &stdLoop{idx: idx, done: make(chan struct{})}
	l.cond.L = &l.mu
	return l
}

// run runs the queued functions until the loop is stopped. A function that ends the goroutine
// (runtime.Goexit: testing.T.FailNow, say) does not end the loop: the functions after it go back to the
// head of the queue, and a new goroutine takes over (nothing here is bound to a thread, unlike the epoll
// and uring loops, which stop instead: loopCore.serveGuarded).
func (l *stdLoop) run() {
	var ts []func()
	i := 0
	normal := false
	defer func() {
		if normal {
			close(l.done)
			return
		}
		if i < len(ts) { // ts[i] did not return
			l.mu.Lock()
			l.tasks = append(ts[i+1:len(ts):len(ts)], l.tasks...)
			l.mu.Unlock()
		}
		if v := recover(); v != nil {
			panic(v)
		}
		go l.run()
	}()
	for {
		l.mu.Lock()
		for len(l.tasks) == 0 && !l.stopped {
			l.cond.Wait()
		}
		ts, i = l.tasks, 0
		l.tasks = nil
		stopped := l.stopped
		l.mu.Unlock()
		for ; i < len(ts); i++ {
			ts[i]()
		}
		if stopped && len(ts) == 0 {
			normal = true
			return
		}
	}
}

// stop ends the goroutine once the queue is empty; later Execute calls run on the caller.
func (l *stdLoop) stop() {
	l.mu.Lock()
	l.stopped = true
	l.cond.Signal()
	l.mu.Unlock()
	<-l.done
}

// Execute runs fn on the loop's goroutine, or on the caller once the loop has stopped.
func (l *stdLoop) Execute(fn func()) {
	if fn == nil {
		panic(nilExecute)
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		fn()
		return
	}
	l.tasks = append(l.tasks, fn)
	l.cond.Signal()
	l.mu.Unlock()
}

// AfterFunc runs fn on the loop after d.
func (l *stdLoop) AfterFunc(d time.Duration, fn func()) *Timer {
	if fn == nil {
		panic(nilAfterFunc)
	}
	t := &Timer{fn: fn}
	t.rt.Store(time.AfterFunc(d, func() { l.Execute(t.fire) })) // Stop releases it
	return t
}

// Index returns the loop's position in Engine.Loops.
func (l *stdLoop) Index() int { return l.idx }

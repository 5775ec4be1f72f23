package http1

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/eddyio/eddy"
)

// loopYield lets the pool run the handlers a loop has just handed to it.
//
// A loop keeps its processor (P) for as long as it has work. A goroutine the loop makes runnable,
// such as a pool worker given a request, is queued on that P and runs when the loop goes to sleep.
// An epoll loop sleeps in the runtime's poller, which gives the P up at once; but a busy loop that
// never runs dry would keep the handlers waiting until it is preempted (10 ms), and an io_uring
// loop, locked to its thread and waiting in io_uring_enter, holds its P until the runtime's
// monitor takes it back (20 µs to 10 ms). With GOMAXPROCS loops (the default) or GOMAXPROCS=1,
// net/http handlers would wait that long. So, once per loop iteration in which a request went to
// the pool, a task at the end of the iteration yields the processor with runtime.Gosched, and the
// handlers run at once.
type loopYield struct {
	pending atomic.Bool
	fn      func()
}

// schedule queues the yield on l unless it is queued already.
func (y *loopYield) schedule(l eddy.Loop) {
	if y != nil && y.pending.CompareAndSwap(false, true) {
		l.Execute(y.fn)
	}
}

// yields holds one loopYield per loop of the engines a Server is served by.
type yields struct {
	mu sync.Mutex
	m  map[eddy.Loop]*loopYield
}

// yieldFor returns the loopYield of l, or nil when l's engine runs callbacks on goroutines of
// their own (the std engine), which need none.
func (s *Server) yieldFor(l eddy.Loop) *loopYield {
	s.mu.Lock()
	e := s.engine
	s.mu.Unlock()
	if l == nil || e != nil && e.Kind() == eddy.EngineStd {
		return nil
	}
	s.loopYields.mu.Lock()
	defer s.loopYields.mu.Unlock()
	if s.loopYields.m == nil {
		s.loopYields.m = make(map[eddy.Loop]*loopYield)
	}
	y := s.loopYields.m[l]
	if y == nil {
		y = &loopYield{}
		y.fn = func() {
			y.pending.Store(false)
			runtime.Gosched()
		}
		s.loopYields.m[l] = y
	}
	return y
}

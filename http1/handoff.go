package http1

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/pool"
)

// loopHandoff hands the net/http requests of one loop to the worker pool, a batch at a time.
//
// The loop queues each request it has parsed. At the end of the loop iteration, a task submits
// one drain task to the pool for the whole batch, and yields the processor. A drain task runs the
// queued requests one after the other; before each one, if more are waiting, it makes sure
// another drain task is submitted, so that a handler that blocks holds up only its own request:
// the next drain task takes the rest. With handlers that do not block, a batch of k requests costs
// two pool submissions and two worker wake-ups instead of k.
//
// The yield: a loop keeps its processor (P) for as long as it has work. A goroutine the loop makes
// runnable, such as a pool worker given a batch, is queued on that P and runs when the loop goes
// to sleep. An epoll loop sleeps in the runtime's poller, which gives the P up at once; but a busy
// loop that never runs dry would keep the handlers waiting until it is preempted (10 ms), and an
// io_uring loop, locked to its thread and waiting in io_uring_enter, holds its P until the
// runtime's monitor takes it back (20 µs to 10 ms). With GOMAXPROCS loops (the default) or
// GOMAXPROCS=1, net/http handlers would wait that long; runtime.Gosched lets them run at once.
//
// When the pool refuses a drain task (it is full or stopped), the requests waiting are answered
// 503 (Service Unavailable), as a request is that finds the pool full.
type loopHandoff struct {
	pool    *pool.Pool
	loop    eddy.Loop
	ending  atomic.Bool // the end-of-iteration task is queued on the loop
	endFn   func()
	drainFn func()

	mu        sync.Mutex
	queue     []*response // waiting for a worker: queue[head:]
	head      int
	submitted bool // a drain task is in the pool and has not started
}

// add queues w, made by the loop, and arranges for the end of the iteration to hand it over.
func (h *loopHandoff) add(w *response) {
	h.mu.Lock()
	h.queue = append(h.queue, w)
	h.mu.Unlock()
	if h.ending.CompareAndSwap(false, true) {
		h.loop.Execute(h.endFn)
	}
}

// end runs on the loop at the end of an iteration in which requests were queued.
func (h *loopHandoff) end() {
	h.ending.Store(false)
	h.submit()
	runtime.Gosched()
}

// submit makes sure a drain task is in the pool if requests wait for one; if the pool refuses it,
// the waiting requests are refused.
func (h *loopHandoff) submit() {
	h.mu.Lock()
	need := h.head < len(h.queue) && !h.submitted
	h.submitted = h.submitted || need
	h.mu.Unlock()
	if !need {
		return
	}
	if err := h.pool.TrySubmit(h.drainFn); err != nil {
		h.mu.Lock()
		h.submitted = false
		refused := h.take()
		h.mu.Unlock()
		for _, w := range refused {
			w.refuseBusy(err)
		}
	}
}

// take removes and returns every queued request. Called with h.mu held.
func (h *loopHandoff) take() []*response {
	refused := append([]*response(nil), h.queue[h.head:]...)
	clear(h.queue)
	h.queue, h.head = h.queue[:0], 0
	return refused
}

// drain runs on a pool worker: it serves queued requests until none is left.
func (h *loopHandoff) drain() {
	h.mu.Lock()
	h.submitted = false
	for h.head < len(h.queue) {
		w := h.queue[h.head]
		h.queue[h.head] = nil
		h.head++
		if h.head == len(h.queue) {
			h.queue, h.head = h.queue[:0], 0
		}
		more := h.head < len(h.queue)
		h.mu.Unlock()
		if more {
			h.submit() // in case w's handler blocks
		}
		w.serve()
		h.mu.Lock()
	}
	h.mu.Unlock()
}

// handoffs holds one loopHandoff per loop of the engines a Server is served by.
type handoffs struct {
	mu sync.Mutex
	m  map[eddy.Loop]*loopHandoff
}

// loopRunsCallbacks reports whether the server's engine runs every callback of a connection on its
// loop's goroutine, so that a task given to Loop.Execute is ordered with them as one given to
// Conn.Execute is. It is false for the std engine, whose connections have goroutines of their own,
// and when the Server is the handler of an engine the caller made, whose kind it does not know.
func (s *Server) loopRunsCallbacks() bool {
	s.mu.Lock()
	e := s.engine
	s.mu.Unlock()
	return e != nil && (e.Kind() == eddy.EngineEpoll || e.Kind() == eddy.EngineUring)
}

// handoffFor returns the loopHandoff of l, or nil when l's engine runs callbacks on goroutines of
// their own (the std engine): requests are then submitted to the pool one by one.
func (s *Server) handoffFor(l eddy.Loop) *loopHandoff {
	s.mu.Lock()
	e := s.engine
	s.mu.Unlock()
	if l == nil || e != nil && e.Kind() == eddy.EngineStd {
		return nil
	}
	s.handoffs.mu.Lock()
	defer s.handoffs.mu.Unlock()
	if s.handoffs.m == nil {
		s.handoffs.m = make(map[eddy.Loop]*loopHandoff)
	}
	h := s.handoffs.m[l]
	if h == nil {
		h = &loopHandoff{pool: s.cfg.pool, loop: l}
		h.endFn = h.end
		h.drainFn = h.drain
		s.handoffs.m[l] = h
	}
	return h
}

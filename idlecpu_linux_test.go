package eddy_test

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// Spin probes: an engine's loop that waits (for a peer that reads nothing, a FIN that never comes, a
// timer) must cost next to no CPU. Each probe puts a connection in a waiting state, then reads the CPU
// time of the loops' threads over a quiet period: a waiting loop uses about 0 clock ticks (100 a second),
// a spinning one tens.
//
// The uring loops are locked to their threads; the epoll loops are not (they park in the runtime's
// poller), so the probe locks each loop goroutine to its current thread for the test (a function run on
// the loop with Execute calls runtime.LockOSThread) and unlocks it at cleanup, before the engine stops.
// A locked goroutine that parks sleeps with its thread, so the thread's CPU time is the loop's. The std
// engine has no loop thread: those probes skip it.

// spinQuiet is how long a probe watches a waiting loop, spinMaxTicks the CPU it may use meanwhile (in
// clock ticks of 10 ms, all the engine's loops together) and spinMaxRuns how many times its threads may
// be scheduled (a wake-up storm of cheap iterations shows there before it shows in ticks): generous,
// for -race and parallel packages. A waiting loop uses 0 ticks and wakes 0 to 5 times.
const (
	spinQuiet    = 500 * time.Millisecond
	spinMaxTicks = 5
	spinMaxRuns  = 100
)

// spinLoops are the threads of an engine's loops, locked to them for the test; or, for the std engine
// (process set), the whole process, whose CPU time the probe reads instead.
type spinLoops struct {
	tids    []int
	process bool
}

// spinMaxProcessTicks bounds the whole process's CPU over spinQuiet in the std engine's probes, which run
// alone (no t.Parallel): a goroutine spinning on a socket would use about 50.
const spinMaxProcessTicks = 10

// lockLoops locks every loop of e to its thread and records the thread ids; the loops are unlocked at
// cleanup, which runs before that of the engine's stop when lockLoops is called after the engine started.
func lockLoops(t *testing.T, e *eddy.Engine) *spinLoops {
	t.Helper()
	s := &spinLoops{}
	if e.Kind() == eddy.EngineStd {
		s.process = true
		return s
	}
	for _, l := range e.Loops() {
		ch := make(chan int, 1)
		l.Execute(func() {
			runtime.LockOSThread()
			ch <- unix.Gettid()
		})
		s.tids = append(s.tids, <-ch)
		t.Cleanup(func() {
			done := make(chan struct{})
			l.Execute(func() {
				runtime.UnlockOSThread()
				close(done)
			})
			<-done
		})
	}
	if tid := unix.Gettid(); contains(s.tids, tid) {
		t.Fatalf("a loop ran on the test's thread %d: is the engine stopped?", tid)
	}
	return s
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// threadCPU returns the CPU time of thread tid of this process in clock ticks (utime+stime) and, from
// schedstat, in nanoseconds with the number of times it was scheduled (a wake-up count); ok is false
// when the thread is gone (a locked loop goroutine that exits takes its thread with it).
func threadCPU(t *testing.T, tid int) (ticks, ns, runs int64, ok bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // from field 3 (state) on
	ut, _ := strconv.ParseInt(f[11], 10, 64)                 // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)                 // field 15
	if b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/schedstat"); err == nil {
		if g := strings.Fields(string(b)); len(g) == 3 {
			ns, _ = strconv.ParseInt(g[0], 10, 64)
			runs, _ = strconv.ParseInt(g[2], 10, 64)
		}
	}
	return ut + st, ns, runs, true
}

// spinUse is what the loops used over a quiet period.
type spinUse struct {
	ticks, ns, runs int64
	d               time.Duration
}

func (u spinUse) String() string {
	if u.runs < 0 {
		return strconv.FormatInt(u.ticks, 10) + " ticks (the whole process) in " + u.d.Round(time.Millisecond).String()
	}
	return strconv.FormatInt(u.ticks, 10) + " ticks (" + time.Duration(u.ns).String() + " CPU, " +
		strconv.FormatInt(u.runs, 10) + " wake-ups) in " + u.d.Round(time.Millisecond).String()
}

// measure returns the CPU the loops used over d; a loop that exits meanwhile (its thread goes with it)
// is left out.
func (s *spinLoops) measure(t *testing.T, d time.Duration) spinUse {
	t.Helper()
	if s.process {
		a := processTicks(t)
		start := time.Now()
		time.Sleep(d)
		return spinUse{ticks: processTicks(t) - a, d: time.Since(start), ns: -1, runs: -1}
	}
	type sample struct{ ticks, ns, runs int64 }
	before := make(map[int]sample)
	for _, tid := range s.tids {
		if a, b, c, ok := threadCPU(t, tid); ok {
			before[tid] = sample{a, b, c}
		}
	}
	start := time.Now()
	time.Sleep(d)
	u := spinUse{d: time.Since(start)}
	for tid, x := range before {
		if a, b, c, ok := threadCPU(t, tid); ok {
			u.ticks += a - x.ticks
			u.ns += b - x.ns
			u.runs += c - x.runs
		}
	}
	if len(before) == 0 {
		t.Fatal("no loop thread to measure: every loop has exited")
	}
	return u
}

// expectWaiting measures the loops over spinQuiet and fails the test if they used more than
// spinMaxTicks: they spin in the state named what.
func (s *spinLoops) expectWaiting(t *testing.T, what string) spinUse {
	t.Helper()
	u := s.measure(t, spinQuiet)
	t.Logf("%s: %v", what, u)
	if s.process {
		if u.ticks > spinMaxProcessTicks {
			t.Errorf("%s: the process used %d ticks in %v; waiting, it uses at most %d", what, u.ticks, u.d, spinMaxProcessTicks)
		}
		return u
	}
	if u.ticks > spinMaxTicks || u.runs > spinMaxRuns {
		t.Errorf("%s: the loops used %v; a waiting loop uses at most %d ticks and wakes at most %d times",
			what, u, spinMaxTicks, spinMaxRuns)
	}
	return u
}

// processTicks returns the CPU time of the whole process in clock ticks (utime+stime).
func processTicks(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

// loopEngines runs f per engine. The std engine, which has no loop thread, is measured by the whole
// process's CPU time, so these tests must not run in parallel; -short skips it.
func loopEngines(t *testing.T, f func(t *testing.T, kind eddy.EngineKind)) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd && testing.Short() {
			t.Skip("the std engine is measured by the process's CPU time: not in -short")
		}
		f(t, kind)
	})
}

// loopEnginesSideBySide runs f per engine as loopEngines does, the epoll and uring engines side by side
// (parallel subtests): their loops are measured by their own threads, which the other engine's work
// does not touch. The std engine, measured by the whole process's CPU time, runs alone: its subtest is
// not parallel, so it runs within the parent's function, before the parallel subtests start (they wait
// for that function to return), and the parent, not parallel, runs with no other test.
func loopEnginesSideBySide(t *testing.T, f func(t *testing.T, kind eddy.EngineKind)) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind != eddy.EngineStd {
			t.Parallel()
		}
		f(t, kind)
	})
}

// spinHandler calls the functions set, each optional.
type spinHandler struct {
	eddy.BaseHandler
	open       func(c eddy.Conn)
	data       func(c eddy.Conn)
	peerClosed func(c eddy.Conn) bool
	closed     func(c eddy.Conn, err error)
}

func (h *spinHandler) OnOpen(c eddy.Conn) {
	if h.open != nil {
		h.open(c)
	}
}

func (h *spinHandler) OnData(c eddy.Conn) {
	if h.data != nil {
		h.data(c)
		return
	}
	c.Discard(-1)
}

func (h *spinHandler) OnPeerClosed(c eddy.Conn) bool {
	if h.peerClosed != nil {
		return h.peerClosed(c)
	}
	return false
}

func (h *spinHandler) OnClose(c eddy.Conn, err error) {
	if h.closed != nil {
		h.closed(c, err)
	}
}

// ---- the states ----

// State 1: many idle connections, nothing happening.
func TestNoSpinIdleConnections(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, &spinHandler{})
		for i := 0; i < 100; i++ {
			s.dial(t)
		}
		time.Sleep(100 * time.Millisecond)
		lockLoops(t, s.e).expectWaiting(t, "100 idle connections")
	})
}

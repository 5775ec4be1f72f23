package eddy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Session 33, a review of the accept budget (1075dab): a listener whose accept budget ran out waits on
// epLoop.reaccept for the next iteration. These tests put a listener on that list and then stop
// accepting, stop, fail an accept with EMFILE, give it a new edge, or end the loop in an OnOpen, and check
// what is accepted, and when.

// budgetAcceptHandler greets each connection with "hi" and counts OnOpens; hook, when set, runs first
// (on the loop) with the OnOpen's number, from 1.
type budgetAcceptHandler struct {
	BaseHandler
	opens atomic.Int64
	hook  func(n int64, c Conn)
	mu    sync.Mutex
	log   []string // "open" or "flushed", in the loop's order
}

func (h *budgetAcceptHandler) add(ev string) {
	h.mu.Lock()
	h.log = append(h.log, ev)
	h.mu.Unlock()
}

func (h *budgetAcceptHandler) OnOpen(c Conn) {
	n := h.opens.Add(1)
	if h.hook != nil {
		h.hook(n, c)
	}
	h.add("open")
	c.Write([]byte("hi"))
	c.Flushed(func(Conn, error) { h.add("flushed") })
}

// startBudgetEpoll starts a one-loop epoll engine on addrs and, while the loop is held in a task, queues
// n connections on each address, so that one edge of each listener finds them all. prep runs on the
// loop before the connections are made; opts come after the defaults (one loop).
func startBudgetEpoll(t *testing.T, h Handler, addrs []string, n int, prep func(l *epLoop), opts ...Option) (*Engine, *epLoop, [][]net.Conn) {
	t.Helper()
	opts = append([]Option{WithEngine(EngineEpoll), WithLoops(1),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	e, err := New(h, addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	l := e.impl.(*epollEngine).loops[0]
	held, release := make(chan struct{}), make(chan struct{})
	e.Loops()[0].Execute(func() {
		if prep != nil {
			prep(l)
		}
		close(held)
		<-release
	})
	<-held
	var all [][]net.Conn
	for _, a := range e.Addrs() {
		var cs []net.Conn
		for range n {
			c, err := net.DialTimeout(a.Network(), a.String(), 5*time.Second)
			if err != nil {
				close(release)
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			cs = append(cs, c)
		}
		all = append(all, cs)
	}
	close(release)
	return e, l, all
}

// readGreeting reads the "hi" every served connection gets.
func readGreeting(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hi" {
		t.Fatalf("%s: read %q, %v", what, b, err)
	}
}

// budgetOnLoop runs fn on l and waits for it: a round trip through the loop's task queue, one iteration at
// least.
func budgetOnLoop(e *Engine, fn func()) {
	done := make(chan struct{})
	e.Loops()[0].Execute(func() { fn(); close(done) })
	<-done
}

// checkReacceptEmpty asserts, on the loop, that no listener is left on l.reaccept or marked for it.
func checkReacceptEmpty(t *testing.T, e *Engine, l *epLoop) {
	t.Helper()
	var n, again int
	budgetOnLoop(e, func() {
		n = len(l.reaccept)
		for _, ln := range l.listeners {
			if ln.again {
				again++
			}
		}
	})
	if n != 0 || again != 0 {
		t.Errorf("after the queue is drained: %d listeners on reaccept, %d marked again", n, again)
	}
}

// StopAccepting while the listener is on l.reaccept (its budget ran out with 24 connections still
// queued): no connection is accepted after it, and the listener's descriptor number, once another
// listening socket has it, is not accepted from (a reacceptAll on the closed listener would take that
// socket's connection and open it as the engine's).
func TestReacceptStopAccepting(t *testing.T) {
	const n = acceptsPerEvent + 24
	h := &budgetAcceptHandler{}
	var l *epLoop // set on the loop, before any OnOpen
	var lfd, onList int
	saDone := make(chan struct{})
	hold, release := make(chan struct{}), make(chan struct{})
	h.hook = func(k int64, c Conn) {
		if k != acceptsPerEvent { // the last OnOpen of the first budget: the listener goes on the list next
			return
		}
		lfd = l.listeners[0].fd
		go func() { l.g.e.StopAccepting(); close(saDone) }()
		for !l.tasks.pending() { // its closeListeners is queued: it runs in this iteration's tasks
			runtime.Gosched()
		}
		l.Execute(func() { // behind closeListeners: hold the loop before its next iteration
			onList = len(l.reaccept)
			close(hold)
			<-release
		})
	}
	e, _, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, n, func(lp *epLoop) { l = lp })
	<-saDone
	<-hold
	// The closed listener's number goes to a listening socket of the test's, which a client connects to
	// while the loop is held.
	fd, lst, err := listenOnFD(lfd)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if fd != lfd {
		t.Logf("descriptor %d of the closed listener not reused (got %d): the reuse half checks nothing", lfd, fd)
	}
	cl, err := net.DialTimeout("tcp", lst, 5*time.Second)
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 3 {
		budgetOnLoop(e, func() {})
	}
	if onList != 0 {
		t.Errorf("StopAccepting left %d listeners on reaccept", onList)
	}
	if got := h.opens.Load(); got != acceptsPerEvent {
		t.Errorf("%d connections opened, want %d: accepted after StopAccepting", got, acceptsPerEvent)
	}
	if nfd, _, err := unix.Accept(fd); err != nil {
		t.Errorf("the test's listener on descriptor %d lost its connection (accept: %v): the engine accepted from it", fd, err)
	} else {
		unix.Close(nfd)
	}
	// The connections left queued were dropped with the listener: each ends without a greeting.
	for i, c := range cs[0][acceptsPerEvent:] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if len(b) != 0 || err != nil && !errors.Is(err, unix.ECONNRESET) {
			t.Errorf("queued connection %d: read %q, %v; want the end of the connection", i, b, err)
		}
	}
}

// listenOnFD opens a listening TCP socket on 127.0.0.1, trying to get descriptor number want (the
// kernel gives the lowest free one), and returns its descriptor and address.
func listenOnFD(want int) (int, string, error) {
	var extra []int
	defer func() {
		for _, f := range extra {
			unix.Close(f)
		}
	}()
	for range 64 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, "", err
		}
		if fd != want && fd < want {
			extra = append(extra, fd)
			continue
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			unix.Close(fd)
			return -1, "", err
		}
		if err := unix.Listen(fd, 16); err != nil {
			unix.Close(fd)
			return -1, "", err
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			unix.Close(fd)
			return -1, "", err
		}
		return fd, (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}).String(), nil
	}
	return -1, "", errors.New("no descriptor")
}

// Stop while the listener is on l.reaccept: the loop's stop closes it before any reacceptAll, so no
// connection is accepted after the stop is requested, and Stop returns.
func TestReacceptStop(t *testing.T) {
	const n = acceptsPerEvent + 24
	h := &budgetAcceptHandler{}
	var l *epLoop            // set on the loop, before any OnOpen
	var accepts atomic.Int64 // accept4 calls after the stop was requested
	var stopRequested atomic.Bool
	stopErr := make(chan error, 1)
	h.hook = func(k int64, c Conn) {
		if k != acceptsPerEvent {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopErr <- l.g.e.Stop(ctx)
		}()
		for l.stopRq.Load() == stopNone { // requested while the listener is about to go on the list
			runtime.Gosched()
		}
		stopRequested.Store(true)
	}
	_, _, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, n, func(lp *epLoop) {
		l = lp
		l.acceptor.FaultForTest = func() error {
			if stopRequested.Load() {
				accepts.Add(1)
			}
			return nil
		}
	})
	if err := <-stopErr; err != nil {
		t.Fatalf("Stop with a listener on reaccept: %v", err)
	}
	if got := h.opens.Load(); got != acceptsPerEvent {
		t.Errorf("%d connections opened, want %d", got, acceptsPerEvent)
	}
	if got := accepts.Load(); got != 0 {
		t.Errorf("%d accepts after the stop was requested", got)
	}
	if len(l.reaccept) != 0 { // the loop has exited: Stop waited for it
		t.Errorf("%d listeners left on reaccept after Stop", len(l.reaccept))
	}
	for i, c := range cs[0][acceptsPerEvent:] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if len(b) != 0 || err != nil && !errors.Is(err, unix.ECONNRESET) {
			t.Errorf("queued connection %d: read %q, %v; want the end of the connection", i, b, err)
		}
	}
}

// EMFILE from the first accept of a reacceptAll: the listener is off the list and paused, its retry
// timer takes the rest of the queue (no stall), and nothing accepts in a loop meanwhile or afterwards (no
// spin: every accept4 call is for a connection, an EAGAIN that ends a batch, or the fault).
func TestReacceptEMFILE(t *testing.T) {
	const n = 2*acceptsPerEvent + 8
	h := &budgetAcceptHandler{}
	var calls atomic.Int64
	e, l, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, n, func(l *epLoop) {
		l.acceptor.FaultForTest = func() error {
			if calls.Add(1) == acceptsPerEvent+1 { // the first call of the reacceptAll
				return unix.EMFILE
			}
			return nil
		}
	})
	for i, c := range cs[0] {
		readGreeting(t, c, "queued connection "+strconv.Itoa(i))
	}
	checkReacceptEmpty(t, e, l)
	var paused bool
	budgetOnLoop(e, func() { paused = l.listeners[0].paused })
	if paused {
		t.Error("listener still paused once its queue was drained")
	}
	time.Sleep(50 * time.Millisecond) // a spinning loop would call accept4 thousands of times meanwhile
	budgetOnLoop(e, func() {})
	// n accepts, the fault, and an EAGAIN for each batch that drained the queue (a few).
	if got := calls.Load(); got > n+1+4 {
		t.Errorf("%d accept4 calls for %d connections and one EMFILE: the loop accepts in a loop", got, n)
	}
	if got := h.opens.Load(); got != n {
		t.Errorf("%d opens, want %d", got, n)
	}
}

// A listener on l.reaccept that gets a new edge in the same iteration (clients arrive while its
// earlier connections open): its events are skipped while it is on the list, and each connection is
// opened exactly once, none waiting for an edge that does not come.
func TestReacceptWithNewEdge(t *testing.T) {
	const n, more = acceptsPerEvent + 4, 2 * acceptsPerEvent
	h := &budgetAcceptHandler{}
	var late []net.Conn
	var lateErr error
	h.hook = func(k int64, c Conn) {
		if k != acceptsPerEvent && k != 2*acceptsPerEvent {
			return
		}
		// The last OnOpen of a budget (the first event's, then the reacceptAll's): clients arrive now,
		// so that the listener has an edge in the iteration in which it is on the list. connect returns
		// once the kernel has queued the connection; the loop is busy here.
		for range more / 2 {
			cc, err := net.DialTimeout("tcp", c.LocalAddr().String(), 5*time.Second)
			if err != nil {
				lateErr = err
				return
			}
			late = append(late, cc)
		}
	}
	e, l, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, n, nil)
	for i, c := range cs[0] {
		readGreeting(t, c, "queued connection "+strconv.Itoa(i))
	}
	var lateConns []net.Conn
	budgetOnLoop(e, func() { lateConns = append(lateConns, late...) }) // the hook's slice, read on the loop
	for _, c := range lateConns {
		defer c.Close()
	}
	if lateErr != nil {
		t.Fatal(lateErr)
	}
	if len(lateConns) != more {
		t.Fatalf("%d late clients, want %d", len(lateConns), more)
	}
	for i, c := range lateConns {
		readGreeting(t, c, "late connection "+strconv.Itoa(i))
	}
	checkReacceptEmpty(t, e, l)
	if got, want := h.opens.Load(), int64(n+more); got != want {
		t.Errorf("%d opens for %d connections", got, want)
	}
	// One budget per iteration: the event of a listener on the list is skipped, not accepted from
	// after its reacceptAll.
	h.mu.Lock()
	run, longest := 0, 0
	for _, ev := range h.log {
		if ev == "flushed" {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	h.mu.Unlock()
	if longest > acceptsPerEvent {
		t.Errorf("%d connections opened with no flush between them, want at most %d", longest, acceptsPerEvent)
	}
	// Each connection got exactly one greeting: nothing more arrives.
	everyone := append(cs[0], lateConns...)
	deadline := time.Now().Add(50 * time.Millisecond) // one wait for all
	for _, c := range everyone {
		c.SetReadDeadline(deadline)
	}
	for i, c := range everyone {
		var b [8]byte
		if k, err := c.Read(b[:]); k != 0 || err == nil {
			t.Fatalf("connection %d: more after its greeting: %q", i, b[:k])
		}
	}
}

// Two listeners (tcp and unix) over budget in the same iteration: each gets acceptsPerEvent per
// iteration, both go on the list and come off it, and every queued connection of both is opened.
func TestReacceptTwoListeners(t *testing.T) {
	const n = 3*acceptsPerEvent + 5
	h := &budgetAcceptHandler{}
	path := filepath.Join(t.TempDir(), "s")
	e, l, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0", "unix://" + path}, n, nil)
	for k, list := range cs {
		for i, c := range list {
			readGreeting(t, c, "listener "+strconv.Itoa(k)+" connection "+strconv.Itoa(i))
		}
	}
	checkReacceptEmpty(t, e, l)
	if got := h.opens.Load(); got != 2*n {
		t.Errorf("%d opens for %d connections", got, 2*n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	opens := opensBeforeFlush(h.log)
	if opens > 2*acceptsPerEvent {
		t.Errorf("%d opens before the first greeting was flushed, want at most %d (one budget per listener)",
			opens, 2*acceptsPerEvent)
	}
}

// Loop 0 accepting for two loops (a unix listener, handed round-robin): the hand-overs count against the
// budget, the listener comes off the list, and every queued connection is served, by both loops.
func TestReacceptHandsOver(t *testing.T) {
	const n = 3*acceptsPerEvent + 5
	h := &budgetAcceptHandler{}
	var mu sync.Mutex
	byLoop := map[int]int{}
	h.hook = func(_ int64, c Conn) {
		mu.Lock()
		byLoop[c.Loop().Index()]++
		mu.Unlock()
	}
	path := filepath.Join(t.TempDir(), "s")
	e, l, cs := startBudgetEpoll(t, h, []string{"unix://" + path}, n, nil, WithLoops(2))
	for i, c := range cs[0] {
		readGreeting(t, c, "queued connection "+strconv.Itoa(i))
	}
	checkReacceptEmpty(t, e, l)
	mu.Lock()
	defer mu.Unlock()
	if byLoop[0]+byLoop[1] != n || byLoop[0] == 0 || byLoop[1] == 0 {
		t.Errorf("opens by loop: %v, want %d over both", byLoop, n)
	}
}

// A runtime.Goexit in an OnOpen of reacceptAll with two listeners on the list: the entry taken (nil)
// and the one not reached yet are both cleared by the stop, which returns; no listener is left marked.
func TestReacceptGoexitTwoListeners(t *testing.T) {
	const n = acceptsPerEvent + 4
	h := &budgetAcceptHandler{}
	h.hook = func(k int64, c Conn) {
		if k == 2*acceptsPerEvent+1 { // the first OnOpen of the reacceptAll, both listeners on the list
			runtime.Goexit()
		}
	}
	path := filepath.Join(t.TempDir(), "s")
	var lns []*epListener
	e, l, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0", "unix://" + path}, n, func(l *epLoop) {
		lns = append(lns, l.listeners...) // on the loop: its stop empties l.listeners
	})
	for _, list := range cs {
		for _, c := range list {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop after a Goexit in a re-accept: %v", err)
	}
	if len(l.reaccept) != 0 {
		t.Errorf("%d entries left on reaccept", len(l.reaccept))
	}
	for i, ln := range lns {
		if ln.again {
			t.Errorf("listener %d still marked for reaccept", i)
		}
	}
	if got := h.opens.Load(); got != 2*acceptsPerEvent+1 {
		t.Errorf("%d OnOpens, want %d: accepted after the Goexit", got, 2*acceptsPerEvent+1)
	}
}

const reacceptPanicChild = "EDDY_REACCEPT_PANIC_CHILD"

// A panic (not a Goexit) in an OnOpen that reacceptAll runs is not recovered (loopCore.serveGuarded
// re-raises it): the process dies with it, as with a panic in any callback, and no state of the list
// outlives it. Checked in a child process: it must die of the panic, in reacceptAll, not hang or exit 0.
func TestReacceptPanicInOnOpen(t *testing.T) {
	if os.Getenv(reacceptPanicChild) != "" {
		h := &budgetAcceptHandler{}
		h.hook = func(k int64, c Conn) {
			if k == acceptsPerEvent+1 {
				panic("reaccept-panic-in-onopen")
			}
		}
		startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, acceptsPerEvent+4, nil)
		time.Sleep(30 * time.Second)
		t.Fatal("the panic did not end the process")
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReacceptPanicInOnOpen$", "-test.count=1")
	cmd.Env = append(os.Environ(), reacceptPanicChild+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("child: %v, want exit status 2 (a panic); output:\n%s", err, out)
	}
	if s := string(out); !strings.Contains(s, "panic: reaccept-panic-in-onopen") || !strings.Contains(s, "reacceptAll") {
		t.Fatalf("child did not die of the panic in reacceptAll:\n%s", out)
	}
}

// closeOnOpen aborts each connection in its OnOpen (a reset, no linger): the connections it accepted raise
// no event (their descriptors are closed), so only reaccept can bring the loop back to the queue.
type closeOnOpen struct {
	BaseHandler
	opens atomic.Int64
}

func (h *closeOnOpen) OnOpen(c Conn) {
	h.opens.Add(1)
	c.Abort(nil)
}

// A listener on the list with nothing else to wake the loop (no event of the connections it opened, no
// task, no timer): waitTimeout does not sleep, and the connections left queued are all accepted.
func TestReacceptNoOtherWakeup(t *testing.T) {
	const n = 3*acceptsPerEvent + 5
	h := &closeOnOpen{}
	e, l, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, n, nil)
	for i, c := range cs[0] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); len(b) != 0 || err != nil && !errors.Is(err, unix.ECONNRESET) {
			t.Fatalf("queued connection %d: read %q, %v; want it aborted by OnOpen", i, b, err)
		}
	}
	checkReacceptEmpty(t, e, l)
	if got := h.opens.Load(); got != n {
		t.Errorf("%d opens for %d connections", got, n)
	}
}

package eddy

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// acceptLog records, in the loop's order, each OnOpen and each greeting the loop flushed.
type acceptLog struct {
	BaseHandler
	mu      sync.Mutex
	events  []string // "open" or "flushed"
	goexitN int      // > 0: the goexitN-th OnOpen calls runtime.Goexit
	opens   int
}

func (h *acceptLog) add(ev string) {
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *acceptLog) OnOpen(c Conn) {
	h.opens++ // the loop's goroutine only
	if h.opens == h.goexitN {
		runtime.Goexit()
	}
	h.add("open")
	c.Write([]byte("hi"))
	c.Flushed(func(Conn, error) { h.add("flushed") })
}

// startHeldEpoll starts a one-loop epoll engine for h and queues n connections in its listener's accept
// queue while the loop is held in a task, so that one edge of the listener finds them all.
func startHeldEpoll(t *testing.T, h Handler, n int) (*Engine, []net.Conn) {
	t.Helper()
	e, _, cs := startBudgetEpoll(t, h, []string{"tcp://127.0.0.1:0"}, n, nil)
	return e, cs[0]
}

// Accepting is bounded per iteration, as reading is: the epoll loop took every connection its listener
// had queued (and ran each OnOpen) before it flushed anything or ran a task, so that with clients still
// arriving, or OnOpens slowed down by a loaded machine, the connections it had opened waited for all of
// it (session 33: TestCloseDuringLargeWriteDeliversAll saw up to 26 of 40 connections get no byte for 30 s).
// Now a greeting is flushed once acceptsPerEvent connections have opened, and the queue behind them is
// still all accepted, with no new edge.
func TestEpollAcceptBoundedPerIteration(t *testing.T) {
	const n = 3*acceptsPerEvent + 5
	h := &acceptLog{}
	_, cs := startHeldEpoll(t, h, n)
	for i, c := range cs {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 2)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "hi" {
			t.Fatalf("connection %d of %d queued: read %q, %v", i, n, b, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	opens := opensBeforeFlush(h.events)
	if opens > acceptsPerEvent {
		t.Errorf("%d of %d queued connections opened before the first greeting was flushed, want at most %d",
			opens, n, acceptsPerEvent)
	}
}

// A runtime.Goexit in an OnOpen run by reacceptAll (the loop then stops, loopCore.serveGuarded) leaves
// the listener's entry taken from l.reaccept: the stop's closeListeners must not trip over it, and the
// engine stops.
func TestEpollGoexitInReacceptStops(t *testing.T) {
	h := &acceptLog{goexitN: acceptsPerEvent + 1}
	e, cs := startHeldEpoll(t, h, 2*acceptsPerEvent)
	for _, c := range cs { // each connection ends: served, or closed by the forced stop, or never accepted
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop after a Goexit in a re-accept: %v", err)
	}
}

// opensBeforeFlush counts the OnOpens of an event log ("open", "flushed") before its first flushed
// greeting.
func opensBeforeFlush(log []string) int {
	for i, ev := range log {
		if ev == "flushed" {
			return i
		}
	}
	return len(log)
}

//go:build linux

package eddy_test

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A graceful close whose output waits on the engine, not on the peer, is not cut off: a completion
// callback that takes longer than the flush timeout (on std it runs on the connection's writer, which
// writes nothing meanwhile; so does a writer goroutine the machine runs late) while the peer has read all
// it was sent. The socket's send queue is empty all along; the flush bound, which gives up on a peer that
// takes none of the output, must not blame the peer for it. The peer gets every byte and EOF, OnClose(nil).
// Before flushWatch knew an empty queue, std reset the connection after the timeout (ErrFlushTimeout).
func TestFlushWatchSlowCallbackIsNotThePeers(t *testing.T) {
	if testing.Short() {
		t.Skip("a callback sleeps past the 1 s flush timeout")
	}
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		const timeout = time.Second
		first, rest := pattern(64<<10, 661), pattern(256<<10, 662)
		h := newFRHandler(nil)
		_, addr := frStart(t, kind, h, "tcp", "", eddy.WithFlushTimeout(timeout))
		c := frDial(t, "tcp", addr, 0)
		sc := h.next(t)
		// The peer reads all the time: the first part leaves the socket's queue at once.
		got := make(chan readOut, 1)
		go func() { got <- readPlan(c, 1<<20, false, func(int, int) time.Duration { return 0 }) }()
		cbErr := make(chan error, 1)
		if err := sc.AsyncWrite(first, func(sc eddy.Conn, err error) {
			if err == nil {
				if _, err = sc.Write(rest); err == nil {
					err = sc.Close()
				}
			}
			cbErr <- err
			// Two and a half flush timeouts with an empty send queue and output left.
			time.Sleep(timeout * 5 / 2)
		}); err != nil {
			t.Fatal(err)
		}
		if err := <-cbErr; err != nil {
			t.Fatalf("in the callback: %v", err)
		}
		if err := h.waitClosed(t, 20*time.Second); err != nil {
			t.Errorf("OnClose(%v); want nil: the peer read all it was sent", err)
		}
		r := <-got
		want := append(bytes.Clone(first), rest...)
		if r.err != io.EOF || !bytes.Equal(r.got, want) {
			t.Errorf("the peer read %d of %d bytes (identical prefix %v), then %v; want all of them and EOF",
				len(r.got), len(want), bytes.HasPrefix(want, r.got), r.err)
		}
	})
}

// watchLoopLateness measures how late e's loops run their timers, as watchLateness does for goroutines:
// each loop runs a timer every 10 ms, and the function returned reports the longest a timer waited past
// its time, counting one still waiting. A loop runs its timers between iterations, so a long iteration
// (a loop given more work than the machine lets it do) delays every timer of the loop, the connections'
// flush bounds among them, and shows here. On std, whose loops run only the work given to them, it is
// about the runtime's timers.
func watchLoopLateness(t *testing.T, e *eddy.Engine) func() time.Duration {
	t.Helper()
	var (
		mu      sync.Mutex
		worst   time.Duration
		due     = map[int]time.Time{} // the pending timer's time, per loop
		stopped bool
		timers  = map[int]*eddy.Timer{}
	)
	const every = 10 * time.Millisecond
	var arm func(l eddy.Loop)
	arm = func(l eddy.Loop) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		due[l.Index()] = time.Now().Add(every)
		timers[l.Index()] = l.AfterFunc(every, func() {
			mu.Lock()
			late := time.Since(due[l.Index()])
			worst = max(worst, late)
			mu.Unlock()
			arm(l)
		})
	}
	for _, l := range e.Loops() {
		arm(l)
	}
	t.Cleanup(func() {
		mu.Lock()
		stopped = true
		for _, tm := range timers {
			tm.Stop()
		}
		mu.Unlock()
	})
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		w := worst
		for _, d := range due {
			w = max(w, time.Since(d))
		}
		return w
	}
}

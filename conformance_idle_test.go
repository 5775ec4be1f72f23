package eddy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// idleStep is a call of SetIdleTimeout(d) through Execute, after a time from OnOpen.
type idleStep struct {
	after time.Duration
	d     time.Duration
}

// SetIdleTimeout overrides the engine's idle timeout per connection, from OnOpen or later through Execute:
// shortening it, extending it, and turning it off (0) all take effect on a connection that is already
// open (conn.go, options.go).
func TestSetIdleTimeoutChanges(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	for _, tc := range []struct {
		name      string
		engine    time.Duration // WithIdleTimeout
		onOpen    time.Duration // -1: no call
		later     []idleStep    // calls through Execute
		wantClose bool
		min, max  time.Duration // when closing, the close time from OnOpen
	}{
		{name: "shorten in OnOpen", engine: 10 * time.Second, onOpen: 150 * time.Millisecond, wantClose: true, min: 100 * time.Millisecond, max: 2 * time.Second},
		{name: "off in OnOpen", engine: 150 * time.Millisecond, onOpen: 0},
		{name: "on later", onOpen: -1, later: []idleStep{{100 * time.Millisecond, 150 * time.Millisecond}}, wantClose: true, min: 200 * time.Millisecond, max: 2 * time.Second},
		{name: "extend later", engine: 300 * time.Millisecond, onOpen: -1, later: []idleStep{{100 * time.Millisecond, 10 * time.Second}}},
		// OnOpen's 500 ms leaves the test goroutine time to turn it off even on a loaded CI machine
		// (at 100 ms, a run with -race beside other packages' tests saw the connection close first).
		{name: "off then on", onOpen: 500 * time.Millisecond, later: []idleStep{{20 * time.Millisecond, 0}, {700 * time.Millisecond, 150 * time.Millisecond}}, wantClose: true, min: 800 * time.Millisecond, max: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				// A step that could not run before the timeout in force expired (the test goroutine
				// starved on a loaded machine: CI once ran "off then on"'s 20 ms step after its 500 ms
				// timeout) leaves the case unproven either way: run it again on a new server.
				conclusive(t, "a step came after the timeout it was to change", func() bool {
					return idleCase(t, kind, tc.engine, tc.onOpen, tc.later, tc.wantClose, tc.min, tc.max)
				})
			})
		})
	}
}

// idleCase runs one case of TestSetIdleTimeoutChanges and reports false if a step through Execute came
// too late to take effect, so the outcome proves nothing.
func idleCase(t *testing.T, kind eddy.EngineKind, engine, onOpen time.Duration, later []idleStep, wantClose bool, min, max time.Duration) bool {
	t.Helper()
	type open struct {
		c  eddy.Conn
		at time.Time
	}
	opened := make(chan open, 1)
	setErr := make(chan error, 8)
	h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
		if onOpen >= 0 {
			setErr <- c.SetIdleTimeout(onOpen)
		}
		opened <- open{c, time.Now()}
	}}
	var opts []eddy.Option
	if engine > 0 {
		opts = append(opts, eddy.WithIdleTimeout(engine))
	}
	s := startServer(t, kind, h, opts...)
	s.dial(t)
	o := <-opened
	start := o.at // the idle clock starts at OnOpen
	inForce := engine
	if onOpen >= 0 {
		inForce = onOpen
	}
	for _, st := range later {
		time.Sleep(time.Until(start.Add(st.after)))
		err := o.c.Execute(func(c eddy.Conn) { setErr <- c.SetIdleTimeout(st.d) })
		if inForce > 0 && time.Since(start) >= inForce {
			// Late, whether Execute found the connection closed or queued the step behind the
			// idle close (on std, the close comes from a runtime timer).
			return false
		}
		if err != nil {
			t.Fatalf("Execute at %v: %v", st.after, err)
		}
		inForce = st.d
	}
	wait := 700 * time.Millisecond
	if wantClose {
		wait = max
	}
	select {
	case err := <-h.closedCh:
		took := time.Since(start)
		if !wantClose {
			t.Fatalf("closed after %v with %v; want it open", took, err)
		}
		if !errors.Is(err, eddy.ErrIdleTimeout) {
			t.Fatalf("OnClose reason = %v, want ErrIdleTimeout", err)
		}
		if took < min {
			t.Fatalf("closed after %v, want at least %v", took, min)
		}
	case <-time.After(wait):
		if wantClose {
			t.Fatalf("still open after %v", wait)
		}
	}
	for len(setErr) > 0 {
		if err := <-setErr; err != nil {
			t.Fatalf("SetIdleTimeout: %v", err)
		}
	}
	return true
}

package eddy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// SetIdleTimeout overrides the engine's idle timeout per connection, from OnOpen or later through Execute:
// shortening it, extending it, and turning it off (0) all take effect on a connection that is already
// open (conn.go, options.go).
func TestSetIdleTimeoutChanges(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	type step struct {
		after time.Duration // from OnOpen
		d     time.Duration
	}
	for _, tc := range []struct {
		name      string
		engine    time.Duration // WithIdleTimeout
		onOpen    time.Duration // -1: no call
		later     []step        // calls through Execute
		wantClose bool
		min, max  time.Duration // when closing, the close time from OnOpen
	}{
		{name: "shorten in OnOpen", engine: 10 * time.Second, onOpen: 150 * time.Millisecond, wantClose: true, min: 100 * time.Millisecond, max: 2 * time.Second},
		{name: "off in OnOpen", engine: 150 * time.Millisecond, onOpen: 0},
		{name: "on later", onOpen: -1, later: []step{{100 * time.Millisecond, 150 * time.Millisecond}}, wantClose: true, min: 200 * time.Millisecond, max: 2 * time.Second},
		{name: "extend later", engine: 300 * time.Millisecond, onOpen: -1, later: []step{{100 * time.Millisecond, 10 * time.Second}}},
		// OnOpen's 500 ms leaves the test goroutine time to turn it off even on a loaded CI machine
		// (at 100 ms, a run with -race beside other packages' tests saw the connection close first).
		{name: "off then on", onOpen: 500 * time.Millisecond, later: []step{{20 * time.Millisecond, 0}, {700 * time.Millisecond, 150 * time.Millisecond}}, wantClose: true, min: 800 * time.Millisecond, max: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				opened := make(chan eddy.Conn, 1)
				setErr := make(chan error, 8)
				h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
					if tc.onOpen >= 0 {
						setErr <- c.SetIdleTimeout(tc.onOpen)
					}
					opened <- c
				}}
				var opts []eddy.Option
				if tc.engine > 0 {
					opts = append(opts, eddy.WithIdleTimeout(tc.engine))
				}
				s := startServer(t, kind, h, opts...)
				s.dial(t)
				sc := <-opened
				start := time.Now()
				for _, st := range tc.later {
					time.Sleep(time.Until(start.Add(st.after)))
					if err := sc.Execute(func(c eddy.Conn) { setErr <- c.SetIdleTimeout(st.d) }); err != nil {
						t.Fatalf("Execute at %v: %v", st.after, err)
					}
				}
				wait := 700 * time.Millisecond
				if tc.wantClose {
					wait = tc.max
				}
				select {
				case err := <-h.closedCh:
					took := time.Since(start)
					if !tc.wantClose {
						t.Fatalf("closed after %v with %v; want it open", took, err)
					}
					if !errors.Is(err, eddy.ErrIdleTimeout) {
						t.Fatalf("OnClose reason = %v, want ErrIdleTimeout", err)
					}
					if took < tc.min {
						t.Fatalf("closed after %v, want at least %v", took, tc.min)
					}
				case <-time.After(wait):
					if tc.wantClose {
						t.Fatalf("still open after %v", wait)
					}
				}
				for len(setErr) > 0 {
					if err := <-setErr; err != nil {
						t.Fatalf("SetIdleTimeout: %v", err)
					}
				}
			})
		})
	}
}

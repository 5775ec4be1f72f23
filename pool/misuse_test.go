package pool_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/pool"
)

// A nil context given to a submission that must wait for room: it used to fault inside the pool's
// gate, which then never let Stop finish.
func TestMisuseSubmitNilContext(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	release := make(chan struct{})
	if err := p.Submit(context.Background(), func() { <-release }); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("Submit(nil ctx) on a saturated pool panicked: %v", v)
			}
		}()
		err = p.Submit(nil, func() {})
	}()
	if err != nil {
		t.Errorf("Submit(nil ctx) = %v, want nil once room is made (nil means Background)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop after Submit(nil ctx) = %v", err)
		}
	case <-time.After(10 * time.Second):
		// The gate was left held: Stop waits for ever, whatever its context (the goroutine leaks).
		t.Fatal("Stop after Submit(nil ctx) did not return")
	}
}

// A nil function is refused at the call, where the mistake is, not run (and recovered as a task's
// panic, with a worker's stack) later.
func TestMisuseNilFunction(t *testing.T) {
	var panics int
	p := pool.New(pool.WithPanicHandler(func(any, []byte) { panics++ }))
	defer p.Stop(context.Background())
	if err := p.Submit(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "nil function") {
		t.Errorf("Submit(nil fn) = %v, want an error naming the nil function", err)
	}
	if err := p.TrySubmit(nil); err == nil || !strings.Contains(err.Error(), "nil function") {
		t.Errorf("TrySubmit(nil fn) = %v, want an error naming the nil function", err)
	}
	func() {
		defer func() {
			if s, _ := recover().(string); !strings.Contains(s, "Execute") || !strings.Contains(s, "nil function") {
				t.Errorf("Execute(nil) panicked with %q, want a message naming it and the nil function", s)
			}
		}()
		p.Execute(nil)
	}()
	p.Stop(context.Background())
	if panics != 0 {
		t.Errorf("%d task panics reported for nil functions", panics)
	}
}

// A nil Option is skipped (eddy.New refuses one with an error; New has none to return).
func TestMisuseNilOption(t *testing.T) {
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("New(nil) panicked: %v", v)
		}
	}()
	p := pool.New(nil, pool.WithWorkers(2), nil)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

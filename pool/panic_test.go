package pool_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// panicLog collects what the panic handler receives.
type panicLog struct {
	mu     sync.Mutex
	values []any
	stacks []string
	seen   chan struct{}
}

func newPanicLog() *panicLog { return &panicLog{seen: make(chan struct{}, 16)} }

func (l *panicLog) handle(v any, stack []byte) {
	l.mu.Lock()
	l.values = append(l.values, v)
	l.stacks = append(l.stacks, string(stack))
	l.mu.Unlock()
	l.seen <- struct{}{}
}

func TestPanicIsReportedAndWorkerSurvives(t *testing.T) {
	log := newPanicLog()
	p := pool.New(pool.WithWorkers(1), pool.WithMinWorkers(1), pool.WithPanicHandler(log.handle))
	if err := p.Submit(t.Context(), func() { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	<-log.seen
	ran := make(chan struct{})
	if err := p.Submit(t.Context(), func() { close(ran) }); err != nil {
		t.Fatal(err)
	}
	<-ran
	stop(t, p)
	if log.values[0] != "boom" || !strings.Contains(log.stacks[0], "panic_test.go") {
		t.Fatalf("handler got %v with stack\n%s", log.values[0], log.stacks[0])
	}
	if st := p.Stats(); st.Panics != 1 || st.Completed != 1 {
		t.Fatalf("Stats = %+v; want 1 panic, 1 completed", st)
	}
}

func TestGoexitInTaskIsReportedAndWorkerSurvives(t *testing.T) {
	log := newPanicLog()
	p := pool.New(pool.WithWorkers(1), pool.WithPanicHandler(log.handle))
	if err := p.Submit(t.Context(), func() { runtime.Goexit() }); err != nil {
		t.Fatal(err)
	}
	<-log.seen
	ran := make(chan struct{})
	if err := p.Submit(t.Context(), func() { close(ran) }); err != nil {
		t.Fatal(err)
	}
	<-ran
	if st := p.Stats(); st.Workers != 1 {
		t.Fatalf("Workers = %d after Goexit; want 1", st.Workers)
	}
	stop(t, p)
	if log.values[0] != future.ErrGoexit {
		t.Fatalf("handler got %v; want future.ErrGoexit", log.values[0])
	}
}

func TestPanicInPanicHandlerIsContained(t *testing.T) {
	var buf strings.Builder
	restore := captureLog(&buf)
	defer restore()
	handled := make(chan struct{})
	p := pool.New(pool.WithWorkers(1), pool.WithPanicHandler(func(any, []byte) {
		defer close(handled)
		panic("handler is broken too")
	}))
	p.Submit(t.Context(), func() { panic("boom") })
	<-handled
	ran := make(chan struct{})
	p.Submit(t.Context(), func() { close(ran) })
	<-ran
	stop(t, p)
	if !strings.Contains(buf.String(), "pool: panic in panic handler: handler is broken too") {
		t.Fatalf("log = %q", buf.String())
	}
}

func TestExecuteRecoversPanicOnCaller(t *testing.T) {
	log := newPanicLog()
	p := pool.New(pool.WithWorkers(1), pool.WithPanicHandler(log.handle))
	stop(t, p)
	p.Execute(func() { panic("inline boom") }) // must not panic here
	<-log.seen
	if log.values[0] != "inline boom" || p.Stats().Panics != 1 {
		t.Fatalf("handler got %v, Stats = %+v", log.values[0], p.Stats())
	}
}

func TestGoPanicFailsTheFuture(t *testing.T) {
	log := newPanicLog()
	p := pool.New(pool.WithPanicHandler(log.handle))
	f := pool.Go(p, t.Context(), func(context.Context) (int, error) { panic("boom") })
	_, err := f.Await(t.Context())
	var pe *future.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("err = %v; want a *future.PanicError", err)
	}
	stop(t, p)
	if len(log.values) != 0 || p.Stats().Panics != 0 {
		t.Fatal("a panic in Go's function reached the pool's handler; it belongs to the future")
	}
}

func TestDefaultPanicHandlerLogs(t *testing.T) {
	p := pool.New(pool.WithWorkers(1))
	var buf strings.Builder
	restore := captureLog(&buf)
	done := make(chan struct{})
	p.Submit(t.Context(), func() { panic("logged boom") })
	p.Submit(t.Context(), func() { close(done) })
	<-done
	stop(t, p)
	restore()
	if !strings.Contains(buf.String(), "pool: panic in task: logged boom") {
		t.Fatalf("log = %q", buf.String())
	}
}

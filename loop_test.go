package eddy_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

func TestLoopExecuteRunsInOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, eddy.BaseHandler{})
		loops := s.e.Loops()
		if len(loops) != 2 {
			t.Fatalf("%d loops, want 2", len(loops))
		}
		l := loops[1]
		if l.Index() != 1 {
			t.Fatalf("Index = %d", l.Index())
		}
		var got []int // touched only on the loop
		done := make(chan []int)
		for i := 0; i < 1000; i++ {
			l.Execute(func() { got = append(got, i) })
		}
		l.Execute(func() { done <- got })
		res := <-done
		for i, v := range res {
			if v != i {
				t.Fatalf("task %d ran as %d", v, i)
			}
		}
		if len(res) != 1000 {
			t.Fatalf("%d tasks ran", len(res))
		}
	})
}

func TestLoopAfterFuncFiresAndStops(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, eddy.BaseHandler{})
		l := s.e.Loops()[0]
		fired := make(chan time.Duration, 1)
		start := time.Now()
		l.AfterFunc(30*time.Millisecond, func() { fired <- time.Since(start) })
		var stopped atomic.Bool
		made := time.Now()
		tm := l.AfterFunc(300*time.Millisecond, func() { stopped.Store(true) })
		stoppedInTime := true
		if !tm.Stop() {
			if time.Since(made) < 300*time.Millisecond {
				t.Fatal("Stop of a pending timer returned false")
			}
			// The test goroutine was starved past the deadline: the timer may rightly have fired.
			t.Logf("Stop came %v after the timer was made; its result proves nothing", time.Since(made))
			stoppedInTime = false
		} else if tm.Stop() {
			t.Fatal("second Stop returned true")
		}
		select {
		case d := <-fired:
			if d < 30*time.Millisecond {
				t.Fatalf("fired after %v, before its deadline", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("AfterFunc never fired")
		}
		time.Sleep(time.Until(made.Add(400 * time.Millisecond)))
		if stoppedInTime && stopped.Load() {
			t.Fatal("a stopped timer fired")
		}
	})
}

// upperHandler upper-cases each message on a worker pool and writes the result back with AsyncWrite,
// the pattern for blocking or CPU-heavy work: the loop never waits.
type upperHandler struct {
	eddy.BaseHandler
	p *pool.Pool
}

func (h upperHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	msg := string(b) // copy: b is only valid during OnData
	f := pool.Go(h.p, context.Background(), func(context.Context) (string, error) { return strings.ToUpper(msg), nil })
	future.Map(f, c.Loop(), func(s string) (struct{}, error) {
		return struct{}{}, c.AsyncWrite([]byte(s), nil)
	})
}

func TestPoolResultsComeBackThroughTheLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := pool.New(pool.WithWorkers(2))
		defer p.Stop(context.Background())
		s := startServer(t, kind, upperHandler{p: p})
		c := s.dial(t)
		for _, m := range []string{"hello", "event", "loops"} {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(m))
			got := make([]byte, len(m))
			if _, err := c.Read(got); err != nil || string(got) != strings.ToUpper(m) {
				t.Fatalf("got %q, %v", got, err)
			}
		}
	})
}

func TestSleepResolvesOnTheLoopOrFailsWithContext(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, eddy.BaseHandler{})
		l := s.e.Loops()[0]
		start := time.Now()
		if _, err := eddy.Sleep(context.Background(), l, 20*time.Millisecond).Await(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 20*time.Millisecond {
			t.Fatalf("Sleep resolved after %v", d)
		}
		ctx, cancel := context.WithCancel(context.Background())
		f := eddy.Sleep(ctx, l, time.Hour)
		cancel()
		if _, err := f.Await(context.Background()); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Sleep = %v, want context.Canceled", err)
		}
	})
}

// Cancelling a Sleep fails it with context.Canceled at once, whether Future.Cancel does it or a
// combinator that no longer needs it (the loser of a Race); a Sleep cancelled while its timer
// fires completes once, either way.
func TestSleepCanBeCancelled(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, eddy.BaseHandler{})
		l := s.e.Loops()[0]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		f := eddy.Sleep(context.Background(), l, time.Hour)
		f.Cancel()
		if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep after Cancel: %v, want context.Canceled", err)
		}

		loser := eddy.Sleep(context.Background(), l, time.Hour)
		if _, err := future.Race(loser, future.Ready(struct{}{})).Await(ctx); err != nil {
			t.Fatalf("Race: %v", err)
		}
		if _, err := loser.Await(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("the Sleep that lost a Race: %v, want context.Canceled", err)
		}

		for i := range 300 {
			f := eddy.Sleep(context.Background(), l, time.Duration(i%3)*time.Millisecond)
			if i%2 == 0 {
				go f.Cancel()
			}
			if _, err := f.Await(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("Sleep %d: %v, want nil or context.Canceled", i, err)
			}
		}
	})
}

// A stopped timer lets go of its function at once, though the loop may keep the timer itself on its
// wheel (or heap) for a while: what a cancelled Sleep(time.Hour) holds is not kept for an hour.
func TestStoppedTimerReleasesItsFunction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, eddy.BaseHandler{})
		l := s.e.Loops()[0]
		freed := make(chan struct{})
		tm := func() *eddy.Timer {
			v := new([1 << 12]byte)
			runtime.AddCleanup(v, func(c chan struct{}) { close(c) }, freed)
			return l.AfterFunc(time.Hour, func() { v[0]++ })
		}()
		// Once the loop has run what was posted before, the timer is on its wheel.
		done := make(chan struct{})
		l.Execute(func() { close(done) })
		<-done
		if !tm.Stop() {
			t.Fatal("Stop of a pending timer reported false")
		}
		for i := 0; ; i++ {
			runtime.GC()
			select {
			case <-freed:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if i == 100 {
				t.Fatal("the function of a stopped timer is still reachable")
			}
		}
	})
}

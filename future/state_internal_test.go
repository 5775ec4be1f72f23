package future

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder makes waiters that append their arg to ran when they run.
type recorder struct {
	ran []int
}

func (r *recorder) waiters(n int) []waiter {
	ws := make([]waiter, n)
	for i := range ws {
		ws[i] = waiter{fn: func(i int) *waiter { r.ran = append(r.ran, i); return nil }, arg: i}
	}
	return ws
}

func TestUnsubscribeKeepsTheOrderOfTheRest(t *testing.T) {
	s := new(state[int])
	var r recorder
	ws := r.waiters(7)
	for i := range 6 {
		if !s.subscribe(&ws[i]) {
			t.Fatalf("subscribe %d to a pending state ran it", i)
		}
	}
	// The first, one in the middle, the last.
	for _, i := range []int{0, 3, 5} {
		if !s.unsubscribe(&ws[i]) {
			t.Fatalf("unsubscribe %d of a queued continuation reported false", i)
		}
	}
	if s.unsubscribe(&ws[3]) {
		t.Fatal("a second unsubscribe of the same continuation reported true")
	}
	if s.unsubscribe(&ws[6]) {
		t.Fatal("unsubscribe of a continuation never subscribed reported true")
	}
	s.subscribe(&ws[6]) // after the removals, at the end
	if n := s.queued(); n != 4 {
		t.Fatalf("%d continuations queued; want 4", n)
	}
	s.complete(1, nil)
	if want := []int{1, 2, 4, 6}; !slices.Equal(r.ran, want) {
		t.Fatalf("ran %v; want %v", r.ran, want)
	}
}

func TestUnsubscribeOfEveryContinuationEmptiesTheList(t *testing.T) {
	s := new(state[int])
	var r recorder
	ws := r.waiters(3)
	for i := range 2 {
		s.subscribe(&ws[i])
	}
	s.unsubscribe(&ws[1])
	s.unsubscribe(&ws[0])
	if s.subs.Load() != nil || s.queued() != 0 {
		t.Fatal("the list is not empty after every continuation was unsubscribed")
	}
	s.subscribe(&ws[2])
	s.unsubscribe(&ws[2])
	s.complete(1, nil)
	if len(r.ran) != 0 {
		t.Fatalf("unsubscribed continuations ran: %v", r.ran)
	}
	if s.subs.Load() != sealed {
		t.Fatal("completion did not seal the list")
	}
}

// TestUnsubscribeOfRunningOrRunContinuationIsHarmless: once the state is complete, its
// continuations run whatever unsubscribe says, each once, in order.
func TestUnsubscribeOfRunningOrRunContinuationIsHarmless(t *testing.T) {
	s := new(state[int])
	var ran []int
	ws := make([]waiter, 4)
	ws[0] = waiter{fn: func(i int) *waiter {
		ran = append(ran, i)
		// Itself, while it runs, and the next ones, taken by completion.
		for j := range 3 {
			if s.unsubscribe(&ws[j]) {
				t.Errorf("unsubscribe %d during completion reported true", j)
			}
		}
		return nil
	}}
	for i := 1; i < len(ws); i++ {
		ws[i] = waiter{fn: func(i int) *waiter { ran = append(ran, i); return nil }, arg: i}
	}
	for i := range 3 {
		s.subscribe(&ws[i])
	}
	s.complete(1, nil)
	if s.subscribe(&ws[3]) {
		t.Fatal("subscribe to a complete state queued the continuation")
	}
	for i := range ws {
		if s.unsubscribe(&ws[i]) {
			t.Fatalf("unsubscribe %d after completion reported true", i)
		}
	}
	if want := []int{0, 1, 2, 3}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v; want %v", ran, want)
	}
}

// TestSubscribeUnsubscribeRacesComplete runs goroutines that subscribe continuations and
// unsubscribe their own and each other's, at random, while another goroutine completes the
// state at a random point. Run it with -race. Every continuation is either removed (and never
// runs) or runs exactly once; one that subscribe ran at once ran before subscribe returned;
// the ones that completion ran, ran in the order their goroutine added them.
func TestSubscribeUnsubscribeRacesComplete(t *testing.T) {
	const rounds, goroutines, per = 300, 4, 64
	type record struct {
		runs, removed atomic.Int32
		seq           atomic.Int64 // when it ran
		queued        bool         // what subscribe returned
	}
	var nInline, nRemoved, nCompleted int // how the rounds went, for -v
	defer func() {
		t.Logf("%d continuations ran in subscribe, %d were removed, %d ran on completion", nInline, nRemoved, nCompleted)
	}()
	for round := range rounds {
		s := new(state[int])
		var seq, subscribed atomic.Int64
		recs := make([][]record, goroutines)
		ws := make([][]waiter, goroutines)
		for g := range goroutines {
			recs[g] = make([]record, per)
			ws[g] = make([]waiter, per)
			for j := range per {
				r := &recs[g][j]
				ws[g][j].fn = func(int) *waiter {
					r.seq.Store(seq.Add(1))
					r.runs.Add(1)
					return nil
				}
			}
		}
		unsubscribe := func(g, j int) {
			if s.unsubscribe(&ws[g][j]) {
				recs[g][j].removed.Add(1)
			}
		}
		rng := rand.New(rand.NewPCG(uint64(round), 1))
		completeAt := rng.Int64N(goroutines*per + 1)
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			for subscribed.Load() < completeAt {
				runtime.Gosched()
			}
			s.complete(round, nil)
		})
		for g := range goroutines {
			seed := rng.Uint64()
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, uint64(g)))
				<-start
				for j := range per {
					r := &recs[g][j]
					r.queued = s.subscribe(&ws[g][j])
					if !r.queued && r.runs.Load() != 1 {
						t.Errorf("subscribe returned false but did not run the continuation")
					}
					subscribed.Add(1)
					switch rng.IntN(3) {
					case 0: // one of its own, perhaps removed or run already
						unsubscribe(g, rng.IntN(j+1))
					case 1: // anyone's, perhaps not even subscribed yet
						unsubscribe(rng.IntN(goroutines), rng.IntN(per))
					}
				}
			})
		}
		close(start)
		wg.Wait()

		if s.subs.Load() != sealed {
			t.Fatal("the state is not sealed after completion")
		}
		for g := range goroutines {
			var last int64
			for j := range per {
				r := &recs[g][j]
				runs, removed := r.runs.Load(), r.removed.Load()
				if runs+removed != 1 {
					t.Fatalf("round %d: continuation %d/%d ran %d times and was removed %d times; want one of them once",
						round, g, j, runs, removed)
				}
				switch {
				case !r.queued:
					nInline++
				case removed == 1:
					nRemoved++
				default:
					nCompleted++
				}
				if removed == 1 && !r.queued {
					t.Fatalf("round %d: continuation %d/%d was removed but never queued", round, g, j)
				}
				if r.queued && runs == 1 {
					if at := r.seq.Load(); at < last {
						t.Fatalf("round %d: continuations of goroutine %d ran out of order", round, g)
					} else {
						last = at
					}
				}
			}
		}
	}
}

// TestSubscribeRacesCompleteOfEmptyList races the first subscribe of a state against its
// completion, which seals an empty list without taking the lock. Run it with -race. The
// continuation runs exactly once, on the subscriber when subscribe reports false.
func TestSubscribeRacesCompleteOfEmptyList(t *testing.T) {
	const rounds = 5000
	for range rounds {
		s := new(state[int])
		var runs atomic.Int32
		w := waiter{fn: func(int) *waiter { runs.Add(1); return nil }}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			s.complete(1, nil)
		})
		var queued bool
		wg.Go(func() {
			<-start
			queued = s.subscribe(&w)
			if !queued && runs.Load() != 1 {
				t.Error("subscribe returned false but did not run the continuation")
			}
		})
		close(start)
		wg.Wait()
		if n := runs.Load(); n != 1 {
			t.Fatalf("the continuation ran %d times; want 1", n)
		}
	}
}

package future_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/eddyio/eddy/future"
)

// scenario is a set of promises with planned outcomes, completed in a planned order. Some of
// them (the first `before` of the order) complete before the combinators are built.
type scenario struct {
	outs   []future.Outcome[int]
	order  []int // a permutation of the inputs: the order in which they complete
	before int
}

func drawScenario(t *rapid.T) scenario {
	n := rapid.IntRange(0, 8).Draw(t, "n")
	outs := make([]future.Outcome[int], n)
	for i := range outs {
		if rapid.Bool().Draw(t, fmt.Sprint("fails", i)) {
			outs[i].Err = fmt.Errorf("input %d failed", i)
		} else {
			outs[i].Value = rapid.IntRange(-100, 100).Draw(t, fmt.Sprint("value", i))
		}
	}
	order := rapid.Permutation(seq(n)).Draw(t, "order")
	before := rapid.IntRange(0, n).Draw(t, "before")
	return scenario{outs, order, before}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// seen is the order in which the combinators observe the inputs: those complete when the
// combinator is built are watched in input order, the others in completion order.
func (sc scenario) seen() []int {
	pre := slices.Clone(sc.order[:sc.before])
	slices.Sort(pre)
	return append(pre, sc.order[sc.before:]...)
}

func TestCombinatorsMatchModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		ps := make([]future.Promise[int], len(sc.outs))
		fs := make([]future.Future[int], len(sc.outs))
		for i := range ps {
			ps[i] = future.NewPromise[int]()
			fs[i] = ps[i].Future()
		}
		complete := func(i int) { ps[i].Complete(sc.outs[i].Value, sc.outs[i].Err) }
		for _, i := range sc.order[:sc.before] {
			complete(i)
		}
		all, settled, anyF, race := future.All(fs...), future.AllSettled(fs...), future.Any(fs...), future.Race(fs...)
		for _, i := range sc.order[sc.before:] {
			complete(i)
		}

		seen := sc.seen()
		firstErr, firstOK := -1, -1
		for _, i := range seen {
			if sc.outs[i].Err != nil && firstErr < 0 {
				firstErr = i
			}
			if sc.outs[i].Err == nil && firstOK < 0 {
				firstOK = i
			}
		}

		vals, err := all.Result()
		if firstErr >= 0 {
			if err != sc.outs[firstErr].Err {
				t.Fatalf("All err = %v; want %v", err, sc.outs[firstErr].Err)
			}
		} else {
			want := make([]int, len(sc.outs))
			for i, o := range sc.outs {
				want[i] = o.Value
			}
			if err != nil || !slices.Equal(vals, want) {
				t.Fatalf("All = %v, %v; want %v", vals, err, want)
			}
		}

		outs, err := settled.Result()
		if err != nil || !slices.Equal(outs, sc.outs) {
			t.Fatalf("AllSettled = %v, %v; want %v", outs, err, sc.outs)
		}

		v, err := anyF.Result()
		switch {
		case len(sc.outs) == 0:
			if !errors.Is(err, future.ErrNoFutures) {
				t.Fatalf("Any() err = %v", err)
			}
		case firstOK >= 0:
			if err != nil || v != sc.outs[firstOK].Value {
				t.Fatalf("Any = %v, %v; want %v", v, err, sc.outs[firstOK].Value)
			}
		default:
			for _, o := range sc.outs {
				if !errors.Is(err, o.Err) {
					t.Fatalf("Any err = %v; missing %v", err, o.Err)
				}
			}
		}

		v, err = race.Result()
		if len(sc.outs) == 0 {
			if !errors.Is(err, future.ErrNoFutures) {
				t.Fatalf("Race() err = %v", err)
			}
		} else if w := sc.outs[seen[0]]; v != w.Value || err != w.Err {
			t.Fatalf("Race = %v, %v; want %v, %v", v, err, w.Value, w.Err)
		}
	})
}

// TestCombinatorsUnderConcurrentCompletion completes the inputs from many goroutines at once
// and checks what does not depend on the order.
func TestCombinatorsUnderConcurrentCompletion(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		ps := make([]future.Promise[int], len(sc.outs))
		fs := make([]future.Future[int], len(sc.outs))
		for i := range ps {
			ps[i] = future.NewPromise[int]()
			fs[i] = ps[i].Future()
		}
		all, settled, anyF, race := future.All(fs...), future.AllSettled(fs...), future.Any(fs...), future.Race(fs...)
		var wg sync.WaitGroup
		for i := range ps {
			wg.Go(func() { ps[i].Complete(sc.outs[i].Value, sc.outs[i].Err) })
		}
		wg.Wait()
		isOutcome := func(v int, err error, wantOK bool) bool {
			for _, o := range sc.outs {
				if (o.Err == nil) == wantOK && o.Value == v && o.Err == err {
					return true
				}
			}
			return false
		}
		failed := slices.ContainsFunc(sc.outs, func(o future.Outcome[int]) bool { return o.Err != nil })
		if vals, err := all.Result(); failed != (err != nil) || (err != nil && !isOutcome(0, err, false)) || (err == nil && len(vals) != len(sc.outs)) {
			t.Fatalf("All = %v, %v", vals, err)
		}
		if outs, _ := settled.Result(); !slices.Equal(outs, sc.outs) {
			t.Fatalf("AllSettled = %v", outs)
		}
		if len(sc.outs) == 0 {
			return
		}
		ok := slices.ContainsFunc(sc.outs, func(o future.Outcome[int]) bool { return o.Err == nil })
		if v, err := anyF.Result(); ok && !isOutcome(v, err, true) || !ok && err == nil {
			t.Fatalf("Any = %v, %v", v, err)
		}
		if v, err := race.Result(); !isOutcome(v, err, err == nil) {
			t.Fatalf("Race = %v, %v", v, err)
		}
	})
}

func drawFuture(t *rapid.T, label string) future.Future[int] {
	if rapid.Bool().Draw(t, label+" fails") {
		return future.Failed[int](errBoom)
	}
	return future.Ready(rapid.Int().Draw(t, label))
}

func same(a, b future.Future[int]) bool {
	va, ea := a.Result()
	vb, eb := b.Result()
	return va == vb && ea == eb
}

func TestMapLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := drawFuture(t, "f")
		k := rapid.Int().Draw(t, "k")
		id := func(v int) (int, error) { return v, nil }
		g := func(v int) (int, error) { return v + k, nil }
		h := func(v int) (int, error) { return v * 3, nil }
		if !same(future.Map(f, nil, id), f) {
			t.Fatal("Map(f, id) differs from f")
		}
		left := future.Map(future.Map(f, nil, g), nil, h)
		right := future.Map(f, nil, func(v int) (int, error) { w, _ := g(v); return h(w) })
		if !same(left, right) {
			t.Fatal("Map does not compose")
		}
		thenF := future.Then(f, nil, func(v int) future.Future[int] { return future.Ready(v + k) })
		if !same(thenF, future.Map(f, nil, g)) {
			t.Fatal("Then with a ready future differs from Map")
		}
		rethrow := future.Catch(f, nil, func(err error) (int, error) { return 0, err })
		if !same(rethrow, f) {
			t.Fatal("Catch that rethrows differs from f")
		}
	})
}

package eddy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// Two Sleeps of one loop due at the same moment race (future.Race): the loop fires both timers in one
// pass, the first resolves and wins, and the Race cancels the other, whose timer fires next. Cancelled
// first, it must fail with context.Canceled, as Sleep's documentation says: its timer resolved it
// anyway, for the cancellation reached it through a goroutine of the promise's context (whose watch
// had started, and the timer did not ask). The std engine fires each timer on a goroutine of its own,
// so there the loser may fire before the Race settles, and resolve.
func TestSleepRaceLoserFails(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, eddy.BaseHandler{})
		l := s.e.Loops()[0]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for range 20 {
			made := make(chan [2]future.Future[struct{}], 1)
			l.Execute(func() { // one clock reading for both: due together
				made <- [2]future.Future[struct{}]{
					eddy.Sleep(context.Background(), l, 5*time.Millisecond),
					eddy.Sleep(context.Background(), l, 5*time.Millisecond),
				}
			})
			fs := <-made
			won := future.Race(fs[0], fs[1])
			if _, err := won.Await(ctx); err != nil {
				t.Fatalf("Race: %v", err)
			}
			_, err0 := fs[0].Await(ctx)
			_, err1 := fs[1].Await(ctx)
			if kind == eddy.EngineStd && err0 == nil && err1 == nil {
				continue
			}
			if (err0 == nil) == (err1 == nil) || !errors.Is(err0, context.Canceled) && !errors.Is(err1, context.Canceled) {
				t.Fatalf("the Sleeps of a Race: %v and %v, want one nil and one context.Canceled", err0, err1)
			}
		}
	})
}

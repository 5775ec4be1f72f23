package main

import (
	"math"
	"testing"
	"time"
)

// A reply that comes after the window has closed (endWindow swept its client, whose requests in flight
// were tallied as pending then) is neither a round trip nor pending a second time. Replies in the moment
// between the window's end and its close are pending once (c8925a2), in-window ones round trips.
func TestLoadReplyAfterClose(t *testing.T) {
	newRun := func(end int64) (*loadRun, *shard, *client) {
		r := &loadRun{cfg: loadConfig{timeout: time.Hour, pipeline: 4}}
		sh := &shard{r: r, lat: newLatencyRecorder(), end: end, running: true}
		cl := newClient(r, 1)
		sh.add(cl)
		return r, sh, cl
	}
	close := func(r *loadRun, sh *shard, at int64) {
		r.endAt = at
		r.tallying = true
		r.stopped.Store(true)
		sh.sweep()
	}

	for _, tc := range []struct {
		name string
		end  int64 // sh.end: t0 + --duration, or never (--requests, until interrupted)
	}{
		{"duration", 1000},
		{"requests or SIGINT", math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, sh, cl := newRun(tc.end)
			cl.push(100) // answered in the window
			cl.push(200) // in flight when the window closes
			cl.push(300)
			sh.complete(cl, 500, true, 64)
			closeAt := min(tc.end, 1500)
			close(r, sh, closeAt)
			if sh.tally.pending != 2 || sh.roundTrips != 1 {
				t.Fatalf("after the close: pending %d, round trips %d; want 2 and 1", sh.tally.pending, sh.roundTrips)
			}
			// The replies to the two requests tallied, after the close.
			for _, now := range []int64{2000, 2100} {
				if in := sh.complete(cl, now, true, 64); in {
					t.Errorf("reply at %d after the window closed reported as within it", now)
				}
			}
			if sh.tally.pending != 2 || sh.roundTrips != 1 || sh.bytes != 64 {
				t.Errorf("after late replies: pending %d, round trips %d, bytes %d; want 2, 1 and 64 (each request once)",
					sh.tally.pending, sh.roundTrips, sh.bytes)
			}
			sh.addBytes(cl, 2200, 100)
			if sh.bytes != 64 {
				t.Errorf("http bytes read after the close counted: %d", sh.bytes)
			}
		})
	}

	t.Run("between end and close", func(t *testing.T) {
		r, sh, cl := newRun(1000)
		cl.push(200)
		cl.push(300)
		if in := sh.complete(cl, 1200, true, 64); in { // after the end, before the close
			t.Errorf("reply after the end reported as within the window")
		}
		if sh.tally.pending != 1 || sh.roundTrips != 0 {
			t.Fatalf("pending %d, round trips %d; want 1 and 0", sh.tally.pending, sh.roundTrips)
		}
		close(r, sh, 1000)
		if sh.tally.pending != 2 {
			t.Errorf("pending %d after the close, want 2", sh.tally.pending)
		}
	})
}

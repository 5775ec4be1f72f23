package http1_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
)

// A future of RoundTripAsync completes with the response head; its context then ends (the promise's
// is released on completion), and a Cancel of the complete future reaches nothing. Neither may cut
// the body that is still streaming in: the request's own context bounds that, as the docs say.
func TestRoundTripAsyncCancelAfterHead(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		more := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "head and ")
			w.(http.Flusher).Flush()
			select {
			case <-more:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "the rest")
		}))
		defer srv.Close()
		defer close(more)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f := tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/", nil))
		resp, err := f.Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		f.Cancel()
		buf := make([]byte, len("head and "))
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("body after Cancel: %v", err)
		}
		more <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != "the rest" {
			t.Fatalf("the rest of the body after Cancel: %q, %v", rest, err)
		}
	})
}

// Two requests race (future.Race over RoundTripAsync, as a client hedging over replicas writes it)
// and both response heads are in before their loop reads either: the loop reads them in one batch,
// the first resolves and wins, and the Race cancels the other, whose head is read next. That one must
// fail with context.Canceled, its connection closed, not resolve with a response nobody holds, whose
// body nobody closes, holding its connection for ever: the loop delivered the head anyway, for the
// cancellation reached it through a goroutine of the future's context (the promise's watch had
// started, and the delivery did not ask). The std engine reads each connection on a goroutine of its
// own: its loser fails only if the Race settles before its head is read.
// A response without a body (a 204 here) holds no connection, but the loser must fail all the same.
func TestRoundTripAsyncRaceLoserGetsNoResponse(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
	}{{"body", http.StatusOK}, {"bodyless", http.StatusNoContent}} {
		t.Run(c.name, func(t *testing.T) { raceLoserCase(t, c.status) })
	}
}

func raceLoserCase(t *testing.T, status int) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 1}
			defer advClose(t, tr)
			var arrived sync.WaitGroup // /a and /b
			arrived.Add(2)
			var answered sync.WaitGroup
			answered.Add(2)
			answer := make(chan struct{})
			// /hold is answered only once its continuation is in place: a response that came
			// before (a CI run under load) ran the continuation on this goroutine, at Map, which
			// then waited for its own release for ever.
			subscribed := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					arrived.Wait()
					<-subscribed
					io.WriteString(w, "hold")
					return
				}
				arrived.Done()
				<-answer
				w.WriteHeader(status)
				if status == http.StatusOK {
					io.WriteString(w, r.URL.Path)
				}
				w.(http.Flusher).Flush() // in the client's socket once this returns (loopback)
				answered.Done()
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			a := tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/a", nil))
			b := tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/b", nil))
			won := future.Race(a, b)
			// The response to /hold comes once /a and /b are in, and its continuation holds the loop
			// while the server answers them.
			entered, release := make(chan struct{}), make(chan struct{})
			hold := future.Map(tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/hold", nil)), future.Inline,
				func(resp *http.Response) (struct{}, error) {
					close(entered)
					<-release
					resp.Body.Close()
					return struct{}{}, nil
				})
			close(subscribed)
			select {
			case <-entered:
			case <-ctx.Done():
				t.Fatal("no response to /hold")
			}
			close(answer)
			answered.Wait()
			close(release)
			if _, err := hold.Await(ctx); err != nil {
				t.Fatal(err)
			}
			resp, err := won.Await(ctx)
			if err != nil {
				t.Fatalf("Race: %v", err)
			}
			resp.Body.Close()
			lost := b
			if r, _ := a.Result(); r != resp {
				lost = a
			}
			lr, err := lost.Await(ctx)
			if lr != nil {
				lr.Body.Close()
			}
			if kind == eddy.EngineStd && err == nil {
				return // its head was read before the Race settled: it is the caller's
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("the request that lost the Race: %v, %v, want context.Canceled", lr != nil, err)
			}
		})
	}
}

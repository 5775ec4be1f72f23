package http1_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// ciCountingServer is a net/http server whose /block handler waits for release, counting the
// connections it accepts.
func ciCountingServer(t *testing.T) (srv *httptest.Server, conns *atomic.Int32, entered chan struct{}, release chan struct{}) {
	conns = new(atomic.Int32)
	entered = make(chan struct{}, 16)
	release = make(chan struct{})
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok:"+r.URL.Path)
	}))
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return
}

func ciGet(tr http.RoundTripper, ctx context.Context, url string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestClientCloseIdleHandsOverToWaiter: with MaxConnsPerHost=1, a request in line for the only
// connection gets it when the request holding it ends, even though CloseIdleConnections was called
// meanwhile (before or after the waiter queued): putIdle hands the connection over instead of
// closing it, as net/http's tryPutIdleConn does. One connection serves both.
func TestClientCloseIdleHandsOverToWaiter(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, cicFirst := range []bool{true, false} {
			srv, conns, entered, release := ciCountingServer(t)
			tr := &http1.Transport{Engine: engine, Loops: 1, MaxConnsPerHost: 1}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var wg sync.WaitGroup
			var bodyA, bodyB string
			var errA, errB error
			wg.Add(1)
			go func() { defer wg.Done(); bodyA, errA = ciGet(tr, ctx, srv.URL+"/block") }()
			<-entered
			if cicFirst {
				tr.CloseIdleConnections()
			}
			wg.Add(1)
			bStarted := make(chan struct{})
			go func() { defer wg.Done(); close(bStarted); bodyB, errB = ciGet(tr, ctx, srv.URL+"/b") }()
			<-bStarted
			ciAwaitWaiting(t, tr, 1)
			if !cicFirst {
				tr.CloseIdleConnections()
			}
			close(release)
			wg.Wait()
			cancel()
			if errA != nil || bodyA != "ok:/block" {
				t.Errorf("cicFirst=%v: A = %q, %v", cicFirst, bodyA, errA)
			}
			if errB != nil || bodyB != "ok:/b" {
				t.Errorf("cicFirst=%v: B = %q, %v", cicFirst, bodyB, errB)
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("cicFirst=%v: %d connections; want 1 (handed over)", cicFirst, n)
			}
			tr.Close()
		}
	})
}

// TestClientCloseIdleThenBusyConnClosed: a connection in use when CloseIdleConnections is called is
// closed when it becomes free (no request asked for one since), so the next request dials anew;
// a request after that one pools again.
func TestClientCloseIdleThenBusyConnClosed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv, conns, entered, release := ciCountingServer(t)
		tr := &http1.Transport{Engine: engine, Loops: 1}
		defer tr.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := ciGet(tr, ctx, srv.URL+"/block"); done <- err }()
		<-entered
		tr.CloseIdleConnections()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for i, want := range []int32{2, 2} {
			if b, err := ciGet(tr, ctx, srv.URL+"/x"); err != nil || b != "ok:/x" {
				t.Fatalf("request %d: %q, %v", i, b, err)
			}
			if n := conns.Load(); n != want {
				t.Fatalf("after request %d: %d connections, want %d", i, n, want)
			}
		}
	})
}

// ciAwaitWaiting waits until n requests of tr are in line for a connection.
func ciAwaitWaiting(t *testing.T, tr *http1.Transport, n int) {
	t.Helper()
	for i := 0; http1.WaitingRequests(tr) != n; i++ {
		if i == 10000 {
			t.Fatalf("%d requests in line; want %d", http1.WaitingRequests(tr), n)
		}
		time.Sleep(time.Millisecond)
	}
}

var errZZCause = errors.New("zz: my cause")

// TestClientCauseWaitingAndInFlight: a request cancelled with a cause of its own fails with it, both
// in flight and while in line for a connection (MaxConnsPerHost); the cancelled waiter leaves no
// place held, and the in-flight one's connection is not reused: the next request is served. A
// RoundTripAsync future cancelled fails with context.Canceled.
func TestClientCauseWaitingAndInFlight(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv, conns, entered, release := ciCountingServer(t)
		tr := &http1.Transport{Engine: engine, Loops: 1, MaxConnsPerHost: 1}
		defer tr.Close()
		bg, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()

		ctxA, cancelA := context.WithCancelCause(bg)
		errA := make(chan error, 1)
		go func() { _, err := ciGet(tr, ctxA, srv.URL+"/block"); errA <- err }()
		<-entered

		ctxB, cancelB := context.WithCancelCause(bg)
		errB := make(chan error, 1)
		go func() { _, err := ciGet(tr, ctxB, srv.URL+"/b"); errB <- err }()
		ciAwaitWaiting(t, tr, 1)
		cancelB(errZZCause)
		if err := <-errB; !errors.Is(err, errZZCause) {
			t.Errorf("waiting request: err %v; want the cause", err)
		}

		req, _ := http.NewRequestWithContext(bg, http.MethodGet, srv.URL+"/c", nil)
		f := tr.RoundTripAsync(req)
		f.Cancel()
		if _, err := f.Await(bg); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled future: err %v; want context.Canceled", err)
		}

		cancelA(errZZCause)
		if err := <-errA; !errors.Is(err, errZZCause) {
			t.Errorf("in-flight request: err %v; want the cause", err)
		}
		close(release)
		if b, err := ciGet(tr, bg, srv.URL+"/d"); err != nil || b != "ok:/d" {
			t.Fatalf("next request: %q, %v", b, err)
		}
		if n := conns.Load(); n != 2 {
			t.Errorf("%d connections; want 2 (the cancelled one's is not reused)", n)
		}
	})
}

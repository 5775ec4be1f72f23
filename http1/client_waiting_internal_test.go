package http1

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingCtx counts the functions registered on it with context.AfterFunc and not yet stopped.
// (AfterFunc uses a context's own AfterFunc method when it has one and its Done channel is not a
// cancelCtx's: hence the channel of its own.)
type countingCtx struct {
	context.Context
	done chan struct{}
	live atomic.Int64
}

func newCountingCtx(base context.Context) *countingCtx {
	c := &countingCtx{Context: base, done: make(chan struct{})}
	go func() {
		<-base.Done()
		close(c.done)
	}()
	return c
}

func (c *countingCtx) Done() <-chan struct{} { return c.done }

func (c *countingCtx) AfterFunc(f func()) func() bool {
	c.live.Add(1)
	stop := context.AfterFunc(c.Context, f)
	var once sync.Once
	return func() bool {
		stopped := stop()
		once.Do(func() { c.live.Add(-1) })
		return stopped
	}
}

// Requests cancelled while they wait for a connection under MaxConnsPerHost are let go at once:
// neither the host's queue nor the requests' contexts keep them until a connection frees (with a
// server that never answers, that is for ever, and the queue grew with every cancelled request).
func TestCancelledWaitingRequestsAreLetGo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	tr := &Transport{MaxConnsPerHost: 1}
	defer tr.Close()
	url := "http://" + ln.Addr().String() + "/"

	first, _ := http.NewRequest("GET", url, nil)
	f0 := tr.RoundTripAsync(first)
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the first request's connection was not made")
	}

	const n = 2000
	base, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	ctx := newCountingCtx(base)
	for i := range n {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		f := tr.RoundTripAsync(req)
		if i%2 == 0 {
			f.Cancel()
		} else {
			// The other half through the request's own context.
			rctx, cancel := context.WithCancel(ctx)
			req2, _ := http.NewRequestWithContext(rctx, "GET", url, nil)
			f2 := tr.RoundTripAsync(req2)
			f.Cancel()
			cancel()
			if _, err := f2.Await(context.Background()); err == nil {
				t.Fatal("a cancelled request succeeded")
			}
		}
		if _, err := f.Await(context.Background()); err == nil {
			t.Fatal("a cancelled request succeeded")
		}
	}
	tr.mu.Lock()
	waiting := 0
	for _, hc := range tr.hosts {
		waiting += len(hc.waiting)
	}
	tr.mu.Unlock()
	if waiting > 1 {
		t.Errorf("%d cancelled requests still queued for a connection", waiting)
	}
	if live := ctx.live.Load(); live > 1 {
		t.Errorf("%d cancelled requests still watch their context", live)
	}
	f0.Cancel()
}

// Requests cancelled with Future.Cancel while they go to a connection, or wait on one for the
// response, stop watching their context: a long-lived context (a server's, shared by the requests it
// makes) kept every such exchange until it ended (found in session 19).
func TestFutureCancelEndsTheContextWatch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held sync.WaitGroup
	stop, accepting := make(chan struct{}), make(chan struct{})
	defer func() {
		ln.Close() // no held.Add after this: the accept loop has returned
		<-accepting
		close(stop)
		held.Wait()
	}()
	go func() {
		defer close(accepting)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() { // held open, never answered
				defer held.Done()
				<-stop
				c.Close()
			}()
		}
	}()
	tr := &Transport{}
	defer tr.Close()
	url := "http://" + ln.Addr().String() + "/"
	base, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	ctx := newCountingCtx(base)
	const n = 300
	for i := range n {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		f := tr.RoundTripAsync(req)
		if i%3 == 1 {
			time.Sleep(time.Millisecond) // on its way, or on the wire
		}
		f.Cancel()
		if _, err := f.Await(context.Background()); err == nil {
			t.Fatal("a cancelled request succeeded")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for ctx.live.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if live := ctx.live.Load(); live > 0 {
		t.Errorf("%d of %d requests cancelled with Future.Cancel still watch their context", live, n)
	}
}

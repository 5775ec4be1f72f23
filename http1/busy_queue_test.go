package http1_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/pool"
)

// queueFiller serves an http1.Server on an engine with a task queue of one, and makes sure that
// queue is full when the loop hands the connection's first request to the pool: in the same
// callback that parses it (OnData), it queues on the loop, ahead of the handoff's end-of-iteration
// task, a task that queues one more. The two run in one batch, so the handoff finds the pool full
// and posts its 503 (Conn.Execute) while the queue holds a task: Execute fails with ErrQueueFull.
type queueFiller struct {
	*http1.Server
	armed atomic.Bool
}

func (f *queueFiller) OnData(c eddy.Conn) {
	if f.armed.CompareAndSwap(false, true) {
		l := c.Loop()
		l.Execute(func() { l.Execute(func() {}) }) // Loop.Execute ignores the capacity, but counts in it
	}
	f.Server.OnData(c)
}

// A request the full pool refuses while the loop's task queue is full is not left hanging: the
// client still gets its 503 and the close, and the request ends (Shutdown does not wait for it).
// The bounds below are against a request that never ends, not a measure of speed.
func TestBusyRefusalWithFullTaskQueue(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd {
			t.Skip("the std engine's task queues are per connection, and its loop is not the connection's goroutine")
		}
		p := pool.New(pool.WithWorkers(1), pool.WithMinWorkers(1), pool.WithQueueSize(0))
		release, started := make(chan struct{}), make(chan struct{})
		if err := p.Submit(context.Background(), func() { close(started); <-release }); err != nil {
			t.Fatal(err)
		}
		<-started // the only worker is busy: TrySubmit fails with ErrFull
		defer p.Stop(context.Background())
		defer close(release)

		srv := &http1.Server{
			Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler ran") }),
			Pool:     p,
			ErrorLog: newLogger(io.Discard),
		}
		e, err := eddy.New(&queueFiller{Server: srv}, []string{"tcp://127.0.0.1:0"},
			eddy.WithEngine(kind), eddy.WithLoops(1), eddy.WithTaskQueueCapacity(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		defer e.Stop(context.Background())

		c, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatal("no answer and no close: the refused request was left hanging")
		case err != nil:
			t.Fatalf("read %v; want a 503", err)
		case resp.StatusCode != http.StatusServiceUnavailable || !resp.Close:
			t.Fatalf("status %d, close %v; want 503 and a close", resp.StatusCode, resp.Close)
		}
		io.Copy(io.Discard, resp.Body)
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("read after the 503: %v; want EOF", err)
		}
		// The request has ended: Shutdown does not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v (the refused request never ended)", err)
		}
	})
}

package eddy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openCounter counts OnOpen.
type openCounter struct {
	BaseHandler
	opened chan struct{}
}

func (h openCounter) OnOpen(Conn) { h.opened <- struct{}{} }

// An accept error is not the end of the connections queued behind it. The epoll listener is
// edge-triggered: before, an error that was neither resource exhaustion nor ECONNABORTED made the loop
// return from accept, and the connections already queued waited for another to arrive. Now a network
// error of the connection being taken (EPROTO, which accept(2) says to retry like EAGAIN) is skipped at
// once, and any other error is retried after a back-off.
func TestEpollAcceptErrorStrandsNoQueuedConnection(t *testing.T) {
	h := openCounter{opened: make(chan struct{}, 8)}
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineEpoll), WithLoops(1),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	l := e.impl.(*epollEngine).loops[0]
	faults := []error{unix.EPROTO, unix.EINVAL} // the loop's goroutine alone reads and changes it
	held, release := make(chan struct{}), make(chan struct{})
	e.Loops()[0].Execute(func() {
		l.acceptor.FaultForTest = func() error {
			if len(faults) == 0 {
				return nil
			}
			err := faults[0]
			faults = faults[1:]
			return err
		}
		close(held)
		<-release // the loop is held while the connections queue: it finds them all behind one edge
	})
	<-held
	for range 3 {
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
		if err != nil {
			close(release)
			t.Fatal(err)
		}
		defer c.Close()
	}
	close(release)
	for i := range 3 {
		select {
		case <-h.opened:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 3 queued connections opened in 5 s after an accept error", i)
		}
	}
}

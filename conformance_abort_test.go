package eddy_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// sendFileOpenHandler queues one file region on every new connection and hands the connection to the
// test; the region's callback error arrives on results.
type sendFileOpenHandler struct {
	*counter
	path    string
	n       int64
	opened  chan eddy.Conn
	results chan error
}

func (h *sendFileOpenHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	f, err := os.Open(h.path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := c.SendFile(f, 0, h.n, func(_ eddy.Conn, err error) { h.results <- err }); err != nil {
		panic(err)
	}
	h.opened <- c
}

func (h *sendFileOpenHandler) OnData(c eddy.Conn) { c.Discard(-1) }

// Abort while a file region is being sent to a peer that does not read: the region's callback learns
// of the abort as OnClose does, with the reason given (or ErrClosed), on every engine, not with an
// internal "use of closed network connection" error.
func TestAbortMidRegionTellsTheRegionWhy(t *testing.T) {
	data := pattern(32<<20, 3)
	path := writeFile(t, t.TempDir(), "big", data)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &sendFileOpenHandler{counter: newCounter(), path: path, n: int64(len(data)),
			opened: make(chan eddy.Conn, 1), results: make(chan error, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		defer c.Close()
		sc := <-h.opened
		time.Sleep(100 * time.Millisecond) // the buffers fill: the region is mid-way
		sc.Abort(errTestAbort)
		if err := h.waitClosed(t, 2*time.Second); !errors.Is(err, errTestAbort) {
			t.Errorf("OnClose(%v); want %v", err, errTestAbort)
		}
		select {
		case err := <-h.results:
			if !errors.Is(err, errTestAbort) && !errors.Is(err, eddy.ErrClosed) {
				t.Errorf("the region's callback got %v; want %v (or ErrClosed)", err, errTestAbort)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the region's callback did not run")
		}
	})
}

// abortOnOpen aborts every connection in OnOpen.
type abortOnOpen struct{ *counter }

func (h abortOnOpen) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	c.Abort(errTestAbort)
}

func (h abortOnOpen) OnData(c eddy.Conn) { c.Discard(-1) }

// A dialled connection aborted in its OnOpen: the Dial future fails with ErrClosed, and OnClose runs
// once, with the reason given.
func TestAbortInOnOpenOfADialledConn(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln := sinkListener(t)
		h := abortOnOpen{newCounter()}
		cl := startClient(t, kind, h)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for i := 0; i < 20; i++ {
			_, err := cl.Dial(ctx, "tcp://"+ln.Addr().String()).Await(ctx)
			if !errors.Is(err, eddy.ErrClosed) {
				t.Fatalf("Dial of a connection aborted in OnOpen: %v; want ErrClosed", err)
			}
			if err := h.waitClosed(t, 2*time.Second); !errors.Is(err, errTestAbort) {
				t.Fatalf("OnClose(%v); want %v", err, errTestAbort)
			}
		}
		time.Sleep(50 * time.Millisecond)
		if o, c := h.opened.Load(), h.closed.Load(); o != c {
			t.Fatalf("%d OnOpen, %d OnClose", o, c)
		}
	})
}

package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// asyncStorm runs writers goroutines that AsyncWrite on sc, each until AsyncWrite refuses, and checks that
// every accepted AsyncWrite has its callback run exactly once, with nil or ErrClosed (or the connection's
// *OpError), and no refused one has it run at all.
type asyncStorm struct {
	accepted, refused, cbNil, cbErr, dup atomic.Int64
	badErr                               atomic.Value
	wg                                   sync.WaitGroup
}

func (s *asyncStorm) run(sc eddy.Conn, writers, max int) {
	for w := 0; w < writers; w++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			msg := []byte(fmt.Sprintf("w%02d ", w))
			for i := 0; i < max; i++ {
				var calls atomic.Int32
				err := sc.AsyncWrite(msg, func(_ eddy.Conn, err error) {
					if calls.Add(1) > 1 {
						s.dup.Add(1)
					}
					if err == nil {
						s.cbNil.Add(1)
						return
					}
					s.cbErr.Add(1)
					var oe *eddy.OpError
					if !errors.Is(err, eddy.ErrClosed) && !errors.As(err, &oe) {
						s.badErr.Store(fmt.Sprintf("%v (%T)", err, err))
					}
				})
				if errors.Is(err, eddy.ErrQueueFull) {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				if err != nil {
					if !errors.Is(err, eddy.ErrClosed) {
						s.badErr.Store(fmt.Sprintf("AsyncWrite returned %v", err))
					}
					s.refused.Add(1)
					return
				}
				s.accepted.Add(1)
				if i%16 == 0 {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}()
	}
}

func (s *asyncStorm) check(t *testing.T) {
	t.Helper()
	s.wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for s.cbNil.Load()+s.cbErr.Load() < s.accepted.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // late duplicates
	if got, want := s.cbNil.Load()+s.cbErr.Load(), s.accepted.Load(); got != want || s.dup.Load() != 0 {
		t.Errorf("%d AsyncWrites accepted, %d callbacks ran (%d ok, %d failed), %d ran twice; want each exactly once",
			want, got, s.cbNil.Load(), s.cbErr.Load(), s.dup.Load())
	}
	if v := s.badErr.Load(); v != nil {
		t.Errorf("unexpected error: %v", v)
	}
}

// Many goroutines AsyncWrite while the connection closes (by Close from another goroutine, by the peer's
// reset, or by a forced engine stop): conn.go promises that callback runs once the bytes were handed to
// the kernel "or with the error that prevented it (ErrClosed when the connection closed first)".
func TestAsyncWriteCallbacksWhileClosing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, how := range []string{"Close", "peer reset", "engine stop"} {
			t.Run(how, func(t *testing.T) {
				for round := 0; round < 3; round++ {
					opened := make(chan eddy.Conn, 1)
					h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { opened <- c }}
					e := startEngine(t, kind, h, loopback)
					srv := &server{e: e, addr: e.Addrs()[0].String()}
					c := srv.dial(t)
					go io.Copy(io.Discard, c)
					sc := <-opened
					var st asyncStorm
					st.run(sc, 8, 400)
					time.Sleep(time.Duration(round+1) * time.Millisecond)
					switch how {
					case "Close":
						sc.Close()
					case "peer reset":
						c.SetLinger(0)
						c.Close()
					case "engine stop":
						ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
						e.Stop(ctx)
						cancel()
					}
					h.waitClosed(t, 5*time.Second)
					st.check(t)
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					e.Stop(ctx)
					cancel()
					if t.Failed() {
						return
					}
				}
			})
		}
	})
}

// An AsyncWrite of no bytes on an idle connection: conn.go says its callback "runs on the connection's
// loop once the bytes were handed to the kernel" (here: none, so at once, with nil), as it does for an
// empty SendFile region, which "only keeps its place for the callback". The callback must not wait for
// some later write or the close.
func TestEmptyAsyncWriteCallbackRuns(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, b := range [][]byte{nil, {}} {
			opened := make(chan eddy.Conn, 1)
			h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { opened <- c }}
			s := startServer(t, kind, h)
			c := s.dial(t)
			sc := <-opened
			done := make(chan error, 1)
			if err := sc.AsyncWrite(b, func(_ eddy.Conn, err error) { done <- err }); err != nil {
				t.Fatalf("AsyncWrite(%#v) = %v", b, err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("AsyncWrite(%#v) callback: %v, want nil", b, err)
				}
			case <-time.After(time.Second):
				// What does wake it: the next write, or the close.
				sc.AsyncWrite([]byte("x"), nil)
				select {
				case err := <-done:
					t.Fatalf("AsyncWrite(%#v) callback did not run for 1 s; it ran (%v) only once another write went out", b, err)
				case <-time.After(time.Second):
				}
				c.Close()
				select {
				case err := <-done:
					t.Fatalf("AsyncWrite(%#v) callback did not run for 1 s; it ran only at the close, with %v", b, err)
				case <-time.After(2 * time.Second):
					t.Fatalf("AsyncWrite(%#v) callback never ran", b)
				}
			}
		}
	})
}

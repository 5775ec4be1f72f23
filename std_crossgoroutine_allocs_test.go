package eddy_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

type allocOpenHandler struct {
	eddy.BaseHandler
	opened chan eddy.Conn
}

func (h *allocOpenHandler) OnOpen(c eddy.Conn) { h.opened <- c }

// TestCrossGoroutineWriteAllocs: an AsyncWrite with a completion callback, and an Execute that
// writes, made from a goroutine of the application (not a callback) allocate nothing once the
// connection is warm, on every engine: the loop engines carry the request in their task, and the
// portable engine carries it in its per-connection task list, reuses that list's arrays, and hands the
// section to a parked goroutine rather than starting one per call (review h28).
func TestCrossGoroutineWriteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			h := &allocOpenHandler{opened: make(chan eddy.Conn, 1)}
			e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				e.Stop(ctx)
			}()
			nc, err := net.Dial("tcp", e.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			var c eddy.Conn
			select {
			case c = <-h.opened:
			case <-time.After(10 * time.Second):
				t.Fatal("no OnOpen")
			}
			go func() { // the peer reads everything, into one buffer
				buf := make([]byte, 4096)
				for {
					if _, err := nc.Read(buf); err != nil {
						return
					}
				}
			}()
			msg := make([]byte, 64)
			done := make(chan error, 1)
			timer := time.NewTimer(time.Minute)
			defer timer.Stop()
			wait := func() {
				timer.Reset(time.Minute)
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
				case <-timer.C:
					t.Fatal("the write did not complete")
				}
			}
			cb := func(_ eddy.Conn, err error) { done <- err }
			write := func(c eddy.Conn) {
				_, err := c.Write(msg)
				done <- err
			}
			asyncWrite := func() {
				if err := c.AsyncWrite(msg, cb); err != nil {
					t.Fatal(err)
				}
				wait()
			}
			execute := func() {
				if err := c.Execute(write); err != nil {
					t.Fatal(err)
				}
				wait()
			}
			for i := 0; i < 10; i++ { // warm up: arrays grown, a goroutine parked
				asyncWrite()
				execute()
			}
			if n := testing.AllocsPerRun(200, asyncWrite); n != 0 {
				t.Errorf("AsyncWrite with a callback: %v allocations per call, want 0", n)
			}
			if n := testing.AllocsPerRun(200, execute); n != 0 {
				t.Errorf("Execute: %v allocations per call, want 0", n)
			}
		})
	}
}

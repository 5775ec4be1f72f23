package eddy_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

type burstConn struct {
	busy atomic.Int32 // a callback or task of this connection runs
	next [burstWriters]uint32
}

type burstHandler struct {
	eddy.BaseHandler
	opened chan eddy.Conn
}

func (h *burstHandler) OnOpen(c eddy.Conn) {
	c.SetContext(&burstConn{})
	h.opened <- c
}

const (
	burstConns   = 16
	burstWriters = 4
	burstRounds  = 50 // each an AsyncWrite and an Execute that writes: two messages
	burstMsg     = 8  // writer, seq, padding
)

// TestCrossGoroutineBurstKeepsOrder: goroutines of the application write to many connections at
// once with AsyncWrite (with a completion callback) and Execute (which writes), so that the sections go
// to goroutines parked for them, to new ones when none is, and back; a connection's callbacks and
// tasks never overlap, each writer's messages arrive in its order across both kinds, and its completion
// callbacks run in that order too, all with nil (review h28).
func TestCrossGoroutineBurstKeepsOrder(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			h := &burstHandler{opened: make(chan eddy.Conn, burstConns)}
			e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			stopped := false
			stop := func() {
				if stopped {
					return
				}
				stopped = true
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := e.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}
			defer stop()
			conns := make([]eddy.Conn, burstConns)
			peers := make([]net.Conn, burstConns)
			for i := range conns {
				nc, err := net.Dial("tcp", e.Addrs()[0].String())
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				peers[i] = nc
				select {
				case conns[i] = <-h.opened:
				case <-time.After(20 * time.Second):
					t.Fatal("no OnOpen")
				}
			}
			var failures sync.Map // first message of each kind
			fail := func(format string, args ...any) { failures.LoadOrStore(format, fmt.Sprintf(format, args...)) }
			enter := func(c eddy.Conn) *burstConn {
				s := c.Context().(*burstConn)
				if !s.busy.CompareAndSwap(0, 1) {
					fail("a connection's callbacks overlapped")
				}
				return s
			}
			// Each peer reads every message and checks each writer's sequence.
			var readers sync.WaitGroup
			for i, nc := range peers {
				readers.Add(1)
				go func() {
					defer readers.Done()
					nc.SetReadDeadline(time.Now().Add(60 * time.Second))
					var want [burstWriters]uint32
					var m [burstMsg]byte
					for n := 0; n < burstWriters*burstRounds*2; n++ {
						if _, err := io.ReadFull(nc, m[:]); err != nil {
							fail("conn %d: read after %d messages: %v", i, n, err)
							return
						}
						w, seq := m[0], binary.BigEndian.Uint32(m[1:5])
						if int(w) >= burstWriters || seq != want[w] {
							fail("conn %d: writer %d's message %d arrived when %d was due", i, w, seq, want[w%burstWriters])
							return
						}
						want[w]++
					}
				}()
			}
			var writers, callbacks sync.WaitGroup
			callbacks.Add(burstConns * burstWriters * burstRounds)
			for w := 0; w < burstWriters; w++ {
				writers.Add(1)
				go func() {
					defer writers.Done()
					for r := 0; r < burstRounds; r++ {
						for _, c := range conns {
							seq := uint32(2 * r)
							// Two arrays: AsyncWrite's bytes are the caller's until its task runs.
							var m, x [burstMsg]byte
							m[0], x[0] = byte(w), byte(w)
							binary.BigEndian.PutUint32(m[1:5], seq)
							binary.BigEndian.PutUint32(x[1:5], seq+1)
							err := c.AsyncWrite(m[:], func(c eddy.Conn, err error) {
								s := enter(c)
								defer s.busy.Store(0)
								defer callbacks.Done()
								if err != nil {
									fail("AsyncWrite's callback: %v", err)
								}
								if s.next[w] != seq/2 {
									fail("writer %d's callback %d ran when %d was due", w, seq/2, s.next[w])
								}
								s.next[w]++
							})
							if err != nil {
								callbacks.Done()
								fail("AsyncWrite: %v", err)
							}
							if err := c.Execute(func(c eddy.Conn) {
								s := enter(c)
								defer s.busy.Store(0)
								if _, err := c.Write(x[:]); err != nil {
									fail("Write in Execute: %v", err)
								}
							}); err != nil {
								fail("Execute: %v", err)
							}
						}
					}
				}()
			}
			writers.Wait()
			readers.Wait()
			done := make(chan struct{})
			go func() { callbacks.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("completion callbacks missing")
			}
			failures.Range(func(_, v any) bool {
				t.Error(v)
				return true
			})
			stop()
		})
	}
}

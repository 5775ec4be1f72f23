package eddy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy"
)

// Review h33: the std engine's task list (stdTask, two kept arrays) and its parked section runners
// (stdEngine.handOff), stressed from many goroutines at once, with Close, Abort and Stop interleaved.

const (
	zzConns   = 12
	zzWriters = 4
	zzMsg     = 8 // writer, seq (4), padding
)

type zzState struct {
	id     int
	busy   atomic.Int32 // a callback or task of this connection runs
	closed atomic.Bool  // OnClose ran
	// next callback seq due per writer (touched only in the connection's callbacks, which are
	// serialised; atomic all the same, so that a broken serialisation shows as a failure, not a race).
	nextCb [zzWriters]atomic.Int64
}

type zzHandler struct {
	eddy.BaseHandler
	opened chan *zzState
	conns  chan eddy.Conn
	n      atomic.Int32
	fail   func(format string, args ...any)
}

func (h *zzHandler) OnOpen(c eddy.Conn) {
	s := &zzState{id: int(h.n.Add(1)) - 1}
	c.SetContext(s)
	h.opened <- s
	h.conns <- c
}

func (h *zzHandler) enter(c eddy.Conn, what string) *zzState {
	s := c.Context().(*zzState)
	if !s.busy.CompareAndSwap(0, 1) {
		h.fail("conn %d: %s overlapped another callback of the connection", s.id, what)
	}
	return s
}

func (h *zzHandler) OnData(c eddy.Conn) {
	s := h.enter(c, "OnData")
	defer s.busy.Store(0)
	if s.closed.Load() {
		h.fail("conn %d: OnData after OnClose", s.id)
	}
	c.Discard(-1)
}

func (h *zzHandler) OnClose(c eddy.Conn, err error) {
	s := h.enter(c, "OnClose")
	defer s.busy.Store(0)
	if s.closed.Swap(true) {
		h.fail("conn %d: OnClose twice", s.id)
	}
}

type zzFailures struct {
	m sync.Map
	n atomic.Int32
}

func (f *zzFailures) add(format string, args ...any) {
	if _, loaded := f.m.LoadOrStore(format, fmt.Sprintf(format, args...)); !loaded {
		f.n.Add(1)
	}
}

func (f *zzFailures) report(t *testing.T) {
	f.m.Range(func(_, v any) bool {
		t.Error(v)
		return true
	})
}

// zzRound runs one randomised round on kind: zzWriters goroutines make AsyncWrite (with a callback)
// and Execute (which writes) calls to zzConns connections, with an occasional Close or Abort, from
// outside or in an Execute, an Execute that posts one to another connection, and a Stop at a random
// point while they go on; on std, an occasional Execute function ends its goroutine (runtime.Goexit),
// which aborts only its connection there. It checks that a connection's callbacks and tasks never
// overlap, that no Execute function runs after OnClose or twice, that every accepted AsyncWrite gets
// exactly one callback, nil only before OnClose, the nil ones in each writer's order, that each
// writer's messages reach the peer in order, that every connection gets OnClose, that Stop returns,
// and (the caller) that nothing is left running.
func zzRound(t *testing.T, kind eddy.EngineKind, seed uint64) {
	var f zzFailures
	h := &zzHandler{opened: make(chan *zzState, zzConns), conns: make(chan eddy.Conn, zzConns), fail: f.add}
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2),
		eddy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	stopOnce := sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return e.Stop(ctx)
	})
	defer stopOnce()
	states := make([]*zzState, zzConns)
	conns := make([]eddy.Conn, zzConns)
	peers := make([]net.Conn, zzConns)
	for i := range conns {
		nc, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		peers[i] = nc
		select {
		case s := <-h.opened:
			states[s.id] = s
			conns[s.id] = <-h.conns
		case <-time.After(20 * time.Second):
			t.Fatal("no OnOpen")
		}
	}
	// The peers: each writer's messages in order, to the end of the stream (a close may cut it
	// between messages; a reset may drop its tail, but what arrives is a prefix).
	var readers sync.WaitGroup
	for i, nc := range peers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			nc.SetReadDeadline(time.Now().Add(60 * time.Second))
			var last [zzWriters]int64
			for w := range last {
				last[w] = -1
			}
			var m [zzMsg]byte
			for {
				if _, err := io.ReadFull(nc, m[:]); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						f.add("peer %d: no end of stream in 60 s", i)
					}
					return
				}
				w, seq := int(m[0]), int64(binary.BigEndian.Uint32(m[1:5]))
				if w >= zzWriters || m[5] != 0xA5 {
					f.add("peer %d: garbled message % x", i, m)
					return
				}
				if seq <= last[w] {
					f.add("peer %d: writer %d's message %d after %d", i, w, seq, last[w])
				}
				last[w] = seq
			}
		}()
	}

	var accepted, called atomic.Int64
	var ran sync.Map // Execute functions run: (conn, writer, seq)
	type key struct{ c, w, seq int }
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	seeds := make([]uint64, zzWriters)
	for w := range seeds {
		seeds[w] = rng.Uint64()
	}
	stopAfter := time.Duration(rng.IntN(300)) * time.Millisecond
	var writers sync.WaitGroup
	for w := 0; w < zzWriters; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			r := rand.New(rand.NewPCG(seeds[w], uint64(w)))
			var seq [zzConns]int64
			deadline := time.Now().Add(stopAfter + 500*time.Millisecond)
			for op := 0; time.Now().Before(deadline); op++ {
				i := r.IntN(zzConns)
				c := conns[i]
				n := seq[i]
				seq[i]++
				var m [zzMsg]byte
				m[0] = byte(w)
				binary.BigEndian.PutUint32(m[1:5], uint32(n))
				m[5] = 0xA5
				switch p := r.IntN(1000); {
				case p < 3:
					c.Close()
				case p < 5:
					c.Abort(nil)
				case p < 500:
					b := m[:]
					err := c.AsyncWrite(b, func(c eddy.Conn, err error) {
						st := h.enter(c, "AsyncWrite's callback")
						defer st.busy.Store(0)
						called.Add(1)
						if err == nil && st.closed.Load() {
							f.add("conn %d: a write completed (nil) after OnClose", st.id)
						}
						// In order among the completions (nil): a write refused when its turn came
						// (ErrClosed) may be told before an earlier one's flush ends.
						if err == nil {
							if prev := st.nextCb[w].Swap(n + 1); prev > n {
								f.add("conn %d: writer %d's completion %d ran after %d", st.id, w, n, prev-1)
							}
						}
					})
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.Is(err, eddy.ErrClosed), errors.Is(err, eddy.ErrQueueFull):
					default:
						f.add("AsyncWrite: %v", err)
					}
				default:
					// A few close the connection after their write (Close, Abort), or post to
					// another connection from its section (a runner handing a section on).
					closeToo, abortToo, other := p >= 994 && p < 997, p >= 997, -1
					goexit := kind == eddy.EngineStd && p >= 980 && p < 985 // aborts only this connection there
					if p >= 985 && p < 994 {
						other = r.IntN(zzConns)
					}
					err := c.Execute(func(c eddy.Conn) {
						st := h.enter(c, "an Execute function")
						defer st.busy.Store(0)
						if st.closed.Load() {
							f.add("conn %d: an Execute function ran after OnClose", st.id)
						}
						if _, loaded := ran.LoadOrStore(key{st.id, w, int(n)}, true); loaded {
							f.add("conn %d: writer %d's Execute %d ran twice", st.id, w, n)
						}
						c.Write(m[:])
						switch {
						case goexit:
							runtime.Goexit()
						case closeToo:
							c.Close()
						case abortToo:
							c.Abort(nil)
						case other >= 0:
							err := conns[other].Execute(func(c eddy.Conn) {
								st := h.enter(c, "an Execute function posted by another connection's")
								defer st.busy.Store(0)
								if st.closed.Load() {
									f.add("conn %d: an Execute function ran after OnClose", st.id)
								}
							})
							if err != nil && !errors.Is(err, eddy.ErrClosed) && !errors.Is(err, eddy.ErrQueueFull) {
								f.add("Execute in Execute: %v", err)
							}
						}
					})
					if err != nil && !errors.Is(err, eddy.ErrClosed) && !errors.Is(err, eddy.ErrQueueFull) {
						f.add("Execute: %v", err)
					}
				}
				if op%64 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	time.Sleep(stopAfter)
	if err := stopOnce(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	writers.Wait()
	// Every accepted AsyncWrite's callback has run (Stop waited for the connections; on the loop
	// engines one accepted while Stop ran runs at the latest when its loop drains).
	deadline := time.Now().Add(10 * time.Second)
	for called.Load() < accepted.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if a, c := accepted.Load(), called.Load(); a != c {
		t.Errorf("%d AsyncWrites accepted, %d callbacks ran", a, c)
	}
	for _, nc := range peers {
		nc.Close()
	}
	readers.Wait()
	for _, s := range states {
		if !s.closed.Load() {
			f.add("conn %d: no OnClose after Stop", s.id)
		}
	}
	f.report(t)
}

func TestCrossGoroutineStress(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			seed := rand.Uint64()
			budget := 3 * time.Second
			if kind != eddy.EngineStd {
				budget = time.Second
			}
			start := time.Now()
			rounds := 0
			for time.Since(start) < budget && !t.Failed() {
				s := seed + uint64(rounds)
				zzRound(t, kind, s)
				if t.Failed() {
					t.Logf("failed round's seed %d", s)
				}
				rounds++
			}
			if err := goleak.Find(ignore); err != nil {
				t.Errorf("goroutines left after Stop: %v", err)
			}
			t.Logf("%d rounds (seed %d)", rounds, seed)
		})
	}
}

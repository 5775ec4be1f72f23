package eddy_test

// A line-protocol key-value server written against the public API only, as a user of eddy would write
// it, and run on every engine: each GET does its blocking work (a simulated disk read of 1-5 ms) on a
// pool.Pool, and the reply comes back to the connection's loop from the future's continuation, through
// Conn.Execute (every engine) or with the connection's Loop as the future's Executor (epoll and uring,
// where a Loop is serialised with its connections' callbacks). Requests are pipelined; replies go out in
// request order; connections close, and are reset, with work in flight.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// kvMaxInflight bounds the requests of one connection on the pool: past it the server stops reading
// the connection, so that pool.Go, which waits for room in the pool's queue, never blocks a loop.
const kvMaxInflight = 32

// kvServer is the server's Handler.
type kvServer struct {
	p       *pool.Pool
	viaLoop bool // continuations run on c.Loop() instead of going through c.Execute

	opened, closed atomic.Int64
	pending        atomic.Int64 // pool results not yet dealt with
	late           atomic.Int64 // results that found their connection closed

	mu   sync.Mutex
	errs []string
}

func (h *kvServer) fail(format string, args ...any) {
	h.mu.Lock()
	h.errs = append(h.errs, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// kvConn is a connection's state; it belongs to the connection's loop.
type kvConn struct {
	next, out uint64            // the sequence number of the next request, and of the next reply to send
	ready     map[uint64]string // replies computed ahead of their turn
	inflight  int               // requests on the pool
	paused    bool
	peerDone  bool   // the client shut its sending side down (OnPeerClosed)
	quitAt    uint64 // the request that asked to close (QUIT, or KILL for a reset), once read
	kill      bool
	quitting  bool
	ended     atomic.Bool // OnClose ran
}

// kvValue is what the simulated disk holds for key.
func kvValue(key string) string { return strings.ToUpper(key) + "/" + fmt.Sprint(len(key)) }

func (h *kvServer) OnOpen(c eddy.Conn) {
	h.opened.Add(1)
	c.SetContext(&kvConn{ready: map[uint64]string{}})
}

func (h *kvServer) OnData(c eddy.Conn) {
	st := c.Context().(*kvConn)
	if st.ended.Load() {
		h.fail("OnData after OnClose")
	}
	h.parse(c, st)
}

// OnPeerClosed keeps the connection open to answer the requests the client sent before its FIN,
// those on the pool and those still buffered (past kvMaxInflight), which no OnData will offer again.
func (h *kvServer) OnPeerClosed(c eddy.Conn) bool {
	st := c.Context().(*kvConn)
	if st.ended.Load() {
		h.fail("OnPeerClosed after OnClose")
	}
	st.peerDone = true
	h.parse(c, st)
	return !h.finish(c, st)
}

// finish closes the connection of a client that has shut its side down once every request it sent
// is answered, and reports whether it did. The caller is OnPeerClosed, which lets the engine close.
func (h *kvServer) finish(c eddy.Conn, st *kvConn) bool {
	if !st.peerDone || st.quitting || st.inflight > 0 || c.Buffered() > 0 {
		return false
	}
	st.quitting = true
	return true
}

// parse starts the requests buffered on c, up to kvMaxInflight of them at once.
func (h *kvServer) parse(c eddy.Conn, st *kvConn) {
	for !st.quitting && st.inflight < kvMaxInflight {
		b, _ := c.Peek(0)
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line := string(b[:i])
		c.Discard(i + 1)
		seq := st.next
		st.next++
		switch {
		case line == "QUIT" || line == "KILL":
			st.quitting, st.quitAt, st.kill = true, seq, line == "KILL"
			h.reply(c, st, seq, "")
		case strings.HasPrefix(line, "GET "):
			h.get(c, st, seq, line[len("GET "):])
		default:
			h.reply(c, st, seq, "ERR "+line+"\n")
		}
	}
	if st.quitting {
		c.Discard(-1)
	}
	if !st.paused && st.inflight >= kvMaxInflight {
		st.paused = true
		c.SetReadPaused(true)
	}
}

// get reads key from the "disk" on the pool and sends the reply from the future's continuation.
func (h *kvServer) get(c eddy.Conn, st *kvConn, seq uint64, key string) {
	st.inflight++
	h.pending.Add(1)
	f := pool.Go(h.p, context.Background(), func(ctx context.Context) (string, error) {
		time.Sleep(time.Duration(1+rand.IntN(5)) * time.Millisecond)
		return "VALUE " + key + " " + kvValue(key) + "\n", nil
	})
	back := func(v string) {
		if st.ended.Load() {
			h.fail("a reply's continuation ran on the loop after OnClose")
			return
		}
		st.inflight--
		h.reply(c, st, seq, v)
		switch {
		case st.peerDone:
			// No more OnData: start what is left here, and close after the last reply.
			h.parse(c, st)
			if h.finish(c, st) {
				c.Close()
			}
		case st.paused && st.inflight < kvMaxInflight/2 && !st.quitting:
			st.paused = false
			c.SetReadPaused(false) // OnData then runs again for the requests left buffered
		}
	}
	if h.viaLoop {
		future.Map(f, c.Loop(), func(v string) (struct{}, error) {
			defer h.pending.Add(-1)
			if st.ended.Load() {
				h.late.Add(1) // the connection is gone: on the loop, so nothing can race with this
				return struct{}{}, nil
			}
			back(v)
			return struct{}{}, nil
		})
		return
	}
	future.Map(f, future.Inline, func(v string) (struct{}, error) {
		h.pending.Add(-1)
		// On a connection closed already, Execute refuses fn; on one whose close comes before fn's
		// turn, fn does not run either, and nothing says so: nothing may depend on fn to release
		// what it holds.
		if err := c.Execute(func(eddy.Conn) { back(v) }); err != nil {
			h.late.Add(1)
		}
		return struct{}{}, nil
	})
}

// reply records the reply to request seq and writes every reply whose turn has come.
func (h *kvServer) reply(c eddy.Conn, st *kvConn, seq uint64, v string) {
	st.ready[seq] = v
	for {
		r, ok := st.ready[st.out]
		if !ok {
			return
		}
		delete(st.ready, st.out)
		if st.quitting && st.out == st.quitAt {
			if st.kill {
				c.Abort(errors.New("kv: killed"))
			} else {
				c.Close() // the replies before it are flushed first
			}
			return
		}
		st.out++
		// ErrClosed once the connection is closing (the peer's FIN or reset came first): the
		// reply is dropped, as it should be.
		c.Write([]byte(r))
	}
}

func (h *kvServer) OnClose(c eddy.Conn, err error) {
	h.closed.Add(1)
	st := c.Context().(*kvConn)
	if st.ended.Swap(true) {
		h.fail("OnClose twice")
	}
}

// kvRun starts the server on engine kind with a pool; the cleanup checks that every connection was
// closed once and every result dealt with, and stops both.
func kvRun(t *testing.T, kind eddy.EngineKind, viaLoop bool) (*kvServer, *eddy.Engine, string) {
	t.Helper()
	p := pool.New(pool.WithWorkers(64), pool.WithQueueSize(1024))
	h := &kvServer{p: p, viaLoop: viaLoop}
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for (h.closed.Load() != h.opened.Load() || h.pending.Load() != 0) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if o, c, p := h.opened.Load(), h.closed.Load(), h.pending.Load(); o != c || p != 0 {
			t.Errorf("%d connections opened, %d closed; %d results not dealt with", o, c, p)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := p.Stop(ctx); err != nil {
			t.Errorf("pool Stop: %v", err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, s := range h.errs {
			t.Error(s)
		}
	})
	return h, e, e.Addrs()[0].String()
}

// kvModes are the ways the replies come back to the loop: through Conn.Execute on every engine, and
// with the connection's Loop as the Executor on the engines where that is serialised with the
// connection's callbacks.
func kvModes(kind eddy.EngineKind) []bool {
	if kind == eddy.EngineStd {
		return []bool{false}
	}
	return []bool{false, true}
}

func kvName(kind eddy.EngineKind, viaLoop bool) string {
	if viaLoop {
		return string(kind) + "/loop"
	}
	return string(kind) + "/execute"
}

// Pipelined requests on many connections: every reply comes back, in request order.
func TestKVPipelinedInOrder(t *testing.T) {
	const conns, reqs = 16, 200
	for _, kind := range testEngines() {
		for _, viaLoop := range kvModes(kind) {
			t.Run(kvName(kind, viaLoop), func(t *testing.T) {
				_, _, addr := kvRun(t, kind, viaLoop)
				var wg sync.WaitGroup
				for i := range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := kvClient(addr, i, reqs); err != nil {
							t.Errorf("connection %d: %v", i, err)
						}
					}()
				}
				wg.Wait()
			})
		}
	}
	skipMissingUring(t)
}

// kvClient sends reqs GETs at once, in chunks that split lines, then QUIT (or, for odd ids, its FIN),
// and checks the replies and the server's close after them.
func kvClient(addr string, id, reqs int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	for j := range reqs {
		fmt.Fprintf(&req, "GET key-%d-%d\n", id, j)
	}
	halfClose := id%2 == 1 // the client ends its requests with its FIN instead of QUIT
	if !halfClose {
		req.WriteString("QUIT\n")
	}
	werr := make(chan error, 1)
	go func() {
		b := req.Bytes()
		for len(b) > 0 {
			n := min(len(b), 1+rand.IntN(300))
			if _, err := c.Write(b[:n]); err != nil {
				werr <- err
				return
			}
			b = b[n:]
		}
		if halfClose {
			c.(*net.TCPConn).CloseWrite()
		}
		werr <- nil
	}()
	r := bufio.NewReader(c)
	for j := range reqs {
		line, err := r.ReadString('\n')
		key := fmt.Sprintf("key-%d-%d", id, j)
		if want := "VALUE " + key + " " + kvValue(key) + "\n"; line != want {
			return fmt.Errorf("reply %d: %q, %v; want %q", j, line, err, want)
		}
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		return fmt.Errorf("after the replies: %q, %v; want the server's close", rest, err)
	}
	return <-werr
}

// Connections that go away with requests on the pool: closed by the client (FIN or reset) or by the
// server (QUIT, KILL) with work in flight. Nothing runs for a connection after its OnClose, and every
// result is dealt with.
func TestKVCloseWithWorkInFlight(t *testing.T) {
	const conns = 60
	for _, kind := range testEngines() {
		for _, viaLoop := range kvModes(kind) {
			t.Run(kvName(kind, viaLoop), func(t *testing.T) {
				h, _, addr := kvRun(t, kind, viaLoop)
				var wg sync.WaitGroup
				for i := range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := kvGoAway(addr, i); err != nil {
							t.Errorf("connection %d: %v", i, err)
						}
					}()
				}
				wg.Wait()
				t.Cleanup(func() { t.Logf("%d results found their connection closed", h.late.Load()) })
			})
		}
	}
	skipMissingUring(t)
}

// kvGoAway sends some GETs, then ends the connection in one of four ways, chosen by id.
func kvGoAway(addr string, id int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	tc := c.(*net.TCPConn)
	var req bytes.Buffer
	n := 5 + id%40
	for j := range n {
		fmt.Fprintf(&req, "GET k%d.%d\n", id, j)
	}
	switch id % 4 {
	case 0: // the client shuts its side down and leaves without reading
		tc.Write(req.Bytes())
		tc.CloseWrite()
		return nil
	case 1: // the client resets the connection
		tc.Write(req.Bytes())
		tc.SetLinger(0)
		return nil
	case 2: // QUIT: the replies before it come, then the server's FIN, with GETs after it unanswered
		req.WriteString("QUIT\nGET never\n")
		tc.Write(req.Bytes())
		b, err := io.ReadAll(tc)
		if err != nil {
			return fmt.Errorf("QUIT: %v after %q", err, b)
		}
		if got := strings.Count(string(b), "\n"); got != n || !strings.HasSuffix(string(b), kvValue(fmt.Sprintf("k%d.%d", id, n-1))+"\n") {
			return fmt.Errorf("QUIT: %d replies (%q), want %d", got, b, n)
		}
		return nil
	default: // KILL: the server resets the connection
		req.WriteString("KILL\n")
		tc.Write(req.Bytes())
		_, err := io.ReadAll(tc)
		if !errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("KILL: read %v, want a reset", err)
		}
		return nil
	}
}

// An engine stopped with requests on the pool: Stop returns, every connection is closed once, and the
// results that come back afterwards find their connections closed (with the Loop as the Executor, a
// stopped loop runs them on the goroutine that completes the future).
func TestKVStopWithWorkInFlight(t *testing.T) {
	const conns = 20
	for _, kind := range testEngines() {
		for _, viaLoop := range kvModes(kind) {
			t.Run(kvName(kind, viaLoop), func(t *testing.T) {
				h, e, addr := kvRun(t, kind, viaLoop)
				var wg sync.WaitGroup
				for i := range conns {
					c, err := net.DialTimeout("tcp", addr, 10*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(30 * time.Second))
					var req bytes.Buffer
					for j := range 100 {
						fmt.Fprintf(&req, "GET s%d.%d\n", i, j)
					}
					if _, err := c.Write(req.Bytes()); err != nil {
						t.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						io.Copy(io.Discard, c) // to the server's FIN or reset
					}()
				}
				// Stop once every connection is served and some requests are on the pool.
				for deadline := time.Now().Add(10 * time.Second); (h.opened.Load() < conns || h.pending.Load() == 0) && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := e.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
				if o, c := h.opened.Load(), h.closed.Load(); o != conns || c != conns {
					t.Errorf("after Stop: %d connections opened, %d closed; want %d", o, c, conns)
				}
				wg.Wait()
			})
		}
	}
	skipMissingUring(t)
}

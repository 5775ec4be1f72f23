package eddy_test

// An L4 TCP proxy written against the public API only, as a user of eddy would write it, and run on
// every engine: it accepts on eddy, dials its backend with Engine.DialWith, copies both ways with
// AsyncWrite under its own back-pressure (SetReadPaused), passes half-closes (CloseWrite) and resets
// (Abort) on, and closes each side exactly once.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

var pxBulkSize = flag.Int("eddy.proxybytes", 8<<20, "TestProxy: bytes sent each way in the bulk transfer (64 MiB for the full run)")

// pxHigh and pxLow bound the bytes the proxy has read from one side and not yet handed to the kernel
// on the other: above pxHigh it stops reading that side, and reads again at pxLow.
const (
	pxHigh = 256 << 10
	pxLow  = 64 << 10
)

// pxBound is the most the proxy may hold in flight for one side on engine kind: its high water mark,
// plus what one OnData brings past it (a read, 64 KiB), plus, on uring, what the kernel received
// before a pause took effect (Conn.SetReadPaused: up to the loop's receive buffers, 8 MiB).
func pxBound(kind eddy.EngineKind) int64 {
	if kind == eddy.EngineUring {
		return pxHigh + 9<<20
	}
	return pxHigh + 1<<20
}

// pxProxy is the proxy's Handler. Each accepted connection gets a pair of sides; the backend's
// connection is dialled with the back side as its Context, so that OnOpen tells the two apart.
type pxProxy struct {
	backend string
	eng     *eddy.Engine // set before Start

	opened, closed atomic.Int64
	dialFailed     atomic.Int64
	maxInflight    atomic.Int64
	maxChunk       atomic.Int64 // the most bytes one OnData got

	mu   sync.Mutex
	errs []string // contract violations seen by the callbacks
}

func (h *pxProxy) fail(format string, args ...any) {
	h.mu.Lock()
	h.errs = append(h.errs, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// pxSide is one connection of a pair. The fields without a lock belong to the connection's loop.
type pxSide struct {
	h    *pxProxy
	name string
	peer *pxSide
	pair *pxPair
	c    eddy.Conn // the front's from OnOpen; the back's is pair.back

	dialling bool // front only: reading held until the backend is connected
	paused   bool // reading held for back-pressure
	gotFIN   bool // the peer of this connection shut its sending side down
	sentFIN  bool // this connection's sending side was shut down (CloseWrite)

	inflight atomic.Int64 // bytes read from this side and not yet handed to the kernel on the other
	closeReq atomic.Bool  // the proxy closed this side, or had the engine close it
	ended    atomic.Bool  // OnClose ran
}

// pxPair links the two sides; back is set once the dial has succeeded.
type pxPair struct {
	mu         sync.Mutex
	back       eddy.Conn
	frontEnded bool
}

func (s *pxSide) check(c eddy.Conn, what string) {
	if s.ended.Load() {
		s.h.fail("%s: %s after OnClose", s.name, what)
	}
}

// other returns the connection of the other side (nil while the backend is being dialled).
func (s *pxSide) other() eddy.Conn {
	if s.name == "back" {
		return s.peer.c
	}
	s.pair.mu.Lock()
	defer s.pair.mu.Unlock()
	return s.pair.back
}

// end closes c (gracefully for a nil err, with a reset otherwise), once whatever asks.
func (s *pxSide) end(c eddy.Conn, err error) {
	if c == nil || !s.closeReq.CompareAndSwap(false, true) {
		return
	}
	if err == nil {
		c.Close()
	} else {
		c.Abort(err)
	}
}

// hold sets reading on c to what the side's state asks for.
func (s *pxSide) hold(c eddy.Conn) { c.SetReadPaused(s.dialling || s.paused) }

func (h *pxProxy) OnOpen(c eddy.Conn) {
	h.opened.Add(1)
	if s, ok := c.Context().(*pxSide); ok {
		s.check(c, "OnOpen")
		return // a backend connection; the dial's continuation links it
	}
	front := &pxSide{h: h, name: "front", c: c, dialling: true}
	back := &pxSide{h: h, name: "back"}
	front.peer, back.peer = back, front
	front.pair = &pxPair{}
	back.pair = front.pair
	c.SetContext(front)
	front.hold(c) // nowhere to put the bytes yet
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	linked := future.Map(h.eng.DialWith(ctx, h.backend, back), future.Inline, func(bc eddy.Conn) (struct{}, error) {
		cancel()
		front.pair.mu.Lock()
		gone := front.pair.frontEnded
		if !gone {
			front.pair.back = bc
		}
		front.pair.mu.Unlock()
		if gone {
			back.end(bc, errors.New("proxy: client gone"))
			return struct{}{}, nil
		}
		c.Execute(func(c eddy.Conn) {
			front.check(c, "link")
			front.dialling = false
			front.hold(c)
		})
		return struct{}{}, nil
	})
	future.Catch(linked, future.Inline, func(err error) (struct{}, error) {
		cancel()
		h.dialFailed.Add(1)
		front.end(c, err)
		return struct{}{}, nil
	})
}

func (h *pxProxy) OnData(c eddy.Conn) {
	s := c.Context().(*pxSide)
	s.check(c, "OnData")
	b, _ := c.Next(-1)
	dst := s.other()
	if len(b) == 0 || dst == nil {
		if len(b) > 0 {
			h.fail("%s: OnData while the backend is not linked", s.name)
		}
		return
	}
	cp := bytes.Clone(b)
	n := int64(len(cp))
	for m := h.maxChunk.Load(); n > m && !h.maxChunk.CompareAndSwap(m, n); m = h.maxChunk.Load() {
	}
	if s.paused || s.dialling {
		h.fail("%s: OnData while paused (%d bytes)", s.name, n)
	}
	v := s.inflight.Add(n)
	for m := h.maxInflight.Load(); v > m && !h.maxInflight.CompareAndSwap(m, v); m = h.maxInflight.Load() {
	}
	err := dst.AsyncWrite(cp, func(dc eddy.Conn, err error) {
		if err == nil {
			// A failed one may come after OnClose on epoll and uring (Conn.AsyncWrite).
			s.peer.check(dc, "AsyncWrite callback")
		}
		if err != nil {
			return // the other side failed or closed: its OnClose ends this one
		}
		if left := s.inflight.Add(-n); left <= pxLow && left+n > pxLow {
			c.Execute(func(c eddy.Conn) {
				s.check(c, "resume")
				if s.paused && s.inflight.Load() <= pxLow {
					s.paused = false
					s.hold(c)
				}
			})
		}
	})
	if err != nil {
		s.inflight.Add(-n)
		return
	}
	if v > pxHigh && !s.paused {
		s.paused = true
		s.hold(c)
	}
}

// OnPeerClosed passes the FIN on: the other side's sending side is shut down behind the bytes queued
// for it. A connection whose own sending side is shut down already is done both ways: the engine
// closes it.
func (h *pxProxy) OnPeerClosed(c eddy.Conn) bool {
	s := c.Context().(*pxSide)
	s.check(c, "OnPeerClosed")
	s.gotFIN = true
	if dst := s.other(); dst != nil {
		dst.Execute(func(dc eddy.Conn) {
			o := s.peer
			o.check(dc, "CloseWrite")
			if dc.CloseWrite() == nil {
				o.sentFIN = true
			}
			if o.gotFIN {
				o.end(dc, nil)
			}
		})
	}
	if s.sentFIN {
		s.closeReq.Store(true)
		return false
	}
	return true
}

func (h *pxProxy) OnClose(c eddy.Conn, err error) {
	h.closed.Add(1)
	s, ok := c.Context().(*pxSide)
	if !ok {
		h.fail("OnClose without a side")
		return
	}
	if s.ended.Swap(true) {
		h.fail("%s: OnClose twice", s.name)
	}
	clean := err == nil || errors.Is(err, io.EOF)
	var other eddy.Conn
	if s.name == "front" {
		s.pair.mu.Lock()
		s.pair.frontEnded = true
		other = s.pair.back
		s.pair.mu.Unlock()
	} else {
		other = s.peer.c
	}
	if !clean {
		s.peer.end(other, err) // a reset (or any failure) of one side resets the other
	}
}

// pxRun starts a proxy to backend on engine kind and returns it with its address; the cleanup stops
// it and checks that every connection it opened was closed once, with no callback after OnClose.
func pxRun(t *testing.T, kind eddy.EngineKind, backend string) (*pxProxy, string) {
	t.Helper()
	h := &pxProxy{backend: "tcp://" + backend}
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2))
	if err != nil {
		t.Fatal(err)
	}
	h.eng = e
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every connection ends by itself in these tests: wait for that before Stop, which would close
		// what is left and hide a connection the proxy forgot.
		deadline := time.Now().Add(10 * time.Second)
		for h.closed.Load() != h.opened.Load() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		open, closed := h.opened.Load(), h.closed.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if open != closed {
			t.Errorf("proxy: %d connections opened, %d closed before Stop", open, closed)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, s := range h.errs {
			t.Error(s)
		}
	})
	return h, e.Addrs()[0].String()
}

// pxBackend serves each connection of a loopback listener with serve, on a goroutine of its own; the
// cleanup closes the listener and waits for them.
func pxBackend(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// pxStream writes n pseudo-random bytes of seed to w and returns their digest.
func pxStream(w io.Writer, seed uint64, n int) ([32]byte, error) {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	d := sha256.New()
	buf := make([]byte, 64<<10)
	for n > 0 {
		m := min(n, len(buf))
		r.Read(buf[:m])
		d.Write(buf[:m])
		if _, err := w.Write(buf[:m]); err != nil {
			return [32]byte{}, err
		}
		n -= m
	}
	return [32]byte(d.Sum(nil)), nil
}

// pxDigest reads r to its end and returns the digest of what it read and how many bytes.
func pxDigest(r io.Reader) ([32]byte, int64, error) {
	d := sha256.New()
	n, err := io.Copy(d, r)
	return [32]byte(d.Sum(nil)), n, err
}

// pxDial connects to the proxy with a deadline that bounds the test.
func pxDial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c.(*net.TCPConn)
}

// A bulk transfer both ways at once arrives whole, byte for byte, and each half-close is passed on.
func TestProxyBulkBothWays(t *testing.T) {
	n := *pxBulkSize
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			type result struct {
				sum [32]byte
				n   int64
				err error
			}
			got := make(chan result, 1)
			backend := pxBackend(t, func(c *net.TCPConn) {
				c.SetDeadline(time.Now().Add(60 * time.Second))
				done := make(chan struct{})
				go func() {
					defer close(done)
					pxStream(c, 2, n)
					c.CloseWrite()
				}()
				sum, m, err := pxDigest(c)
				got <- result{sum, m, err}
				<-done
			})
			h, addr := pxRun(t, kind, backend)
			c := pxDial(t, addr)
			defer c.Close()
			sent := make(chan [32]byte, 1)
			go func() {
				s, err := pxStream(c, 1, n)
				if err != nil {
					t.Errorf("client write: %v", err)
				}
				c.CloseWrite()
				sent <- s
			}()
			sum, m, err := pxDigest(c)
			if err != nil || m != int64(n) {
				t.Fatalf("client read %d bytes of %d, err %v", m, n, err)
			}
			want, _ := pxStream(io.Discard, 2, n)
			if sum != want {
				t.Fatalf("client: the backend's bytes arrived changed")
			}
			t.Logf("the proxy held at most %d bytes in flight; largest OnData %d", h.maxInflight.Load(), h.maxChunk.Load())
			r := <-got
			if r.err != nil || r.n != int64(n) || r.sum != <-sent {
				t.Fatalf("backend read %d bytes of %d (err %v), digest match %v", r.n, n, r.err, r.sum == want)
			}
			if mx := h.maxInflight.Load(); mx > pxBound(kind) {
				t.Errorf("the proxy held %d bytes in flight, above its bound %d (largest OnData %d)", mx, pxBound(kind), h.maxChunk.Load())
			}
		})
	}
	skipMissingUring(t)
}

// A client that does not read holds the backend back through the proxy, which stops reading the
// backend instead of queueing what it sends.
func TestProxySlowClient(t *testing.T) {
	const n = 32 << 20
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			var written atomic.Int64
			backend := pxBackend(t, func(c *net.TCPConn) {
				c.SetDeadline(time.Now().Add(60 * time.Second))
				pxStream(pxCounting{c, &written}, 3, n)
				c.CloseWrite()
				io.Copy(io.Discard, c)
			})
			h, addr := pxRun(t, kind, backend)
			c := pxDial(t, addr)
			defer c.Close()
			c.SetReadBuffer(64 << 10)
			c.CloseWrite()
			// Wait until the backend stops getting anywhere (or has sent everything).
			last, still := int64(-1), 0
			for deadline := time.Now().Add(20 * time.Second); still < 10 && time.Now().Before(deadline); {
				time.Sleep(30 * time.Millisecond)
				if w := written.Load(); w == last {
					still++
				} else {
					last, still = w, 0
				}
			}
			t.Logf("backend stalled after %d bytes; the proxy held at most %d", last, h.maxInflight.Load())
			sum, m, err := pxDigest(c)
			if err != nil || m != n {
				t.Fatalf("client read %d bytes of %d, err %v", m, n, err)
			}
			if want, _ := pxStream(io.Discard, 3, n); sum != want {
				t.Fatalf("the backend's bytes arrived changed")
			}
			if mx := h.maxInflight.Load(); mx > pxBound(kind) {
				t.Errorf("the proxy held %d bytes in flight, above its bound %d (largest OnData %d)", mx, pxBound(kind), h.maxChunk.Load())
			}
		})
	}
	skipMissingUring(t)
}

type pxCounting struct {
	w io.Writer
	n *atomic.Int64
}

func (c pxCounting) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// A client that half-closes first still gets the backend's answer, written after the backend read
// the client's EOF; and a backend that half-closes first still reads what the client sends after.
func TestProxyHalfCloseFirst(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			thanks := make(chan string, 1)
			backend := pxBackend(t, func(c *net.TCPConn) {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				if b[0] == 'C' { // the client speaks and half-closes first
					req, _ := io.ReadAll(c)
					c.Write(append([]byte("answer to "), req...))
					return
				}
				c.Write([]byte("greeting"))
				c.CloseWrite()
				got, err := io.ReadAll(c)
				thanks <- fmt.Sprintf("%q, %v", got, err)
			})
			_, addr := pxRun(t, kind, backend)

			c := pxDial(t, addr)
			c.Write([]byte("Crequest"))
			c.CloseWrite()
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(got) != "answer to request" {
				t.Errorf("client half-closed first: read %q, %v", got, err)
			}

			c = pxDial(t, addr)
			defer c.Close()
			c.Write([]byte("B"))
			got, err = io.ReadAll(c)
			if err != nil || string(got) != "greeting" {
				t.Fatalf("backend half-closed first: read %q, %v", got, err)
			}
			c.Write([]byte("thanks"))
			c.CloseWrite()
			select {
			case got := <-thanks:
				if got != `"thanks", <nil>` {
					t.Errorf("backend half-closed first: it then read %s", got)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the backend never read the client's EOF")
			}
		})
	}
	skipMissingUring(t)
}

// A backend that refuses the connection: the client is reset, and nothing stays open.
func TestProxyBackendRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			h, addr := pxRun(t, kind, dead)
			// The reset may come before the client's connect has looked at its socket: the
			// connect then fails with it.
			if c, err := net.DialTimeout("tcp", addr, 10*time.Second); err == nil {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				_, werr := c.Write([]byte("hello"))
				var b []byte
				b, err = io.ReadAll(c)
				c.Close()
				if werr != nil && err == nil {
					err = werr // the reset came first, and the write reported it
				}
				if len(b) != 0 {
					t.Errorf("client read %q", b)
				}
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("client read %v; want a reset", err)
				}
			} else if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client dial: %v; want a reset", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for h.dialFailed.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if h.dialFailed.Load() != 1 {
				t.Errorf("%d dials failed, want 1", h.dialFailed.Load())
			}
		})
	}
	skipMissingUring(t)
}

// A reset on either side in the middle of a stream reaches the other side as a reset, never as the
// EOF of a stream that looks whole.
func TestProxyResetMidStream(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind)+"/backend", func(t *testing.T) {
			backend := pxBackend(t, func(c *net.TCPConn) {
				pxStream(c, 4, 1<<20)
				c.SetLinger(0) // close with a reset
			})
			_, addr := pxRun(t, kind, backend)
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if errors.Is(err, syscall.ECONNRESET) {
				// The kernel completes the connect at once; the backend may stream, reset, and the
				// proxy pass the reset on before the dialling goroutine, starved on a loaded machine,
				// has looked at the socket (a CI run saw it). The reset reached the client all the same.
				t.Logf("the reset came before the dial returned: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := nc.(*net.TCPConn)
			c.SetDeadline(time.Now().Add(60 * time.Second))
			defer c.Close()
			_, m, err := pxDigest(c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client read %d bytes, then %v; want a reset", m, err)
			}
		})
		t.Run(string(kind)+"/client", func(t *testing.T) {
			res := make(chan error, 1)
			var read atomic.Int64
			backend := pxBackend(t, func(c *net.TCPConn) {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				_, err := io.Copy(io.Discard, pxReadCounting{c, &read})
				res <- err
			})
			_, addr := pxRun(t, kind, backend)
			c := pxDial(t, addr)
			pxStream(c, 5, 1<<20)
			// Reset once the backend has some of the stream, so that the proxy is linked.
			for deadline := time.Now().Add(10 * time.Second); read.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			c.SetLinger(0)
			c.Close()
			select {
			case err := <-res:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("backend read %d bytes, then %v; want a reset", read.Load(), err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the backend never saw the client's reset")
			}
		})
	}
	skipMissingUring(t)
}

type pxReadCounting struct {
	r io.Reader
	n *atomic.Int64
}

func (c pxReadCounting) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Many short connections at once: each request comes back whole, and every connection of the
// proxy is closed once.
func TestProxyManyShortConnections(t *testing.T) {
	const conns = 1000
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			be, err := eddy.New(echoServer{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := be.Start(); err != nil {
				t.Fatal(err)
			}
			defer be.Stop(context.Background())
			h, addr := pxRun(t, kind, be.Addrs()[0].String())
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.DialTimeout("tcp", addr, 20*time.Second)
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(30 * time.Second))
					msg := fmt.Sprintf("request %d %s", i, bytes.Repeat([]byte{'x'}, i%300))
					if _, err := c.Write([]byte(msg)); err != nil {
						errs <- err
						return
					}
					c.(*net.TCPConn).CloseWrite()
					got, err := io.ReadAll(c)
					if err != nil || string(got) != msg {
						errs <- fmt.Errorf("connection %d: read %q, %v", i, got, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			bad := 0
			for err := range errs {
				if bad++; bad <= 5 {
					t.Error(err)
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d connections failed", bad, conns)
			} else if n := h.opened.Load(); n != 2*conns {
				t.Errorf("the proxy opened %d connections, want %d", n, 2*conns)
			}
		})
	}
	skipMissingUring(t)
}

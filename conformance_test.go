package eddy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The conformance suite: every test here runs, unchanged, against every engine the platform has.

// forEachEngine runs f as a subtest per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, kind eddy.EngineKind)) {
	t.Helper()
	for _, k := range testEngines() {
		t.Run(string(k), func(t *testing.T) { f(t, k) })
	}
	skipMissingUring(t)
}

// conclusive runs one attempt of a timing test up to three times: run reports false when the attempt
// proves nothing either way, because the test goroutine was starved past a deadline it had to beat (a CI
// machine running every package's tests under -race stalls goroutines for half a second). late says
// what came late, for the log and the failure.
func conclusive(t *testing.T, late string, run func() bool) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		if run() {
			return
		}
		if attempt == 3 {
			t.Fatalf("%s in each of 3 attempts", late)
		}
		t.Logf("attempt %d: %s; again", attempt, late)
	}
}

// watchLateness measures, until the test ends, how late a goroutine of this process runs after the
// data it waits for has come: a goroutine writes the time into a pipe every 10 ms, and another, blocked
// in a read of the pipe as a test's socket reader is (woken through the runtime's poller), notes how
// long ago it was written. It returns a function that reports the worst so far. A test whose goroutines
// had to act by a deadline (a reader that promised to read again within a second) asks it whether a
// failure may be the machine's: under -race, with every package's tests beside it, a goroutine woken
// for its socket's data may wait seconds for a P, and no gap that goroutine measures itself shows the
// wait (the read it blocked in "took" it).
func watchLateness(t *testing.T) func() time.Duration {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var worst atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the writer; its own lateness does not count, the time it writes does
		defer wg.Done()
		defer w.Close()
		var b [8]byte
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			binary.LittleEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
			if _, err := w.Write(b[:]); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer r.Close()
		var b [8]byte
		for {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return // the writer closed its end
			}
			if late := time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(b[:])); late > worst.Load() {
				worst.Store(late)
			}
		}
	}()
	t.Cleanup(func() { close(done); wg.Wait() })
	return func() time.Duration { return time.Duration(worst.Load()) }
}

// server is a started engine with its address, stopped at the end of the test.
type server struct {
	e    *eddy.Engine
	addr string
}

// startEngine makes and starts an engine of kind with two loops (opts come after, and may change that)
// on listeners (nil for none); the caller stops it.
func startEngine(t *testing.T, kind eddy.EngineKind, h eddy.Handler, listeners []string, opts ...eddy.Option) *eddy.Engine {
	t.Helper()
	opts = append([]eddy.Option{eddy.WithEngine(kind), eddy.WithLoops(2)}, opts...)
	e, err := eddy.New(h, listeners, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	return e
}

// loopback is the listener of a test server: a free TCP port on 127.0.0.1.
var loopback = []string{"tcp://127.0.0.1:0"}

func startServer(t *testing.T, kind eddy.EngineKind, h eddy.Handler, opts ...eddy.Option) *server {
	t.Helper()
	e := startEngine(t, kind, h, loopback, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return &server{e: e, addr: e.Addrs()[0].String()}
}

func (s *server) dial(t testing.TB) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// counter counts OnOpen and OnClose calls and records close reasons; embed it in test handlers.
type counter struct {
	opened, closed atomic.Int64
	mu             sync.Mutex
	reasons        []error
	closedCh       chan error
}

func newCounter() *counter { return &counter{closedCh: make(chan error, 10000)} }

func (k *counter) OnOpen(eddy.Conn) { k.opened.Add(1) }
func (k *counter) OnClose(_ eddy.Conn, err error) {
	k.closed.Add(1)
	k.mu.Lock()
	k.reasons = append(k.reasons, err)
	k.mu.Unlock()
	k.closedCh <- err
}

func (k *counter) waitClosed(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-k.closedCh:
		return err
	case <-time.After(timeout):
		t.Fatal("OnClose did not run")
		return nil
	}
}

// echoHandler echoes; with split, it consumes the input in random pieces to exercise Peek/Next/Discard.
type echoHandler struct {
	*counter
	split bool
	mu    sync.Mutex
	rng   *rand.Rand
}

func newEcho(split bool) *echoHandler {
	return &echoHandler{counter: newCounter(), split: split, rng: rand.New(rand.NewPCG(1, 2))}
}

func (h *echoHandler) OnData(c eddy.Conn) {
	if !h.split {
		b, _ := c.Next(-1)
		c.Write(b)
		return
	}
	for c.Buffered() > 0 {
		h.mu.Lock()
		n := 1 + h.rng.IntN(c.Buffered())
		peek := h.rng.IntN(2) == 0
		h.mu.Unlock()
		if peek {
			b, err := c.Peek(n)
			if err != nil || len(b) != n {
				panic(fmt.Sprintf("Peek(%d) = %d bytes, %v", n, len(b), err))
			}
			c.Write(b)
			if m, _ := c.Discard(n); m != n {
				panic("Discard short")
			}
			continue
		}
		b, err := c.Next(n)
		if err != nil || len(b) != n {
			panic(fmt.Sprintf("Next(%d) = %d bytes, %v", n, len(b), err))
		}
		c.Write(b)
	}
}

// pattern returns n pseudo-random bytes determined by seed.
func pattern(n int, seed uint64) []byte {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// writeChunked writes b in random-sized chunks.
func writeChunked(w io.Writer, b []byte, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 7))
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(64<<10))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func TestEchoRandomChunksAndSplits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(true)
		s := startServer(t, kind, h)
		for i, size := range []int{1, 2, 100, 1500, 4096, 65535, 65536, 200_000, 1 << 20} {
			c := s.dial(t)
			msg := pattern(size, uint64(i))
			errc := make(chan error, 1)
			go func() { errc <- writeChunked(c, msg, uint64(i)) }()
			got := make([]byte, size)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("size %d: read: %v", size, err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("size %d: write: %v", size, err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("size %d: echoed bytes differ", size)
			}
			c.Close()
		}
	})
}

func TestTwoThousandConcurrentConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(false)
		s := startServer(t, kind, h)
		const n = 2000
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				<-start
				c.SetDeadline(time.Now().Add(20 * time.Second))
				msg := pattern(512, uint64(i))
				for round := 0; round < 3; round++ {
					if _, err := c.Write(msg); err != nil {
						errs <- err
						return
					}
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, msg) {
						errs <- fmt.Errorf("conn %d: echo differs", i)
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return h.closed.Load() == n }, "every OnClose")
		if h.opened.Load() != n {
			t.Fatalf("OnOpen ran %d times, want %d", h.opened.Load(), n)
		}
	})
}

// echoOnce sends msg on c and checks that it comes back. Its deadline only guards against a hang: an
// echo that fails comes back at once (EOF, a reset), and under -race beside every package's tests on
// 2 cores a healthy one has taken over 3 s.
func echoOnce(c net.Conn, msg string) error { return echoWithin(c, msg, 30*time.Second) }

// echoWithin is echoOnce with the deadline d from now.
func echoWithin(c net.Conn, msg string, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// readAllStalling reads c to EOF like io.ReadAll, failing only when no byte comes for stall: a bound on
// a hang, not on the whole transfer, which under -race on a loaded machine may take any time.
func readAllStalling(c net.Conn, stall time.Duration) ([]byte, error) {
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(stall))
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			return got.Bytes(), nil
		}
		if err != nil {
			return got.Bytes(), err
		}
	}
}

// waitFor polls cond until it holds or 30 s pass (a hang guard: it returns as soon as cond holds).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// asyncHandler starts writers goroutines on open, each sending count numbered records with AsyncWrite.
type asyncHandler struct {
	*counter
	writers, count int
	cbErrs         atomic.Int64
	cbOK           atomic.Int64
	wg             sync.WaitGroup
}

func (h *asyncHandler) OnData(c eddy.Conn) { c.Discard(-1) }

func (h *asyncHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	for w := 0; w < h.writers; w++ {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for i := 0; i < h.count; i++ {
				rec := []byte(fmt.Sprintf("%03d:%06d\n", w, i))
				for {
					err := c.AsyncWrite(rec, func(_ eddy.Conn, err error) {
						if err != nil {
							h.cbErrs.Add(1)
						} else {
							h.cbOK.Add(1)
						}
					})
					if err == eddy.ErrQueueFull {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						panic(err)
					}
					break
				}
			}
		}()
	}
}

func TestAsyncWriteKeepsPerWriterOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &asyncHandler{counter: newCounter(), writers: 16, count: 2000}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		next := make([]int, h.writers)
		buf := make([]byte, 11)
		// Buffered, and parsed by hand: 32,000 reads and Sscanfs of 11 bytes took seconds under -race.
		br := bufio.NewReaderSize(c, 64<<10)
		for total := 0; total < h.writers*h.count; total++ {
			if _, err := io.ReadFull(br, buf); err != nil {
				t.Fatalf("after %d records: %v", total, err)
			}
			w, i, ok := parseRecord(buf)
			if !ok || w >= h.writers {
				t.Fatalf("bad record %q", buf)
			}
			if i != next[w] {
				t.Fatalf("writer %d: got record %d, want %d", w, i, next[w])
			}
			next[w]++
		}
		h.wg.Wait()
		waitFor(t, func() bool { return h.cbOK.Load() == int64(h.writers*h.count) }, "every AsyncWrite callback")
		if h.cbErrs.Load() != 0 {
			t.Fatalf("%d callbacks reported errors", h.cbErrs.Load())
		}
	})
}

// parseRecord parses an asyncHandler record, "%03d:%06d\n", into its writer and number.
func parseRecord(b []byte) (w, i int, ok bool) {
	if len(b) != 11 || b[3] != ':' || b[10] != '\n' {
		return 0, 0, false
	}
	for k, c := range b[:10] {
		if k == 3 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		if k < 3 {
			w = w*10 + int(c-'0')
		} else {
			i = i*10 + int(c-'0')
		}
	}
	return w, i, true
}

// blastHandler writes size bytes on open, then (with closeAfter) closes at once.
type blastHandler struct {
	*counter
	size       int
	closeAfter bool
}

func (h *blastHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	msg := pattern(h.size, 42)
	c.Write(msg)
	if h.closeAfter {
		if err := c.Close(); err != nil {
			panic(err)
		}
		if err := c.Close(); !errors.Is(err, eddy.ErrClosed) {
			panic(fmt.Sprintf("second Close = %v, want ErrClosed", err))
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, eddy.ErrClosed) {
			panic(fmt.Sprintf("Write after Close = %v, want ErrClosed", err))
		}
	}
}

func (h *blastHandler) OnData(c eddy.Conn) { c.Discard(-1) }

func TestCloseFlushesPendingWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &blastHandler{counter: newCounter(), size: 8 << 20, closeAfter: true}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		time.Sleep(50 * time.Millisecond) // let the server's socket buffer fill, so the close must wait for us
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, len(got))
		}
		if !bytes.Equal(got, pattern(h.size, 42)) {
			t.Fatalf("got %d bytes, want %d identical ones", len(got), h.size)
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Fatalf("OnClose reason = %v, want nil", err)
		}
	})
}

func TestPeerHalfCloseStillGetsReply(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(false)
		s := startServer(t, kind, h)
		c := s.dial(t)
		msg := pattern(300_000, 9)
		go func() {
			c.Write(msg)
			c.CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("got %d bytes back, want %d identical ones", len(got), len(msg))
		}
		if err := h.waitClosed(t, 5*time.Second); err != io.EOF {
			t.Fatalf("OnClose reason = %v, want io.EOF", err)
		}
	})
}

func TestPeerResetMidWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &blastHandler{counter: newCounter(), size: 16 << 20}
		s := startServer(t, kind, h)
		c := s.dial(t)
		buf := make([]byte, 64<<10)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil { // the server is mid-write now
			t.Fatal(err)
		}
		c.SetLinger(0) // close sends RST
		c.Close()
		err := h.waitClosed(t, 10*time.Second)
		var oe *eddy.OpError
		if !errors.As(err, &oe) {
			t.Fatalf("OnClose reason = %v (%T), want an *eddy.OpError", err, err)
		}
		time.Sleep(20 * time.Millisecond)
		if n := h.closed.Load(); n != 1 {
			t.Fatalf("OnClose ran %d times", n)
		}
	})
}

// frameHandler echoes length-prefixed frames (2-byte big-endian length), consuming only whole frames, so
// partial frames must stay buffered across OnData calls.
type frameHandler struct{ *counter }

func (h frameHandler) OnData(c eddy.Conn) {
	for {
		hdr, err := c.Peek(2)
		if err != nil {
			if err != io.ErrShortBuffer {
				panic(err)
			}
			return
		}
		n := int(hdr[0])<<8 | int(hdr[1])
		frame, err := c.Peek(2 + n)
		if err == io.ErrShortBuffer {
			return // wait for the rest
		}
		c.Write(frame)
		c.Discard(2 + n)
	}
}

func TestPartialFramesStayBuffered(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, frameHandler{newCounter()})
		c := s.dial(t)
		var stream []byte
		r := rand.New(rand.NewPCG(5, 6))
		for i := 0; i < 500; i++ {
			n := r.IntN(3000)
			stream = append(stream, byte(n>>8), byte(n))
			stream = append(stream, pattern(n, uint64(i))...)
		}
		go func() {
			// tiny chunks with pauses, so frames straddle many reads
			rr := rand.New(rand.NewPCG(8, 9))
			rest := stream
			for len(rest) > 0 {
				n := min(len(rest), 1+rr.IntN(700))
				c.Write(rest[:n])
				rest = rest[n:]
				if rr.IntN(20) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		got := make([]byte, len(stream))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, stream) {
			t.Fatal("frames differ")
		}
	})
}

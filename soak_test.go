package eddy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// soakFor is how long TestSoak runs per engine: a short smoke run by default, minutes for a real soak
// (go test -run TestSoak . -eddy.soak=5m: a test binary flag goes after the package).
var soakFor = flag.Duration("eddy.soak", 0, "how long TestSoak runs on each engine (0: a short run)")

// The soak mixes, on one engine and at once, every way a handler may answer and every way a peer may
// end, and checks that every byte is echoed in order, that OnClose runs once for every OnOpen, and that
// nothing is left behind: no goroutine (TestMain's goleak), no descriptor.
//
// The first byte a client sends picks how the server answers:
const (
	soakEcho    = 'e' // Next and Write in OnData
	soakAsync   = 'a' // AsyncWrite from a goroutine of the connection's own
	soakExecute = 'x' // OnData leaves the input; a goroutine consumes and answers it through Execute
	soakPause   = 'p' // echo, then pause reading for up to 2 ms after each input
	soakLeave   = 'l' // leave the input, pause, and answer it at the restart (offered again)
	soakClose   = 'c' // echo the next n bytes (n: a 4-byte length after the mode), then Close
	soakAbort   = 'k' // echo the next n bytes (as soakClose), then Abort: the peer gets a reset
	soakFile    = 'f' // per 8-byte request (offset, length): the length (Writev), the file's region, '.'
)

var soakModes = []byte{soakEcho, soakAsync, soakExecute, soakPause, soakLeave, soakClose, soakAbort, soakFile}

// errSoakAbort is the reason soakAbort gives Abort.
var errSoakAbort = errors.New("soak: abort")

// soakFileSize is the size of the file that soakFile regions come from.
const soakFileSize = 4 << 20

// soakConn is the server's state of one connection.
type soakConn struct {
	mode  byte
	left  int           // soakClose: bytes still to echo before closing (-1: length not read yet)
	work  chan struct{} // soakAsync, soakExecute: wakes the connection's goroutine
	data  chan []byte   // soakAsync: copies of the input, in order
	done  chan struct{} // closed by OnClose
	first bool          // soakLeave: the next input is left and reading paused
}

type soakHandler struct {
	eddy.BaseHandler
	file           *os.File // soakFile's regions come from it
	opened, closed atomic.Int64
	workers        sync.WaitGroup
	errs           chan error
}

func (h *soakHandler) fail(err error) {
	select {
	case h.errs <- err:
	default:
	}
}

func (h *soakHandler) OnOpen(c eddy.Conn) {
	h.opened.Add(1)
	c.SetContext(&soakConn{left: -1, done: make(chan struct{})})
}

func (h *soakHandler) OnClose(c eddy.Conn, err error) {
	h.closed.Add(1)
	if s := c.Context().(*soakConn); s.mode == soakAbort && s.left == 0 && !errors.Is(err, errSoakAbort) && !errors.Is(err, eddy.ErrEngineStopped) {
		h.fail(fmt.Errorf("soak: OnClose(%v) after Abort(%v)", err, errSoakAbort))
	}
	close(c.Context().(*soakConn).done)
}

func (h *soakHandler) OnData(c eddy.Conn) {
	s := c.Context().(*soakConn)
	if s.mode == 0 {
		m, _ := c.Next(1)
		s.mode = m[0]
		switch s.mode {
		case soakAsync:
			s.data = make(chan []byte, 1024)
			h.workers.Add(1)
			go h.asyncWriter(c, s)
		case soakExecute:
			s.work = make(chan struct{}, 1)
			h.workers.Add(1)
			go h.executor(c, s)
		case soakLeave:
			s.first = true
		}
	}
	switch s.mode {
	case soakEcho:
		b, _ := c.Next(-1)
		c.Write(b)
	case soakAsync:
		b, _ := c.Next(-1)
		if len(b) == 0 {
			return
		}
		select {
		case s.data <- bytes.Clone(b):
		default:
			h.fail(errors.New("soak: the async writer fell 1024 inputs behind"))
			c.Close()
		}
	case soakExecute:
		select {
		case s.work <- struct{}{}:
		default: // a wake-up is pending: it will take these bytes too
		}
	case soakPause:
		b, _ := c.Next(-1)
		c.Write(b)
		c.SetReadPaused(true)
		d := time.Duration(rand.IntN(2000)) * time.Microsecond
		c.Loop().AfterFunc(d, func() { c.Execute(func(c eddy.Conn) { c.SetReadPaused(false) }) })
	case soakLeave:
		if s.first {
			s.first = false
			c.SetReadPaused(true)
			c.Loop().AfterFunc(time.Millisecond, func() { c.Execute(func(c eddy.Conn) { c.SetReadPaused(false) }) })
			return
		}
		s.first = true
		b, _ := c.Next(-1)
		c.Write(b)
	case soakClose, soakAbort:
		if s.left < 0 {
			if c.Buffered() < 4 {
				return
			}
			n, _ := c.Next(4)
			s.left = int(n[0])<<24 | int(n[1])<<16 | int(n[2])<<8 | int(n[3])
		}
		b, _ := c.Next(min(s.left, c.Buffered()))
		c.Write(b)
		s.left -= len(b)
		switch {
		case s.left > 0:
		case s.mode == soakClose:
			c.Close()
		default:
			c.Abort(errSoakAbort)
		}
	case soakFile:
		for c.Buffered() >= 8 {
			r, _ := c.Next(8)
			off, n := binary.BigEndian.Uint32(r), binary.BigEndian.Uint32(r[4:])
			var head [4]byte
			binary.BigEndian.PutUint32(head[:], n)
			c.Writev([][]byte{head[:2], head[2:]})
			if err := c.SendFile(h.file, int64(off), int64(n), nil); err != nil {
				if !errors.Is(err, eddy.ErrClosed) { // closing: the peer reset or went away
					h.fail(fmt.Errorf("soak: SendFile(%d, %d): %w", off, n, err))
				}
				c.Close()
				return
			}
			c.Write([]byte{'.'})
		}
	default:
		h.fail(fmt.Errorf("soak: unknown mode %q", s.mode))
		c.Close()
	}
}

// OnPeerClosed keeps a half-closed connection open until every echo is out, then closes it.
func (h *soakHandler) OnPeerClosed(c eddy.Conn) bool {
	s := c.Context().(*soakConn)
	switch s.mode {
	case soakAsync:
		select {
		case s.data <- nil: // the writer closes after what it has queued
			return true
		default:
			return false
		}
	case soakExecute, soakLeave:
		b, _ := c.Next(-1) // what is left is answered now, the rest was
		c.Write(b)
	}
	c.Close()
	return true
}

// asyncWriter writes a connection's input back from its own goroutine, in order; nil closes it.
func (h *soakHandler) asyncWriter(c eddy.Conn, s *soakConn) {
	defer h.workers.Done()
	for {
		select {
		case b := <-s.data:
			if b == nil {
				c.Execute(func(c eddy.Conn) { c.Close() }) // after the writes queued before it
				return
			}
			for {
				err := c.AsyncWrite(b, nil)
				if !errors.Is(err, eddy.ErrQueueFull) {
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
		case <-s.done:
			return
		}
	}
}

// executor answers a connection's input through Execute, from its own goroutine.
func (h *soakHandler) executor(c eddy.Conn, s *soakConn) {
	defer h.workers.Done()
	echo := func(c eddy.Conn) {
		b, _ := c.Next(-1)
		c.Write(b)
	}
	for {
		select {
		case <-s.work:
			for errors.Is(c.Execute(echo), eddy.ErrQueueFull) {
				time.Sleep(100 * time.Microsecond)
			}
		case <-s.done:
			return
		}
	}
}

// How a soak client ends its connection.
const (
	endClose     = iota // read every echo, then close
	endHalfClose        // half-close after the last message, read every echo, then EOF
	endReset            // close mid-stream with unread input and linger 0: a reset
	endAbandon          // close mid-stream without reading the rest
	endCount
)

// errSoakCorrupt marks a soak client's error that no ending excuses: bytes that differ, or bytes after
// the end.
var errSoakCorrupt = errors.New("corrupt echo")

// soakClient runs one connection: a random mode, random messages written in random chunks while a
// reader checks the echo byte for byte, and a random end. It reports the bytes verified.
func soakClient(addr string, file []byte, rng *rand.Rand) (int, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	c := nc.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))

	mode := soakModes[rng.IntN(len(soakModes))]
	end := rng.IntN(endCount)
	var msg []byte
	for range 1 + rng.IntN(8) {
		size := 1 + rng.IntN(16<<10)
		if rng.IntN(20) == 0 {
			size = 1 + rng.IntN(1<<20)
		}
		msg = append(msg, pattern(size, rng.Uint64())...)
	}
	want := msg // what the server answers
	if mode == soakFile {
		msg, want = nil, nil
		for range 1 + rng.IntN(8) {
			n := rng.IntN(256 << 10)
			off := rng.IntN(len(file) - n)
			msg = binary.BigEndian.AppendUint32(msg, uint32(off))
			msg = binary.BigEndian.AppendUint32(msg, uint32(n))
			want = binary.BigEndian.AppendUint32(want, uint32(n))
			want = append(append(want, file[off:off+n]...), '.')
		}
	}
	head := []byte{mode}
	switch mode {
	case soakClose:
		n := len(msg)
		head = append(head, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		end = endClose // the server ends it
	case soakAbort:
		n := rng.IntN(len(msg) + 1) // the server echoes n bytes, then resets
		head = append(head, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		want = msg[:n]
		end = endClose
	}
	if mode == soakLeave {
		end = endClose // every input waits for the restart: the client keeps it simple
	}

	// The reader checks the echo while the writer writes: a large message would otherwise fill both
	// directions and stall (the server stops reading while its output waits).
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() {
		buf := make([]byte, 64<<10)
		n := 0
		for n < len(want) {
			k, err := c.Read(buf[:min(len(buf), len(want)-n)])
			if k > 0 && !bytes.Equal(buf[:k], want[n:n+k]) {
				got <- result{n, fmt.Errorf("mode %q: the echo differs from byte %d: %w", mode, n, errSoakCorrupt)}
				return
			}
			n += k
			if err != nil && mode == soakAbort && err != io.EOF {
				got <- result{n, nil} // Abort drops what was not sent yet: any prefix, then the reset
				return
			}
			if err != nil {
				got <- result{n, fmt.Errorf("mode %q: after %d of %d bytes: %w", mode, n, len(want), err)}
				return
			}
		}
		if mode == soakAbort { // then the reset: an error, never a clean end
			if k, err := c.Read(buf[:1]); k != 0 || err == nil || err == io.EOF {
				got <- result{n, fmt.Errorf("mode %q: %d more bytes (%v) where a reset was due: %w", mode, k, err, errSoakCorrupt)}
				return
			}
			got <- result{n, nil}
			return
		}
		if mode == soakClose || end == endHalfClose { // then EOF, and nothing more
			if k, err := c.Read(buf[:1]); k != 0 || err != io.EOF {
				got <- result{n, fmt.Errorf("mode %q: %d more bytes (%v) where EOF was due: %w", mode, k, err, errSoakCorrupt)}
				return
			}
		}
		got <- result{n, nil}
	}()

	cut := len(msg)
	switch {
	case end == endReset || end == endAbandon:
		cut = rng.IntN(len(msg) + 1)
	case mode == soakAbort:
		// Only what the server echoes: a write that met the reset would take the socket's error
		// (ECONNRESET is reported once), and the reader would then read a plain EOF.
		cut = len(want)
	}
	if _, err := c.Write(head); err != nil {
		return 0, err
	}
	if err := writeChunked(c, msg[:cut], rng.Uint64()); err != nil {
		return 0, fmt.Errorf("mode %q: write: %w", mode, err)
	}
	switch end {
	case endReset:
		c.SetLinger(0)
		return 0, nil // the deferred Close resets; the reader ends with it
	case endAbandon:
		return 0, nil
	case endHalfClose:
		c.CloseWrite()
	}
	r := <-got
	return r.n, r.err
}

func TestSoak(t *testing.T) {
	d := *soakFor
	if d == 0 {
		d = time.Second
		if testing.Short() {
			d = 300 * time.Millisecond
		}
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) { soak(t, kind, d, false) })
	// One acceptor placing every connection by least connections: each loop's count (which it goes
	// by) must come back to 0 once the clients are done, whatever way their connections ended.
	t.Run("least-connections", func(t *testing.T) {
		forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
			soak(t, kind, d, false, eddy.WithReusePort(false), eddy.WithBalance(eddy.BalanceLeastConnections))
		})
	})
}

// The same traffic, with the engine stopped in the middle of it: the clients' connections end early
// (their errors are expected), but no byte they got may be wrong, and nothing may be left behind.
func TestSoakStoppedMidFlight(t *testing.T) {
	d := *soakFor / 4
	if d == 0 {
		d = 300 * time.Millisecond
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) { soak(t, kind, d, true) })
}

// soak runs 32 soak clients against a new engine of kind for d and stops the engine: at the end with
// every client done, or (midFlight) while they run.
func soak(t *testing.T, kind eddy.EngineKind, d time.Duration, midFlight bool, opts ...eddy.Option) {
	content := pattern(soakFileSize, 77)
	path := filepath.Join(t.TempDir(), "soak")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	base := countFDs(t)
	h := &soakHandler{file: f, errs: make(chan error, 16)}
	e := startEngine(t, kind, h, loopback, append([]eddy.Option{eddy.WithIdleTimeout(10 * time.Second)}, opts...)...)
	addr := e.Addrs()[0].String()

	var conns, verified atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	deadline := time.Now().Add(d)
	stopped := make(chan struct{})
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				n, err := soakClient(addr, content, rng)
				conns.Add(1)
				verified.Add(int64(n))
				if err == nil {
					continue
				}
				select {
				case <-stopped:
					if !errors.Is(err, errSoakCorrupt) {
						return // the engine stopped under this connection, or refused the next
					}
				default:
				}
				select {
				case errs <- err:
				default:
				}
				return
			}
		}()
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}
	if midFlight {
		time.Sleep(d / 2)
		close(stopped)
		stop()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !midFlight {
		waitFor(t, func() bool { return slices.Max(loopConns(e)) == 0 && slices.Min(loopConns(e)) == 0 }, "every loop's Conns back to 0")
		stop()
	}
	h.workers.Wait()
	close(h.errs)
	for err := range h.errs {
		t.Error(err)
	}
	if o, c := h.opened.Load(), h.closed.Load(); o != c || !midFlight && o < conns.Load() {
		t.Errorf("%d OnOpen, %d OnClose for %d connections", o, c, conns.Load())
	}
	waitFor(t, func() bool { return countFDs(t) <= base }, "the descriptors back to their count before the soak")
	f.Close()
	t.Logf("%s: %d connections, %.1f MiB echoed and verified in %v", kind, conns.Load(), float64(verified.Load())/(1<<20), d)
}

package eddy_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// sendPiece is one step of a SendFile script: bytes to Write, or a file region to SendFile.
type sendPiece struct {
	write  []byte
	path   string
	off, n int64
}

// sendFileHandler runs script on each new connection, closing each file right after SendFile (the engine
// keeps its own reference), then closes the connection gracefully. The SendFile callbacks' errors arrive
// on results, in the order the callbacks ran.
type sendFileHandler struct {
	*counter
	script  []sendPiece
	noClose bool
	results chan error
	calls   chan error // errors returned by SendFile itself
}

func newSendFileHandler(script []sendPiece) *sendFileHandler {
	return &sendFileHandler{counter: newCounter(), script: script, results: make(chan error, 64), calls: make(chan error, 64)}
}

func (h *sendFileHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	for i, p := range h.script {
		if p.path == "" {
			c.Write(p.write)
			continue
		}
		f, err := os.Open(p.path)
		if err != nil {
			h.calls <- err
			return
		}
		i := i
		err = c.SendFile(f, p.off, p.n, func(_ eddy.Conn, err error) {
			if err != nil {
				err = fmt.Errorf("piece %d: %w", i, err)
			}
			h.results <- err
		})
		f.Close()
		h.calls <- err
	}
	if !h.noClose {
		c.Close()
	}
}

func (h *sendFileHandler) OnData(c eddy.Conn) { c.Discard(-1) }

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// expected returns the bytes a script sends, reading the regions from data by path.
func expected(script []sendPiece, data map[string][]byte) []byte {
	var b bytes.Buffer
	for _, p := range script {
		if p.path == "" {
			b.Write(p.write)
		} else {
			b.Write(data[p.path][p.off : p.off+p.n])
		}
	}
	return b.Bytes()
}

// firstDiff returns the index of the first differing byte of a and b.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func checkCalls(t *testing.T, h *sendFileHandler, n int) {
	t.Helper()
	for range n {
		if err := <-h.calls; err != nil {
			t.Fatalf("SendFile: %v", err)
		}
	}
}

// sendFileFixture writes the files of the interleaving tests: 0 B, 1 B, 1 MiB and 16 MiB (8 MiB with
// -short). 16 MiB is four of the engines' largest pieces of a region (epSendfileMax, stdFilePiece: 4 MiB)
// and four times the largest socket buffer; 64 MiB added nothing but time (reads and compares under -race).
func sendFileFixture(t *testing.T) ([]sendPiece, map[string][]byte) {
	big := 16 << 20
	if testing.Short() {
		big = 8 << 20
	}
	dir := t.TempDir()
	data := map[string][]byte{}
	add := func(name string, b []byte) string {
		p := writeFile(t, dir, name, b)
		data[p] = b
		return p
	}
	empty := add("empty", nil)
	one := add("one", []byte{'!'})
	mib := add("mib", pattern(1<<20, 11))
	huge := add("huge", pattern(big, 12))
	script := []sendPiece{
		{write: []byte("head:")},
		{path: empty, n: 0},
		{write: []byte("a")},
		{path: one, n: 1},
		{path: mib, off: 7, n: 1<<20 - 7},
		{write: pattern(100<<10, 13)},
		{path: huge, n: int64(big)},
		{path: one, n: 1},
		{write: []byte(":tail")},
	}
	return script, data
}

func TestSendFileInterleavesWithWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		script, data := sendFileFixture(t)
		h := newSendFileHandler(script)
		s := startServer(t, kind, h)
		runtime.GC()
		base := countFDs(t)
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, len(got))
		}
		want := expected(script, data)
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
		checkCalls(t, h, 5)
		for range 5 {
			if err := <-h.results; err != nil {
				t.Fatal(err)
			}
		}
		if err := h.waitClosed(t, 10*time.Second); err != nil {
			t.Fatalf("OnClose: %v", err)
		}
		c.Close()
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline (the engine's duplicates closed)")
	})
}

func TestAsyncWriteBehindAFileWaitsForIt(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		body := pattern(8<<20, 51)
		p := writeFile(t, t.TempDir(), "body", body)
		order := make(chan string, 4)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, err := os.Open(p)
			if err != nil {
				order <- err.Error()
				return
			}
			defer f.Close()
			if err := c.SendFile(f, 0, int64(len(body)), func(_ eddy.Conn, err error) { order <- fmt.Sprint("file ", err) }); err != nil {
				order <- err.Error()
				return
			}
			go func() { // from another goroutine: queued behind the file
				c.AsyncWrite([]byte("after"), func(c eddy.Conn, err error) {
					order <- fmt.Sprint("async ", err)
					c.Close()
				})
			}()
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(body[:len(body):len(body)], "after"...); !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
		if a, b := <-order, <-order; a != "file <nil>" || b != "async <nil>" {
			t.Fatalf("callbacks ran as %q, %q; want the file's first", a, b)
		}
	})
}

func TestSendFileToSlowReader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		body := pattern(6<<20, 21)
		p := writeFile(t, dir, "body", body)
		script := []sendPiece{{write: []byte("<")}, {path: p, n: int64(len(body))}, {write: []byte(">")}, {path: p, off: 5, n: 100}}
		h := newSendFileHandler(script)
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(16<<10, 64<<10))
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		var got bytes.Buffer
		buf := make([]byte, 32<<10)
		for got.Len() < 2<<20 { // slowly: the server's socket fills and sendfile must wait for EPOLLOUT
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatalf("read: %v after %d bytes", err, got.Len())
			}
			time.Sleep(100 * time.Microsecond)
		}
		if _, err := io.Copy(&got, c); err != nil {
			t.Fatal(err)
		}
		want := expected(script, map[string][]byte{p: body})
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("got %d bytes, want %d; first difference at %d", got.Len(), len(want), firstDiff(got.Bytes(), want))
		}
		checkCalls(t, h, 2)
		for range 2 {
			if err := <-h.results; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestSendFileAbortedByPeerReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		body := pattern(32<<20, 31)
		p := writeFile(t, dir, "body", body)
		h := newSendFileHandler([]sendPiece{{path: p, n: int64(len(body))}, {write: []byte("after")}})
		h.noClose = true
		s := startServer(t, kind, h)
		runtime.GC()
		base := countFDs(t)
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetLinger(0) // close sends RST
		c.Close()
		checkCalls(t, h, 1)
		select {
		case err := <-h.results:
			if err == nil {
				t.Fatal("the callback of a region cut by a reset reported success")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the SendFile callback did not run after the reset")
		}
		if err := h.waitClosed(t, 10*time.Second); err == nil {
			t.Fatal("OnClose reported no error for a reset connection")
		}
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
	})
}

func TestSendFileShortFileAbortsConnection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		body := pattern(100<<10, 41)
		p := writeFile(t, dir, "body", body)
		h := newSendFileHandler([]sendPiece{{path: p, n: int64(len(body)) + 10}, {write: []byte("never")}})
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c) // EOF or a reset, after the bytes the file has
		if !bytes.Equal(got, body) {
			t.Fatalf("got %d bytes, want the file's %d", len(got), len(body))
		}
		checkCalls(t, h, 1)
		if err := <-h.results; !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("callback: %v, want io.ErrUnexpectedEOF", err)
		}
		h.waitClosed(t, 10*time.Second)
	})
}

func TestSendFileRejectsBadArguments(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := writeFile(t, t.TempDir(), "f", []byte("data"))
		errs := make(chan error, 8)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			r, w, _ := os.Pipe()
			defer r.Close()
			defer w.Close()
			cb := func(eddy.Conn, error) { errs <- errors.New("callback ran for a rejected region") }
			errs <- c.SendFile(r, 0, 1, cb)
			errs <- c.SendFile(f, -1, 1, cb)
			errs <- c.SendFile(f, 0, -1, cb)
			c.Close()
			errs <- c.SendFile(f, 0, 1, cb)
		}}
		s := startServer(t, kind, h)
		s.dial(t)
		if err := <-errs; !errors.Is(err, eddy.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("SendFile(pipe) = %v, want eddy.ErrUnsupported, which matches errors.ErrUnsupported", err)
		}
		for _, what := range []string{"negative offset", "negative length"} {
			if err := <-errs; err == nil {
				t.Errorf("SendFile with a %s succeeded", what)
			}
		}
		if err := <-errs; !errors.Is(err, eddy.ErrClosed) {
			t.Errorf("SendFile after Close = %v, want ErrClosed", err)
		}
		h.waitClosed(t, 5*time.Second)
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	})
}

// fileThenDiscard sends a file region to each new connection, and counts and drops what it receives.
type fileThenDiscard struct {
	*counter
	path     string
	n        int64
	received atomic.Int64
}

func (h *fileThenDiscard) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	f, err := os.Open(h.path)
	if err != nil {
		c.Close()
		return
	}
	defer f.Close()
	c.SendFile(f, 0, h.n, nil)
}

func (h *fileThenDiscard) OnData(c eddy.Conn) {
	n, _ := c.Discard(-1)
	h.received.Add(int64(n))
}

func TestQueuedFileBytesApplyBackPressure(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		body := pattern(32<<20, 61)
		p := writeFile(t, t.TempDir(), "body", body)
		h := &fileThenDiscard{counter: newCounter(), path: p, n: int64(len(body))}
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		c.SetWriteBuffer(64 << 10)
		// The file alone is above the high water mark: the server must not read what we send until most
		// of it is out, and we do not read.
		chunk := pattern(64<<10, 62)
		var sent []byte
		const limit = 128 << 20
		for len(sent) < limit {
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Write(chunk)
			sent = append(sent, chunk[:n]...)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				t.Fatal(err)
			}
		}
		if len(sent) >= limit {
			t.Fatalf("the server kept reading %d bytes while a file region above the high water mark was queued", len(sent))
		}
		c.SetWriteDeadline(time.Time{})
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got := make([]byte, len(body))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("file bytes differ from %d", firstDiff(got, body))
		}
		// Once the file is out, reading resumes and every byte we sent arrives.
		waitFor(t, func() bool { return h.received.Load() == int64(len(sent)) }, "the server to read what was sent")
	})
}

func TestSendFileToManyConnectionsSomeReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		body := pattern(2<<20, 71)
		p := writeFile(t, t.TempDir(), "body", body)
		h := newSendFileHandler([]sendPiece{{write: []byte("<")}, {path: p, n: int64(len(body))}, {write: []byte(">")}})
		h.results = make(chan error, 1000)
		h.calls = make(chan error, 1000)
		s := startServer(t, kind, h)
		runtime.GC()
		base := countFDs(t)
		const conns = 16
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				if i%2 == 1 { // reset after a part of the file
					if _, err := io.ReadFull(c, make([]byte, 64<<10+i*1000)); err != nil {
						errs <- err
						return
					}
					c.(*net.TCPConn).SetLinger(0)
					return
				}
				got, err := io.ReadAll(c)
				if err != nil {
					errs <- err
					return
				}
				if len(got) != len(body)+2 || got[0] != '<' || got[len(got)-1] != '>' || !bytes.Equal(got[1:len(got)-1], body) {
					errs <- fmt.Errorf("connection %d: %d bytes, wrong content", i, len(got))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		waitFor(t, func() bool { return h.closed.Load() == conns }, "OnClose for every connection")
		ok, failed := 0, 0
		for range conns {
			if err := <-h.results; err == nil {
				ok++
			} else {
				failed++
			}
		}
		t.Logf("%d regions completed, %d failed", ok, failed)
		if ok < conns/2 {
			t.Errorf("%d regions completed, want at least the %d read in full", ok, conns/2)
		}
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
	})
}

// sharedFileHandler sends, from one *os.File shared by every connection, the region each 16-byte
// request (offset, length) asks for.
type sharedFileHandler struct {
	eddy.BaseHandler
	f    *os.File
	errs chan error
}

func (h *sharedFileHandler) OnData(c eddy.Conn) {
	for c.Buffered() >= 16 {
		r, _ := c.Next(16)
		off, n := int64(binary.BigEndian.Uint64(r)), int64(binary.BigEndian.Uint64(r[8:]))
		if err := c.SendFile(h.f, off, n, nil); err != nil {
			h.errs <- err
			c.Close()
			return
		}
	}
}

// Connections that send regions of the same *os.File at once each get their own bytes: a region is
// read at its offset, whatever the others do with the file (on std the copy moved the file offset that
// every duplicate of the file shares, so concurrent regions read each other's bytes).
func TestSendFileSharedFileConcurrently(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel() // each engine its own server and file, nothing counted process-wide
		data := pattern(8<<20, 21)
		f, err := os.Open(writeFile(t, t.TempDir(), "shared", data))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := &sharedFileHandler{f: f, errs: make(chan error, 8)}
		s := startServer(t, kind, h)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := s.dial(t)
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				var req, want []byte
				for j := range 16 {
					off := (i*16 + j) * 4099 % (len(data) / 2)
					n := 256<<10 + j*1000
					req = binary.BigEndian.AppendUint64(req, uint64(off))
					req = binary.BigEndian.AppendUint64(req, uint64(n))
					want = append(want, data[off:off+n]...)
				}
				go c.Write(req)
				got := make([]byte, len(want))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Errorf("connection %d: %v", i, err)
					return
				}
				if !bytes.Equal(got, want) { // firstDiff, byte by byte, only to report
					t.Errorf("connection %d: byte %d of %d differs", i, firstDiff(got, want), len(want))
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-h.errs:
			t.Fatal(err)
		default:
		}
	})
}

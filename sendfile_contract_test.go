package eddy_test

import (
	"bytes"
	"context"
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

// Review of SendFile on every engine (session 30): files that change size under a send to a slow
// reader, files that cannot be sent, the order of writes and regions queued from other goroutines through
// Execute, many regions queued behind a slow reader, and the engine's descriptors.

// rvCallbacks records a connection's SendFile callbacks by tag, to check that each ran exactly once.
type rvCallbacks struct {
	mu   sync.Mutex
	runs map[string][]error
	ch   chan string
}

func newRVCallbacks() *rvCallbacks {
	return &rvCallbacks{runs: map[string][]error{}, ch: make(chan string, 4096)}
}

func (r *rvCallbacks) cb(tag string) func(eddy.Conn, error) {
	return func(_ eddy.Conn, err error) {
		r.mu.Lock()
		r.runs[tag] = append(r.runs[tag], err)
		r.mu.Unlock()
		r.ch <- tag
	}
}

// wait waits for the callback of tag and returns its error; it fails if another tag's comes first.
func (r *rvCallbacks) wait(t *testing.T, tag string) error {
	t.Helper()
	select {
	case got := <-r.ch:
		if got != tag {
			t.Fatalf("callback %q ran, want %q's first", got, tag)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("callback %q did not run", tag)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[tag][len(r.runs[tag])-1]
}

// none checks that no further callback runs.
func (r *rvCallbacks) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.ch:
		t.Errorf("extra callback %q", got)
	case <-time.After(100 * time.Millisecond):
	}
}

// A file truncated while its region is being sent to a peer that reads slowly (the send waits for room):
// the callback runs once with an error wrapping io.ErrUnexpectedEOF, the connection is aborted with it, the
// peer gets the file's bytes up to the truncation and nothing after the region, and the engine's
// descriptors (the duplicate, on uring the pipe) are closed.
func TestSendFileTruncatedDuringSend(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		// The peer reads 256 KiB before the truncation, and the socket buffers hold a few MiB: the cut
		// falls in bytes not sent yet.
		const size, cut = 16 << 20, 10<<20 + 5
		body := pattern(size, 861)
		p := writeFile(t, t.TempDir(), "body", body)
		cbs := newRVCallbacks()
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, err := os.Open(p)
			if err != nil {
				c.Abort(err)
				return
			}
			c.Write([]byte("<"))
			if err := c.SendFile(f, 0, size, cbs.cb("body")); err != nil {
				c.Abort(err)
			}
			f.Close()
			c.Write([]byte(">"))
		}}
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(16<<10, 64<<10))
		runtime.GC()
		base := countFDs(t)
		c := s.dial(t)
		c.SetReadBuffer(32 << 10)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var got bytes.Buffer
		buf := make([]byte, 16<<10)
		for got.Len() < 256<<10 {
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatalf("read: %v after %d bytes", err, got.Len())
			}
		}
		if err := os.Truncate(p, cut); err != nil {
			t.Fatal(err)
		}
		io.Copy(&got, c) // to EOF or the reset
		b := got.Bytes()
		if len(b) == 0 || b[0] != '<' {
			t.Fatalf("peer read %d bytes not starting with '<'", len(b))
		}
		b = b[1:]
		// Every byte the file still has is delivered (the short file ends the connection with a FIN
		// after them), and nothing after; uring may have spliced up to a pipe's worth (1 MiB) past the
		// cut before the truncation.
		if len(b) < cut || len(b) > cut+1<<20 {
			t.Fatalf("peer read %d bytes of the region, want the %d the file kept (up to 1 MiB more on uring)", len(b), cut)
		}
		// Bytes before the truncation are the file's. (Those already spliced into the pipe past it are
		// the kernel's business: the pipe holds references to the page cache, whose last page the
		// truncation zeroes.)
		if k := min(len(b), cut&^4095); !bytes.Equal(b[:k], body[:k]) {
			t.Fatalf("peer's bytes differ from the file's at %d", firstDiff(b[:k], body[:k]))
		}
		if err := cbs.wait(t, "body"); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("callback: %v, want io.ErrUnexpectedEOF", err)
		}
		if reason := h.waitClosed(t, 10*time.Second); !errors.Is(reason, io.ErrUnexpectedEOF) {
			t.Errorf("OnClose reason %v, want io.ErrUnexpectedEOF", reason)
		}
		cbs.none(t)
		c.Close()
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
	})
}

// A file that grows while its region is sent: the region is n bytes, whatever the file's size by then.
func TestSendFileGrowingFile(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const size = 4 << 20
		body := pattern(size, 862)
		p := writeFile(t, t.TempDir(), "body", body)
		cbs := newRVCallbacks()
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			c.SendFile(f, 0, size, cbs.cb("body"))
			c.Write([]byte("end"))
			c.Close()
		}}
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(16<<10, 64<<10))
		c := s.dial(t)
		c.SetReadBuffer(32 << 10)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var got bytes.Buffer
		buf := make([]byte, 16<<10)
		for got.Len() < 128<<10 {
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
		}
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(pattern(1<<20, 863))
		f.Close()
		if _, err := io.Copy(&got, c); err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte(nil), body...), "end"...)
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("got %d bytes, want %d; first difference at %d", got.Len(), len(want), firstDiff(got.Bytes(), want))
		}
		if err := cbs.wait(t, "body"); err != nil {
			t.Fatal(err)
		}
		h.waitClosed(t, 10*time.Second)
		cbs.none(t)
	})
}

// Files that cannot be sent are refused by SendFile itself, whatever the region's length (n > 0): a
// directory, a socket, a character device, a file opened write-only. No callback runs, and the
// connection goes on: the bytes written around the refused regions arrive, in order, with a good region.
func TestSendFileRefusesUnsendableFiles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		p := writeFile(t, dir, "f", []byte("0123456789"))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cbs := newRVCallbacks()
		report := make(chan []string, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			var bad []string
			try := func(what string, open func() (*os.File, error)) {
				f, err := open()
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: %v", what, err))
					return
				}
				defer f.Close()
				c.Write([]byte(what[:1]))
				if err := c.SendFile(f, 0, 4, cbs.cb(what)); err == nil {
					bad = append(bad, fmt.Sprintf("SendFile(%s) succeeded", what))
				}
			}
			try("directory", func() (*os.File, error) { return os.Open(dir) })
			try("socket", ln.(*net.TCPListener).File)
			try("char device", func() (*os.File, error) { return os.Open(os.DevNull) })
			try("write-only", func() (*os.File, error) { return os.OpenFile(p, os.O_WRONLY, 0) })
			f, _ := os.Open(p)
			if err := c.SendFile(f, 3, 4, cbs.cb("good")); err != nil {
				bad = append(bad, fmt.Sprintf("SendFile(good) = %v", err))
			}
			f.Close()
			c.Write([]byte("!"))
			c.Close()
			report <- bad
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		awaitReport(t, report, "", "OnOpen")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "dscw3456!" {
			t.Errorf("peer read %q, want %q", got, "dscw3456!")
		}
		if err := cbs.wait(t, "good"); err != nil {
			t.Errorf("good region: %v", err)
		}
		if reason := h.waitClosed(t, 10*time.Second); reason != nil {
			t.Errorf("OnClose reason %v, want nil", reason)
		}
		cbs.none(t)
	})
}

// Writes and regions queued from other goroutines through Execute, to a peer that reads slowly: each
// Execute's Write, SendFile, Write arrive together and in the order the functions ran, each callback runs
// once and in order, memory and descriptors stay bounded (the regions are queued, not copied), and every
// duplicate is closed once the connection is.
func TestSendFileFromExecuteInterleaved(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const writers, each = 4, 150
		dir := t.TempDir()
		var paths [writers]string
		var bodies [writers][]byte
		for w := range writers {
			bodies[w] = pattern(48<<10+w*977, uint64(870+w))
			paths[w] = writeFile(t, dir, fmt.Sprintf("f%d", w), bodies[w])
		}
		opened := make(chan eddy.Conn, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { opened <- c }}
		s := startServer(t, kind, h)
		runtime.GC()
		base := countFDs(t)
		c := s.dial(t)
		c.SetReadBuffer(32 << 10)
		var conn eddy.Conn
		select {
		case conn = <-opened:
		case <-time.After(5 * time.Second):
			t.Fatal("OnOpen did not run")
		}

		var mu sync.Mutex
		var order []int   // writer<<16 | i, in the order the functions ran
		var cbOrder []int // the same, in the order the callbacks ran
		var cbErrs []error
		var wg sync.WaitGroup
		var failed atomic.Value
		var files [writers]*os.File
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := os.Open(paths[w])
				if err != nil {
					failed.Store(err)
					return
				}
				// The functions run later, on the loop: f is closed once the connection is.
				files[w] = f
				for i := range each {
					id := w<<16 | i
					off := int64(i*131) % int64(len(bodies[w])/2)
					n := int64(len(bodies[w])/2) - int64(i)
					for {
						err := conn.Execute(func(c eddy.Conn) {
							mu.Lock()
							order = append(order, id)
							mu.Unlock()
							c.Write(fmt.Appendf(nil, "[%d.%d:", w, i))
							if err := c.SendFile(f, off, n, func(_ eddy.Conn, err error) {
								mu.Lock()
								cbOrder = append(cbOrder, id)
								if err != nil {
									cbErrs = append(cbErrs, err)
								}
								mu.Unlock()
							}); err != nil {
								failed.Store(err)
							}
							c.Write([]byte("]"))
						})
						if err == nil {
							break
						}
						if !errors.Is(err, eddy.ErrQueueFull) {
							failed.Store(err)
							return
						}
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		// The peer reads slowly at first, so that regions pile up behind a full socket.
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		var got bytes.Buffer
		buf := make([]byte, 8<<10)
		for got.Len() < 1<<20 {
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatalf("read: %v after %d bytes", err, got.Len())
			}
			time.Sleep(50 * time.Microsecond)
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			t.Fatal(err)
		}
		conn.Execute(func(c eddy.Conn) { c.Close() })
		if _, err := io.Copy(&got, c); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		mu.Lock()
		for _, id := range order {
			w, i := id>>16, id&0xffff
			off := int64(i*131) % int64(len(bodies[w])/2)
			n := int64(len(bodies[w])/2) - int64(i)
			fmt.Fprintf(&want, "[%d.%d:", w, i)
			want.Write(bodies[w][off : off+n])
			want.WriteString("]")
		}
		mu.Unlock()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("got %d bytes, want %d; first difference at %d", got.Len(), want.Len(), firstDiff(got.Bytes(), want.Bytes()))
		}
		h.waitClosed(t, 10*time.Second)
		mu.Lock()
		if len(cbErrs) > 0 {
			t.Errorf("%d callbacks failed, the first with %v", len(cbErrs), cbErrs[0])
		}
		if fmt.Sprint(cbOrder) != fmt.Sprint(order) {
			t.Errorf("%d callbacks ran, want %d, in the order of the regions", len(cbOrder), len(order))
		}
		mu.Unlock()
		c.Close()
		for _, f := range files {
			f.Close()
		}
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
	})
}

// Many regions queued behind a peer that does not read, then the connection aborted: every callback runs
// once with the abort's reason, and every duplicate descriptor is closed.
func TestSendFileManyQueuedThenAbort(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const regions = 300
		body := pattern(256<<10, 864)
		p := writeFile(t, filepath.Join(t.TempDir()), "body", body)
		var runs, bad atomic.Int64
		aborted := false // on the loop: the callbacks after the first failure must all fail
		reason := errors.New("review: abort")
		queued := make(chan eddy.Conn, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			for i := range regions {
				if err := c.SendFile(f, int64(i), int64(len(body)-i), func(_ eddy.Conn, err error) {
					runs.Add(1)
					switch {
					case err != nil && !errors.Is(err, reason) && !errors.Is(err, eddy.ErrClosed):
						bad.Add(1)
					case err != nil:
						aborted = true
					case aborted: // a region's success after one failed
						bad.Add(1)
					}
				}); err != nil {
					c.Abort(err)
					return
				}
			}
			queued <- c
		}}
		s := startServer(t, kind, h)
		runtime.GC()
		base := countFDs(t)
		c := s.dial(t)
		c.SetReadBuffer(16 << 10)
		var conn eddy.Conn
		select {
		case conn = <-queued:
		case <-time.After(5 * time.Second):
			t.Fatal("OnOpen did not queue the regions")
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		conn.Abort(reason)
		if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, reason) {
			t.Errorf("OnClose reason %v, want %v", err, reason)
		}
		waitFor(t, func() bool { return runs.Load() >= regions }, "every callback to run")
		if n := bad.Load(); n > 0 {
			t.Errorf("%d callbacks ran with a region's error after the abort", n)
		}
		time.Sleep(50 * time.Millisecond)
		if n := runs.Load(); n != regions {
			t.Errorf("%d callbacks ran for %d regions", n, regions)
		}
		c.Close()
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
	})
}

// The caller closes its file at once and the descriptor number is reused by another file before the
// region is sent: the peer gets the first file's bytes.
func TestSendFileDescriptorReused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		a := writeFile(t, dir, "a", bytes.Repeat([]byte("a"), 1<<20))
		b := writeFile(t, dir, "b", bytes.Repeat([]byte("b"), 1<<20))
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(a)
			c.SendFile(f, 0, 1<<20, nil)
			f.Close()
			g, _ := os.Open(b) // as a rule, f's number
			defer g.Close()
			c.SendFile(g, 0, 10, nil)
			c.Close()
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		want := append(bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 10)...)
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
	})
}

// Regions whose first page is partial (offset 4095): a pipe's worth of them spans one page more than the
// pipe has slots, so on uring the splice into the pipe is short and breaks the link (the splice to the
// socket completes with ECANCELED); the bytes in the pipe must go out in the next step. Over TCP and over
// a Unix socket, whose splice and sendfile take the same paths.
func TestSendFileUnalignedRegions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		body := pattern(5<<20, 866)
		p := writeFile(t, t.TempDir(), "body", body)
		script := []struct{ off, n int64 }{{4095, 3<<20 + 3}, {1, 1 << 20}, {4097, 1<<20 - 1}, {0, 5 << 20}}
		cbs := newRVCallbacks()
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			for i, r := range script {
				c.Write([]byte{'0' + byte(i)})
				if err := c.SendFile(f, r.off, r.n, cbs.cb(fmt.Sprint(i))); err != nil {
					c.Abort(err)
					return
				}
			}
			c.Close()
		}}
		var want []byte
		for i, r := range script {
			want = append(want, '0'+byte(i))
			want = append(want, body[r.off:r.off+r.n]...)
		}
		sock := filepath.Join(t.TempDir(), "s")
		e := startEngine(t, kind, h, []string{"tcp://127.0.0.1:0", "unix://" + sock})
		t.Cleanup(func() { e.Stop(context.Background()) })
		for _, a := range e.Addrs() {
			t.Run(a.Network(), func(t *testing.T) {
				c, err := net.DialTimeout(a.Network(), a.String(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				var got bytes.Buffer
				buf := make([]byte, 32<<10)
				for got.Len() < 1<<20 { // slowly at first, so that the socket fills
					n, err := c.Read(buf)
					got.Write(buf[:n])
					if err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Microsecond)
				}
				if _, err := io.Copy(&got, c); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("got %d bytes, want %d; first difference at %d", got.Len(), len(want), firstDiff(got.Bytes(), want))
				}
				for i := range script {
					if err := cbs.wait(t, fmt.Sprint(i)); err != nil {
						t.Fatalf("region %d: %v", i, err)
					}
				}
				if reason := h.waitClosed(t, 10*time.Second); reason != nil {
					t.Fatalf("OnClose: %v", reason)
				}
			})
		}
	})
}

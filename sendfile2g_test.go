package eddy_test

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// bigRegionHandler sends a region of a sparse file past 2 GiB, then "end" with AsyncWrite, then
// registers a Flushed; each callback notes what the connection still held when it ran.
type bigRegionHandler struct {
	f       *os.File
	n       int64
	results chan string
}

func (h *bigRegionHandler) OnOpen(c eddy.Conn) {
	note := func(name string) func(eddy.Conn, error) {
		return func(c eddy.Conn, err error) {
			h.results <- fmt.Sprintf("%s err=%v buffered=%d", name, err, c.OutboundBuffered())
		}
	}
	if err := c.SendFile(h.f, 0, h.n, note("sendfile")); err != nil {
		h.results <- "SendFile: " + err.Error()
		return
	}
	if err := c.AsyncWrite([]byte("end"), note("asyncwrite")); err != nil {
		h.results <- "AsyncWrite: " + err.Error()
		return
	}
	c.Flushed(note("flushed"))
}

func (h *bigRegionHandler) OnData(c eddy.Conn)       { c.Discard(-1) }
func (h *bigRegionHandler) OnClose(eddy.Conn, error) {}

// A region past 2 GiB (math.MaxInt32 on a 32-bit build) keeps the AsyncWrite and Flushed callbacks
// behind it until all of it, and the bytes after it, reached the kernel: each sees nothing left to send.
// On a 32-bit build the queue's counts saturated at math.MaxInt32 and both ran a MiB early. The file is
// sparse (no disk used); the peer reads and counts.
func TestSendFilePast2GiBFlushedAtTheEnd(t *testing.T) {
	if testing.Short() || raceEnabled {
		// Under -race the 2 GiB take minutes per engine; the counts are checked under it by
		// TestWaitsBehindRegionPast32Bits.
		t.Skip("sends 2 GiB per engine")
	}
	const size = int64(math.MaxInt32) + 1 + 1<<20 // 2 GiB + 1 MiB
	// On tmpfs where there is one: a read of its holes maps the zero page, where a disk file system's
	// fills the page cache with 2 GiB of zeros for each engine.
	dir := "/dev/shm"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		dir = t.TempDir()
	}
	f, err := os.CreateTemp(dir, "eddy-sparse-*")
	if err != nil {
		f, err = os.CreateTemp(t.TempDir(), "eddy-sparse-*")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skipf("no sparse file of %d bytes here: %v", size, err)
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &bigRegionHandler{f: f, n: size, results: make(chan string, 8)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		buf := make([]byte, 1<<20)
		var got int64
		var tail []byte
		for {
			k, err := c.Read(buf)
			got += int64(k)
			if k > 0 {
				tail = append(tail, buf[:k]...)
				tail = tail[max(0, len(tail)-3):]
			}
			if got == size+3 {
				break
			}
			if err != nil {
				t.Fatalf("read %d of %d bytes: %v", got, size+3, err)
			}
		}
		if string(tail) != "end" {
			t.Fatalf("the last bytes are %q, want %q", tail, "end")
		}
		// The region's callback and the Flushed (which the loop engines register ahead of the
		// AsyncWrite's bytes: those come in a task) may see "end" still queued; the AsyncWrite's
		// callback runs once all is out. None runs with a part of the region left.
		seen := map[string]string{}
		for range 3 {
			select {
			case r := <-h.results:
				var name string
				var q int
				if _, err := fmt.Sscanf(r, "%s err=<nil> buffered=%d", &name, &q); err != nil {
					t.Fatalf("callback: %s", r)
				}
				seen[name] = r
				if q != 0 && (q != 3 || name == "asyncwrite") {
					t.Errorf("%s: %d bytes still queued when it ran", r, q)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("callbacks seen after the peer read everything: %v, want 3", seen)
			}
		}
		if len(seen) != 3 {
			t.Fatalf("callbacks: %v", seen)
		}
	})
}

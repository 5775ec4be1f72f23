package eddy_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// Linux parts of the SendFile review (sendfile_contract_test.go): the page cache and O_DIRECT.

// A file not in the page cache (evicted after it was written): the region is read from the disk, by
// splice on uring's io-wq workers (no EAGAIN for the loop to take for a failure), sendfile on epoll.
func TestSendFileColdFile(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const size = 6 << 20
		body := pattern(size, 865)
		p := writeFile(t, t.TempDir(), "body", body)
		evict := func() {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Sync()
			if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
				t.Skipf("fadvise: %v", err)
			}
		}
		cbs := newRVCallbacks()
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			c.SendFile(f, 5, size-5, cbs.cb("body"))
			c.Write([]byte("end"))
			c.Close()
		}}
		s := startServer(t, kind, h)
		for i := range 3 {
			evict()
			c := s.dial(t)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte(nil), body[5:]...), "end"...)
			if !bytes.Equal(got, want) {
				t.Fatalf("connection %d: got %d bytes, want %d; first difference at %d", i, len(got), len(want), firstDiff(got, want))
			}
			if err := cbs.wait(t, "body"); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			h.waitClosed(t, 10*time.Second)
		}
	})
}

// A file opened with O_DIRECT: the kernel reads it for sendfile and splice (and pread) with direct I/O,
// which fails with EINVAL for a region whose offset or end is not aligned to the device's blocks. Until
// session 30 every engine sent the aligned part of such a region, then failed its callback with EINVAL
// and aborted the connection (sendfile, splice or pread: invalid argument); the engine now opens such a
// file again without O_DIRECT, and the caller's file keeps its flags.
func TestSendFileODirect(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const size = 2<<20 + 1000
		body := pattern(size, 868)
		p := writeFile(t, t.TempDir(), "body", body)
		if f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0); err != nil {
			t.Skipf("O_DIRECT: %v", err) // tmpfs, say
		} else {
			f.Close()
		}
		script := []struct{ off, n int64 }{{0, size}, {7, 1000}, {1 << 20, 4096}, {4095, 1<<20 + 2}}
		cbs := newRVCallbacks()
		report := make(chan []string, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			var bad []string
			f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECT, 0)
			if err != nil {
				report <- []string{err.Error()}
				c.Close()
				return
			}
			defer f.Close()
			for i, r := range script {
				c.Write([]byte{'0' + byte(i)})
				if err := c.SendFile(f, r.off, r.n, cbs.cb(fmt.Sprint(i))); err != nil {
					bad = append(bad, fmt.Sprintf("SendFile(%d, %d) = %v", r.off, r.n, err))
				}
			}
			if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&syscall.O_DIRECT == 0 {
				bad = append(bad, fmt.Sprintf("the caller's file lost O_DIRECT (flags %#x, %v)", fl, err))
			}
			c.Write([]byte("end"))
			c.Close()
			report <- bad
		}}
		var want []byte
		for i, r := range script {
			want = append(want, '0'+byte(i))
			want = append(want, body[r.off:r.off+r.n]...)
		}
		want = append(want, "end"...)
		s := startServer(t, kind, h)
		c := s.dial(t)
		awaitReport(t, report, "", "OnOpen")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, _ := io.ReadAll(c)
		if !bytes.Equal(got, want) {
			t.Errorf("got %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
		for i := range script {
			if err := cbs.wait(t, fmt.Sprint(i)); err != nil {
				t.Errorf("region %d (%d, %d): %v", i, script[i].off, script[i].n, err)
			}
		}
		if reason := h.waitClosed(t, 10*time.Second); reason != nil {
			t.Errorf("OnClose: %v", reason)
		}
	})
}

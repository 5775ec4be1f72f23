//go:build linux

package eddy_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// SendFile's edges found by the review of the dial and SendFile paths in session 18, on every engine.

// procFileWithoutSendfile returns a regular file of this machine that sendfile(2) and splice cannot read
// but pread can (/proc/self/cmdline: procfs has no splice_read, and this file stays the same while the
// process runs), and its content; it skips the test where there is none.
func procFileWithoutSendfile(t *testing.T) (string, []byte) {
	t.Helper()
	const name = "/proc/self/cmdline"
	f, err := os.Open(name)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		t.Skipf("%s is not a regular file here", name)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	_, serr := unix.Sendfile(fds[0], int(f.Fd()), &off, 4096)
	unix.Close(fds[0])
	unix.Close(fds[1])
	if serr != unix.EINVAL {
		t.Skipf("sendfile(2) of %s: %v, want EINVAL", name, serr)
	}
	data, err := os.ReadFile(name)
	if err != nil || len(data) == 0 {
		t.Skipf("%s: %d bytes, %v", name, len(data), err)
	}
	return name, data
}

// sendScriptAndRead runs script on a new server connection (closing it after) and returns what the peer
// read and the callbacks' errors.
func sendScriptAndRead(t *testing.T, kind eddy.EngineKind, script []sendPiece) ([]byte, []error) {
	t.Helper()
	h := newSendFileHandler(script)
	s := startServer(t, kind, h)
	c := s.dial(t)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(c)
	var errs []error
	for _, p := range script {
		if p.path == "" {
			continue
		}
		if err := <-h.calls; err != nil {
			t.Fatalf("SendFile: %v", err)
		}
		select {
		case err := <-h.results:
			errs = append(errs, err)
		case <-time.After(5 * time.Second):
			t.Fatal("a SendFile callback did not run")
		}
	}
	return got, errs
}

// A regular file that sendfile(2) cannot read (a procfs file: EINVAL) is sent, between the writes around
// it, on every engine. Found by a review in session 18: uring fell back to pread and std to ReadAt, but
// epoll took sendfile's EINVAL for a failed send, failed the region and aborted the connection; it now
// reads such a region with pread into its output (fileSend.read).
func TestSendFileFallsBackToReadWithoutSendfile(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		name, content := procFileWithoutSendfile(t)
		script := []sendPiece{{write: []byte("<")}, {path: name, n: int64(len(content))}, {write: []byte(">")}}
		got, errs := sendScriptAndRead(t, kind, script)
		want := append(append([]byte("<"), content...), '>')
		if !bytes.Equal(got, want) {
			t.Errorf("peer read %d bytes, want %d (%s, which pread reads)", len(got), len(want), name)
		}
		for _, err := range errs {
			if err != nil {
				t.Errorf("callback: %v", err)
			}
		}
	})
}

// A region of a file that cannot splice, queued behind a region that spliced, falls back to pread and is
// delivered. Found by a review in session 18: on uring the guard that tells a missing splice from a
// failure (a splice has moved bytes) was the connection's, not the region's, so the second region
// failed with "splice: invalid argument" and aborted the connection.
func TestSendFileUnspliceableRegionAfterSplicedOne(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		name, content := procFileWithoutSendfile(t)
		data := pattern(1<<20, 21)
		p := writeFile(t, t.TempDir(), "f", data)
		script := []sendPiece{
			{write: []byte("<")},
			{path: p, n: int64(len(data))},
			{path: name, n: int64(len(content))},
			{write: []byte(">")},
		}
		got, errs := sendScriptAndRead(t, kind, script)
		want := append(append(append([]byte("<"), data...), content...), '>')
		if !bytes.Equal(got, want) {
			t.Errorf("peer read %d bytes, want %d; differ at %d", len(got), len(want), firstDiff(got, want))
		}
		for _, err := range errs {
			if err != nil {
				t.Errorf("callback: %v", err)
			}
		}
	})
}

// A region whose file cannot be read (EIO: /proc/self/mem at address 0) fails, and the connection is
// aborted at once, as docs/engine.md ("A failed send reads on") promises for a failing file. Found by a
// review in session 18: std took every error of the copy for the socket's and read on for the 2 s linger
// bound before OnClose.
func TestSendFileReadErrorAbortsAtOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		type stamp struct {
			err error
			at  time.Time
		}
		ret := make(chan error, 1)
		cbs := make(chan stamp, 2)
		closed := make(chan stamp, 2)
		h := &closeStampHandler{closed: func(err error) { closed <- stamp{err, time.Now()} }}
		h.open = func(c eddy.Conn) {
			f, err := os.Open("/proc/self/mem")
			if err != nil {
				ret <- err
				return
			}
			defer f.Close()
			ret <- c.SendFile(f, 0, 10, func(_ eddy.Conn, err error) { cbs <- stamp{err, time.Now()} })
		}
		s := startServer(t, kind, h)
		c := s.dial(t) // the peer stays open and silent
		if err := <-ret; err != nil {
			t.Skipf("SendFile(/proc/self/mem) refused: %v", err)
		}
		var cb, cl stamp
		select {
		case cb = <-cbs:
		case <-time.After(5 * time.Second):
			t.Fatal("the region's callback did not run")
		}
		if cb.err == nil {
			t.Fatal("a region of an unreadable file succeeded")
		}
		select {
		case cl = <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("OnClose did not run")
		}
		if d := cl.at.Sub(cb.at); d > 1500*time.Millisecond {
			t.Errorf("OnClose (%v) ran %v after the region failed (%v): the connection was not aborted at once", cl.err, d.Round(time.Millisecond), cb.err)
		}
		_ = c
	})
}

// closeStampHandler runs open in OnOpen and reports OnClose to closed.
type closeStampHandler struct {
	eddy.BaseHandler
	open   func(eddy.Conn)
	closed func(error)
}

func (h *closeStampHandler) OnOpen(c eddy.Conn)           { h.open(c) }
func (h *closeStampHandler) OnData(c eddy.Conn)           { c.Discard(-1) }
func (h *closeStampHandler) OnClose(_ eddy.Conn, e error) { h.closed(e) }

// SendFile of a file opened write-only returns an error and its callback does not run, as conn.go
// promises for a file that cannot be sent. Found by a review in session 18: SendFile checked only that
// the file was regular, and every engine then failed the region with EBADF and aborted the connection.
func TestSendFileRefusesWriteOnlyFile(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := writeFile(t, t.TempDir(), "f", pattern(4096, 3))
		ret := make(chan error, 1)
		cbs := make(chan error, 2)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				ret <- err
				return
			}
			defer f.Close()
			ret <- c.SendFile(f, 0, 4096, func(_ eddy.Conn, err error) { cbs <- err })
		}}
		s := startServer(t, kind, h)
		s.dial(t)
		if err := <-ret; err == nil {
			cbErr := <-cbs
			t.Errorf("SendFile of a write-only file returned nil; the callback got %v and the connection was aborted (%v)", cbErr, h.waitClosed(t, 5*time.Second))
		}
	})
}

// SendFile of a region whose end (offset+n) overflows int64 returns an error, as for any bad region. Found
// by a review in session 18: it was accepted, and each engine failed it its own way afterwards,
// aborting the connection.
func TestSendFileRefusesOverflowingRegion(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := writeFile(t, t.TempDir(), "f", []byte("0123456789"))
		ret := make(chan error, 1)
		cbs := make(chan error, 2)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			ret <- c.SendFile(f, math.MaxInt64-4, 10, func(_ eddy.Conn, err error) { cbs <- err })
		}}
		s := startServer(t, kind, h)
		s.dial(t)
		if err := <-ret; err == nil {
			cbErr := <-cbs
			t.Errorf("SendFile(offset MaxInt64-4, n 10) returned nil; the callback got %v", cbErr)
		}
	})
}

// The error of a file shorter than its region says how much of the region was sent. Found by a review in
// session 18: std built it before counting the piece just copied, and said "0 of 5" where 2 bytes had
// been sent.
func TestSendFileShortFileErrorCountsSentBytes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := writeFile(t, t.TempDir(), "ten", []byte("0123456789"))
		got, errs := sendScriptAndRead(t, kind, []sendPiece{{path: p, off: 8, n: 5}})
		if string(got) != "89" {
			t.Errorf("peer read %q, want \"89\"", got)
		}
		if len(errs) != 1 || !errors.Is(errs[0], io.ErrUnexpectedEOF) {
			t.Fatalf("callbacks: %v, want one error wrapping io.ErrUnexpectedEOF", errs)
		}
		if !strings.Contains(errs[0].Error(), "2 of 5 bytes sent") {
			t.Errorf("short file error %q does not say that 2 of the 5 bytes were sent", errs[0])
		}
	})
}

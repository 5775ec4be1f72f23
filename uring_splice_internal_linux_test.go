package eddy

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// fileSender sends the file at path to each new connection, with a line before and after it, then
// closes the connection. With noSplice it turns the connection's zero-copy path off first.
type fileSender struct {
	BaseHandler
	path     string
	noSplice bool
	errs     chan error
}

func (h *fileSender) OnOpen(c Conn) {
	if h.noSplice {
		c.(*urConn).extra().splice = &urSplice{r: -1, w: -1, off: true}
	}
	f, err := os.Open(h.path)
	if err != nil {
		h.errs <- err
		return
	}
	defer f.Close()
	fi, _ := f.Stat()
	c.Write([]byte("<"))
	if err := c.SendFile(f, 0, fi.Size(), func(_ Conn, err error) { h.errs <- err }); err != nil {
		h.errs <- err
	}
	c.Write([]byte(">"))
	c.Close()
}

func TestUringSendFileSplicesWithoutCopying(t *testing.T) {
	requireUring(t)
	for _, tc := range []struct {
		name     string
		noSplice bool
	}{{"splice", false}, {"read fallback", true}} {
		t.Run(tc.name, func(t *testing.T) {
			body := make([]byte, 16<<20)
			rand.NewChaCha8([32]byte{9}).Read(body)
			path := filepath.Join(t.TempDir(), "body")
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
			h := &fileSender{path: path, noSplice: tc.noSplice, errs: make(chan error, 4)}
			runtime.GC()
			base := openFDs(t)
			e, addr := startUring(t, h)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			buf := make([]byte, 16<<10)
			var got bytes.Buffer
			for got.Len() < 1<<20 { // slowly at first: the socket fills and the splice must wait for room
				n, err := c.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Microsecond)
			}
			if _, err := io.Copy(&got, c); err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte("<"), body...), '>')
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("got %d bytes, want %d", got.Len(), len(want))
			}
			if err := <-h.errs; err != nil {
				t.Fatal(err)
			}
			c.Close()
			if err := e.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			l := e.impl.(*uringEngine).loops[0]
			if tc.noSplice {
				if l.stats.spliced != 0 {
					t.Fatalf("%d bytes spliced with splicing off", l.stats.spliced)
				}
			} else {
				if l.stats.spliced != len(body) {
					t.Fatalf("%d bytes spliced, want %d", l.stats.spliced, len(body))
				}
				t.Logf("%d waits for room on the socket", l.stats.spliceWaits)
			}
			waitForFDs(t, base)
		})
	}
}

// waitForFDs waits until the process has no more open descriptors than base (the pipe, the file
// duplicate and the socket closed).
func waitForFDs(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for openFDs(t) > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, want at most %d", openFDs(t), base)
		}
		time.Sleep(time.Millisecond)
	}
}

// A file that cannot splice (a procfs file) falls back to pread for its own region only: the regions
// around it, before and after, still splice (until session 18 the first splice's bytes made a later
// EINVAL abort the connection, and the fallback was the connection's).
func TestUringSendFileFallbackIsPerRegion(t *testing.T) {
	requireUring(t)
	proc, err := os.ReadFile("/proc/self/cmdline")
	if err != nil || len(proc) == 0 {
		t.Skip("no /proc/self/cmdline")
	}
	body := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{18}).Read(body)
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	h := &funcConnHandler{open: func(c Conn) {
		for _, p := range []struct {
			name string
			n    int
		}{{path, len(body)}, {"/proc/self/cmdline", len(proc)}, {path, len(body)}} {
			f, err := os.Open(p.name)
			if err != nil {
				errs <- err
				return
			}
			err = c.SendFile(f, 0, int64(p.n), func(_ Conn, err error) { errs <- err })
			f.Close()
			if err != nil {
				errs <- err
				return
			}
		}
		c.Close()
	}}
	e, addr := startUring(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, body...), proc...), body...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := e.impl.(*uringEngine).loops[0]; l.stats.spliced != 2*len(body) {
		t.Fatalf("%d bytes spliced, want %d (the two regions of a regular file)", l.stats.spliced, 2*len(body))
	}
}

// funcConnHandler runs open in OnOpen.
type funcConnHandler struct {
	BaseHandler
	open func(Conn)
}

func (h *funcConnHandler) OnOpen(c Conn) { h.open(c) }

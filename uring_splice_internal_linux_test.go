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

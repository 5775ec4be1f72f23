package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

type stopFileHandler struct {
	eddy.BaseHandler
	f      *os.File
	n      int64
	opened chan struct{}
}

func (h *stopFileHandler) OnOpen(c eddy.Conn) { h.opened <- struct{}{} }
func (h *stopFileHandler) OnClosing(c eddy.Conn, reason error) {
	c.SendFile(h.f, 0, h.n, nil)
}

// A goodbye sent with SendFile from OnClosing, on an idle connection, with Stop's context done before
// Stop: epoll gives it the one try a stopping engine gives output (the peer reads the file, then EOF);
// uring and std do not, and reset the connection (ClosingHandler's doc). Either way the peer reads no
// more than the file, and Stop returns. Found by a review in session 29; the difference is documented,
// not fixed: it needs a file copy that does not wait on std and a splice decided by its completion on
// uring.
func TestStopDoneSendFileGoodbye(t *testing.T) {
	const goodbye = "goodbye from a file"
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := filepath.Join(t.TempDir(), "bye")
		if err := os.WriteFile(p, []byte(goodbye), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := &stopFileHandler{f: f, n: int64(len(goodbye)), opened: make(chan struct{}, 4)}
		e := startEngine(t, kind, h, loopback)
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case <-h.opened:
		case <-time.After(10 * time.Second):
			t.Fatal("no OnOpen")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		stopped := make(chan struct{})
		go func() { e.Stop(ctx); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(20 * time.Second):
			t.Fatal("Stop did not return")
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if !strings.HasPrefix(goodbye, string(b)) {
			t.Fatalf("the peer read %q, not a prefix of the goodbye", b)
		}
		switch {
		case kind == eddy.EngineEpoll && (err != nil || string(b) != goodbye):
			t.Fatalf("epoll: the peer read %q, then %v; want the goodbye, then EOF", b, err)
		case err != nil && !errors.Is(err, syscall.ECONNRESET):
			t.Fatalf("the peer read %q, then %v; want EOF or a reset", b, err)
		}
	})
}

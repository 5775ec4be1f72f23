package eddy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// A callback that calls runtime.Goexit in the middle of a CQE's handling (OnData on a
// receive, an AsyncWrite or SendFile callback on a send's or splice's completion) stops the loop
// (loopCore.serveGuarded), and the loop drops that CQE (reap keeps only the ones after it). The state
// that CQE was to end had to be ended before the callback ran: a recv or splice left "in flight" for
// ever keeps its connection from being finalized, and the loop, which exits only once every
// connection is, never exits: Stop hangs, whatever its context.

type ltGoexitRecv struct {
	BaseHandler
	at     int
	closed atomic.Int64
}

func (h *ltGoexitRecv) OnData(c Conn) {
	if c.Buffered() >= h.at {
		runtime.Goexit()
	}
}
func (h *ltGoexitRecv) OnClose(Conn, error) { h.closed.Add(1) }

// ltStopWithin stops e and fails the test if Stop does not return.
func ltStopWithin(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Stop(ctx) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("Stop did not return 15 s after a Goexit in a callback (its context ended after 2 s)")
	}
}

func TestUringGoexitOnTheCQEThatEndsARecv(t *testing.T) {
	requireUring(t)
	if !uring.RecvLimitSupported() {
		t.Skip("no recv limit before 6.17: a recv's last CQE carries no data")
	}
	// A recv limited to a read's worth (4 KiB) ends with the CQE that reaches the limit: data without
	// F_MORE. OnData on it calls Goexit.
	const read = 4096
	h := &ltGoexitRecv{at: read}
	base := openFDs(t)
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineUring), WithLoops(1), WithReadBufferSize(read),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(make([]byte, 4*read))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection of a loop stopped by a Goexit is still open")
	}
	ltStopWithin(t, e)
	if h.closed.Load() != 1 {
		t.Errorf("%d OnClose for 1 connection", h.closed.Load())
	}
	c.Close()
	ltFDsBack(t, base)
}

type ltGoexitFile struct {
	BaseHandler
	f *os.File
}

func (h *ltGoexitFile) OnData(c Conn) {
	c.Discard(-1)
	c.SendFile(h.f, 0, 64<<10, nil)
	// Flushed's callback runs from the splice's CQE (wrote), in the middle of its handling.
	c.Flushed(func(Conn, error) { runtime.Goexit() })
}

func TestUringGoexitInASendFileCallback(t *testing.T) {
	requireUring(t)
	f, err := os.CreateTemp(t.TempDir(), "data")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(make([]byte, 64<<10))
	h := &ltGoexitFile{f: f}
	base := openFDs(t)
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineUring), WithLoops(1),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("go"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
	ltStopWithin(t, e)
	c.Close()
	ltFDsBack(t, base)
}

// ltGoexitOpen calls runtime.Goexit in OnOpen while goexit is set.
type ltGoexitOpen struct {
	BaseHandler
	goexit atomic.Bool
}

func (h *ltGoexitOpen) OnOpen(Conn) {
	if h.goexit.Load() {
		runtime.Goexit()
	}
}

func TestUringGoexitInOnOpenOnTheCQEThatEndsAnAccept(t *testing.T) {
	requireUring(t)
	// A multishot accept's last CQE may carry a socket (one the kernel could not post with F_MORE, on
	// a full CQ). That is hard to time from outside, so the loop is handed such a CQE for a listener
	// of its own, with a real socket, whose OnOpen calls Goexit.
	h := &ltGoexitOpen{}
	base := openFDs(t)
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineUring), WithLoops(1),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := sc.(*net.TCPConn).File()
	sc.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	l := e.impl.(*uringEngine).loops[0]
	h.goexit.Store(true)
	l.submit(task{fn: func(*task) {
		fake := &urListener{fd: lfd, network: "tcp", addr: l.listeners[0].addr, loop: l, idx: uint32(len(l.listeners))}
		fake.retry.Init(urRetryAccept, fake)
		l.listeners = append(l.listeners, fake)
		fake.armed = true // as armAccept leaves it
		l.acceptsArmed++
		l.dispatch(&uring.CQE{Res: int32(fd), UserData: urToken(urOpAccept, fake.idx, 0)}) // no F_MORE
	}})
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	client.Read(make([]byte, 1)) // the loop stopped: the connection it adopted is aborted
	ltStopWithin(t, e)
	client.Close()
	ln.Close()
	ltFDsBack(t, base)
}

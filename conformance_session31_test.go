package eddy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Session 31's review of that day's changes to the close paths (OnPeerClosed, a reset after Close) and
// the listeners (Unix socket files removed only while they are the engine's).

// stopEngine31 stops e with a generous deadline and fails the test on an error.
func stopEngine31(t *testing.T, e *eddy.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// peerClosedWriter answers the peer's FIN in OnPeerClosed: it writes reply there (after what OnData
// wrote) and then closes or aborts the connection itself (how), returning keep.
type peerClosedWriter struct {
	*counter
	reply    []byte
	how      string // "close", "abort", "close-queuefull"
	keep     bool
	closeErr chan error
	late     atomic.Int32 // calls after OnPeerClosed
	peerGone atomic.Bool
}

var errReviewAbort = errors.New("review: aborted in OnPeerClosed")

func (h *peerClosedWriter) OnData(c eddy.Conn) {
	if h.peerGone.Load() {
		h.late.Add(1)
	}
	c.Discard(-1)
	c.Write([]byte("head:"))
}

func (h *peerClosedWriter) OnPeerClosed(c eddy.Conn) bool {
	h.peerGone.Store(true)
	c.Write(h.reply)
	switch h.how {
	case "abort":
		c.Abort(errReviewAbort)
		h.closeErr <- nil
	case "close-queuefull":
		// Fill the task queue first (WithTaskQueueCapacity(1)): Close is never refused for it.
		for i := 0; i < 64; i++ {
			if err := c.Execute(func(eddy.Conn) {}); err != nil {
				break
			}
		}
		h.closeErr <- c.Close()
	default:
		h.closeErr <- c.Close()
	}
	return h.keep
}

// TestCloseInOnPeerClosedDeliversQueuedOutput: a Close made in OnPeerClosed (returning false or
// true) with output queued, written in OnData and in OnPeerClosed itself, sends all of it, then the
// peer reads EOF; OnClose reports nil, once. With the task queue full the Close is not refused and
// still ends the connection.
func TestCloseInOnPeerClosedDeliversQueuedOutput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, how := range []string{"close", "close-queuefull"} {
			for _, keep := range []bool{false, true} {
				h := &peerClosedWriter{counter: newCounter(), reply: pattern(3<<20, 7), how: how, keep: keep, closeErr: make(chan error, 1)}
				e := startEngine(t, kind, h, loopback, eddy.WithTaskQueueCapacity(1))
				c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(c, "request"); err != nil {
					t.Fatal(err)
				}
				// Wait for the head, so that OnData ran before the FIN is sent.
				c.SetReadDeadline(time.Now().Add(15 * time.Second))
				head := make([]byte, len("head:"))
				if _, err := io.ReadFull(c, head); err != nil {
					t.Fatalf("%s keep=%v: head: %v", how, keep, err)
				}
				if err := c.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(c)
				if err != nil || !bytes.Equal(b, h.reply) {
					t.Fatalf("%s keep=%v: the peer read %d bytes (want %d, equal %v), %v; want the reply and EOF",
						how, keep, len(b), len(h.reply), bytes.Equal(b, h.reply), err)
				}
				c.Close()
				if err := <-h.closeErr; err != nil {
					t.Fatalf("%s keep=%v: Close in OnPeerClosed: %v", how, keep, err)
				}
				if err := h.waitClosed(t, 15*time.Second); err != nil {
					t.Fatalf("%s keep=%v: OnClose(%v), want nil", how, keep, err)
				}
				stopEngine31(t, e)
				if n := h.closed.Load(); n != 1 {
					t.Fatalf("%s keep=%v: OnClose ran %d times", how, keep, n)
				}
				if n := h.late.Load(); n != 0 {
					t.Fatalf("%s keep=%v: OnData ran %d times after OnPeerClosed", how, keep, n)
				}
			}
		}
	})
}

// TestAbortInOnPeerClosedReportsItsReason: an Abort made in OnPeerClosed ends the connection with
// the Abort's reason, whether OnPeerClosed then returns false or true, once.
func TestAbortInOnPeerClosedReportsItsReason(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, keep := range []bool{false, true} {
			h := &peerClosedWriter{counter: newCounter(), reply: []byte("never mind"), how: "abort", keep: keep, closeErr: make(chan error, 1)}
			e := startEngine(t, kind, h, loopback)
			c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, "request"); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			head := make([]byte, len("head:"))
			if _, err := io.ReadFull(c, head); err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			<-h.closeErr
			if err := h.waitClosed(t, 15*time.Second); err != errReviewAbort {
				t.Fatalf("keep=%v: OnClose(%v), want the Abort's reason", keep, err)
			}
			io.Copy(io.Discard, c) // a reset or EOF, without "never mind" necessarily
			c.Close()
			stopEngine31(t, e)
			if n := h.closed.Load(); n != 1 {
				t.Fatalf("keep=%v: OnClose ran %d times", keep, n)
			}
		}
	})
}

// bigCloser writes size bytes and closes at its first OnData; it keeps the connection open for writing
// at the peer's FIN (so that a FIN before the close's end changes nothing).
type bigCloser struct {
	*counter
	size  int
	wrote chan struct{}
	once  atomic.Bool
}

func (h *bigCloser) OnData(c eddy.Conn) {
	c.Discard(-1)
	if h.once.CompareAndSwap(false, true) {
		c.Write(make([]byte, h.size))
		c.Close()
		close(h.wrote)
	}
}

func (h *bigCloser) OnPeerClosed(eddy.Conn) bool { return true }

// TestResetEndsABlockedCloseFlush: a Close whose flush waits for a peer that reads nothing, which
// then resets the connection (after its FIN, or without one), ends at the reset with the loss of the
// output, not at the flush timeout, on every engine.
func TestResetEndsABlockedCloseFlush(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, fin := range []bool{false, true} {
			h := &bigCloser{counter: newCounter(), size: 32 << 20, wrote: make(chan struct{})}
			e := startEngine(t, kind, h, loopback, eddy.WithFlushTimeout(time.Minute))
			c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			tc := c.(*net.TCPConn)
			if _, err := io.WriteString(c, "go"); err != nil {
				t.Fatal(err)
			}
			if fin {
				tc.CloseWrite()
			}
			<-h.wrote
			// Let the output fill both sockets' buffers (32 MiB is more than they hold).
			time.Sleep(200 * time.Millisecond)
			tc.SetLinger(0)
			tc.Close() // a reset
			start := time.Now()
			select {
			case err := <-h.closedCh:
				if err == nil {
					t.Errorf("fin=%v: OnClose(nil) after a reset lost output", fin)
				}
				t.Logf("fin=%v: OnClose(%v) %v after the reset", fin, err, time.Since(start))
			case <-time.After(30 * time.Second):
				t.Fatalf("fin=%v: no OnClose 30 s after the peer's reset (flush timeout 1 min)", fin)
			}
			stopEngine31(t, e)
			if n := h.closed.Load(); n != 1 {
				t.Fatalf("fin=%v: OnClose ran %d times", fin, n)
			}
		}
	})
}

// TestCloseWriteThenClose: CloseWrite and then Close in one OnData: the peer gets the output and
// EOF, OnClose reports nil, once.
func TestCloseWriteThenClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &cwClose{counter: newCounter()}
		e := startEngine(t, kind, h, loopback)
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "x")
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "bye" {
			t.Fatalf("read %q, %v", b, err)
		}
		c.Close()
		if err := h.waitClosed(t, 15*time.Second); err != nil {
			t.Fatalf("OnClose(%v), want nil", err)
		}
		stopEngine31(t, e)
		if n := h.closed.Load(); n != 1 {
			t.Fatalf("OnClose ran %d times", n)
		}
	})
}

type cwClose struct{ *counter }

func (h *cwClose) OnData(c eddy.Conn) {
	c.Discard(-1)
	c.Write([]byte("bye"))
	c.CloseWrite()
	c.Close()
}

// ---- Unix socket files ----

// startUnix starts an echo engine of kind on unix://path.
func startUnix(t *testing.T, kind eddy.EngineKind, path string, opts ...eddy.Option) *eddy.Engine {
	t.Helper()
	opts = append([]eddy.Option{eddy.WithEngine(kind), eddy.WithLoops(2)}, opts...)
	e, err := eddy.New(newEcho(false), []string{"unix://" + path}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRelativeSocketPathAfterChdir: an engine listening on a relative Unix socket path removes its
// own file at Stop (or StopAccepting) although the process changed directory since Start, and leaves
// alone the file the same name gives in the new directory. Package net's UnixListener keeps the name
// as given and unlinks it in the directory of the moment: it leaves its own file and removes the other;
// so did the engines before session 31; since 48a8906 they left both (the Lstat of the relative name
// found no file, or another, and the file was not removed), and the next Start on that path failed with
// EADDRINUSE.
func TestRelativeSocketPathAfterChdir(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, how := range []string{"Stop", "StopAccepting"} {
			dirA, dirB := t.TempDir(), t.TempDir()
			t.Chdir(dirA)
			e := startUnix(t, kind, "s.sock")
			if err := echoOver(t, "unix", filepath.Join(dirA, "s.sock")); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dirB)
			other := filepath.Join(dirB, "s.sock")
			if err := os.WriteFile(other, []byte("not the engine's"), 0o600); err != nil {
				t.Fatal(err)
			}
			if how == "StopAccepting" {
				if err := e.StopAccepting(); err != nil {
					t.Fatal(err)
				}
			}
			stopEngine31(t, e)
			if _, err := os.Lstat(filepath.Join(dirA, "s.sock")); !os.IsNotExist(err) {
				t.Errorf("%s: the engine's socket file after %s in another directory: %v; want it removed", kind, how, err)
			}
			if _, err := os.Lstat(other); err != nil {
				t.Errorf("%s: the other directory's file of the same name after %s: %v; want it kept", kind, how, err)
			}
			// The path serves again.
			t.Chdir(dirA)
			e2 := startUnix(t, kind, "s.sock")
			stopEngine31(t, e2)
		}
	})
}

// TestSocketFileEdges: StopAccepting then Stop removes the file once, without error; a directory
// removed while the engine runs is no error at Stop, and a file made later at the same path is kept; a
// hard link to the engine's socket keeps the inode, and the engine's name is removed; a socket adopted
// with WithListeners and SetUnlinkOnClose(false) keeps its file.
func TestSocketFileEdges(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		// StopAccepting, then Stop.
		path := filepath.Join(t.TempDir(), "a.sock")
		e := startUnix(t, kind, path)
		if err := e.StopAccepting(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Fatalf("after StopAccepting: %v; want the file removed", err)
		}
		// Another server takes the path between StopAccepting and Stop: its file stays.
		repl, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		stopEngine31(t, e)
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("the new server's file after the old engine's Stop: %v", err)
		}
		repl.Close()

		// The directory removed, and made again with a file at the path.
		dir := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, "b.sock")
		e = startUnix(t, kind, path)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := e.StopAccepting(); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		stopEngine31(t, e)
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("a file made at the path after its directory was removed: %v; want it kept", err)
		}

		// A hard link.
		path = filepath.Join(t.TempDir(), "c.sock")
		link := path + ".link"
		e = startUnix(t, kind, path)
		if err := os.Link(path, link); err != nil {
			t.Fatal(err)
		}
		stopEngine31(t, e)
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Fatalf("the engine's name after Stop: %v; want it removed", err)
		}
		if _, err := os.Lstat(link); err != nil {
			t.Fatalf("the hard link after Stop: %v; want it kept", err)
		}

		// An adopted listener that keeps its file.
		path = filepath.Join(t.TempDir(), "d.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		e, err = eddy.New(newEcho(false), nil, eddy.WithEngine(kind), eddy.WithListeners(ln))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		if err := echoOver(t, "unix", path); err != nil {
			t.Fatal(err)
		}
		if err := e.StopAccepting(); err != nil {
			t.Fatal(err)
		}
		stopEngine31(t, e)
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("the adopted listener's file (SetUnlinkOnClose(false)) after Stop: %v; want it kept", err)
		}
		if _, err := net.DialTimeout("unix", path, 5*time.Second); err == nil {
			t.Fatal("the adopted listener still accepts after Stop")
		}
	})
}

// halfOpenCloseReset keeps a connection open for writing at the peer's FIN.
type halfOpenCloseReset struct{ *closeResetHandler }

func (halfOpenCloseReset) OnPeerClosed(eddy.Conn) bool { return true }

// TestFINBeforeCloseTaskThenResetEndsTheFlush: the peer's FIN reaches the loop after the
// handler's Close was called and before its task ran (uring takes note of it then, endInput, and the
// close's drain arms no recv), the close's flush waits for the peer, which reads nothing and then
// resets the connection: the close ends at the reset, not at the flush timeout, reporting the loss.
func TestFINBeforeCloseTaskThenResetEndsTheFlush(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &halfOpenCloseReset{&closeResetHandler{opened: make(chan eddy.Conn, 1), closed: make(chan error, 2)}}
		srv := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithFlushTimeout(time.Minute))
		cl := srv.dial(t)
		c := <-h.opened
		inFn, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock)
		if err := c.Execute(func(c eddy.Conn) {
			c.Write(make([]byte, 32<<20))
			close(inFn)
			<-release
		}); err != nil {
			t.Fatal(err)
		}
		<-inFn
		cl.CloseWrite()
		time.Sleep(20 * time.Millisecond) // the FIN reaches the server's socket while the loop is held
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		unblock()
		time.Sleep(200 * time.Millisecond) // the flush fills the sockets' buffers
		select {
		case err := <-h.closed:
			t.Fatalf("OnClose(%v) before the peer read or reset", err)
		default:
		}
		cl.SetLinger(0)
		cl.Close()
		select {
		case err := <-h.closed:
			if err == nil {
				t.Errorf("OnClose(nil) after a reset lost output")
			}
			t.Logf("OnClose(%v)", err)
		case <-time.After(30 * time.Second):
			t.Fatal("no OnClose 30 s after the peer's reset (flush timeout 1 min)")
		}
	})
}

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// fillPeer writes to c until the kernel takes no more (a write of a chunk does not complete within
// 200 ms): the server reads nothing, and TCP flow control has stopped the peer.
func fillPeer(t *testing.T, c net.Conn) int {
	t.Helper()
	n, err := fill(c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fillPeers fills each of conns as fillPeer does, side by side.
func fillPeers(t *testing.T, conns ...net.Conn) {
	t.Helper()
	errs := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			_, err := fill(c)
			errs <- err
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// fill is fillPeer's work, with its failure as an error.
func fill(c net.Conn) (int, error) {
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	total := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(chunk)
		total += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.SetWriteDeadline(time.Time{})
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("filling the server's socket: %v after %d bytes", err, total)
		}
	}
	return 0, fmt.Errorf("the server kept reading: %d bytes", total)
}

// peerClosedConns sets h.peerClosed to keep the half-closed connections open (OnPeerClosed true) and
// returns a function that waits until OnPeerClosed ran for sc: the loop took the peer's FIN.
func peerClosedConns(t *testing.T, h *spinHandler) func(sc eddy.Conn) {
	var mu sync.Mutex
	seen := make(map[eddy.Conn]bool)
	cond := make(chan struct{}, 1)
	h.peerClosed = func(c eddy.Conn) bool {
		mu.Lock()
		seen[c] = true
		mu.Unlock()
		select {
		case cond <- struct{}{}:
		default:
		}
		return true
	}
	return func(sc eddy.Conn) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			mu.Lock()
			ok := seen[sc]
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-cond:
			case <-timeout:
				t.Fatal("OnPeerClosed did not run after the peer's CloseWrite")
			}
		}
	}
}

// spinSettle is how long the waiting states are given, once set up, before the quiet period: for the
// loops to take the last FINs, resets and edges (the probes once gave each step 50 to 100 ms). A loop
// that spins in a state reached later still spins over most of the period.
const spinSettle = 100 * time.Millisecond

// openedConns returns a handler whose OnOpen runs open (if set) and then hands the connection over.
func openedConns(open func(c eddy.Conn)) (*spinHandler, chan eddy.Conn) {
	ch := make(chan eddy.Conn, 128)
	h := &spinHandler{open: func(c eddy.Conn) {
		if open != nil {
			open(c)
		}
		ch <- c
	}}
	return h, ch
}

// resetConn closes c with a RST.
func resetConn(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// The NoSpin probes below hold each waiting state on a connection of its own, all at once, and watch
// them over one quiet period per engine: a loop that spins in any of them uses the CPU the probe bounds
// (a spinning loop uses about 50 ticks in a period, ten times the bound), whichever it is. They once
// watched each state as it came, a quiet period each; each period already counted every earlier
// connection still in its state. A failure names every state held: hold them apart to find the one
// that spins. The epoll and uring engines, whose loops are measured by their own threads, run side by
// side (loopEnginesSideBySide).

// State 2: reading paused by the handler while the peer writes until flow control stops it, then the
// peer half-closes; and a paused connection whose peer resets.
func TestNoSpinReadPaused(t *testing.T) {
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(func(c eddy.Conn) { c.SetReadPaused(true) })
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)
		dial := func() *net.TCPConn {
			c := s.dial(t)
			<-opened
			return c
		}

		dial()
		stalled, halfClosed, reset := dial(), dial(), dial()
		fillPeers(t, stalled, halfClosed, reset)
		halfClosed.CloseWrite()
		resetConn(reset)
		fin := dial()
		fin.Write([]byte("a little"))
		fin.CloseWrite()
		time.Sleep(spinSettle)
		p.expectWaiting(t, "paused, every state at once: nothing sent; the peer's writes stalled; "+
			"the peer's writes stalled, then it half-closed; the peer's writes stalled, then it reset; "+
			"a few bytes and the peer's FIN in")
	})
}

// State 3: output far above the high water mark to a peer that reads nothing while it keeps sending,
// then half-closes, then resets.
func TestNoSpinBackPressure(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(func(c eddy.Conn) { c.Write(big) })
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		p := lockLoops(t, s.e)
		dial := func() *net.TCPConn {
			c := s.dial(t)
			c.SetReadBuffer(64 << 10)
			<-opened
			return c
		}

		dial()
		stalled, halfClosed, reset := dial(), dial(), dial()
		fillPeers(t, stalled, halfClosed, reset)
		halfClosed.CloseWrite()
		reset.CloseWrite()
		resetConn(reset)
		time.Sleep(spinSettle)
		p.expectWaiting(t, "output blocked, every state at once: the peer silent; the peer's writes stalled; "+
			"the peer's writes stalled, then it half-closed; the same, then it reset")
	})
}

// State 3, with a handler that keeps the half-closed connection open for writing (OnPeerClosed true):
// the output waits for a peer that sent its FIN and reads nothing.
func TestNoSpinBackPressureHalfClosedKept(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(func(c eddy.Conn) { c.Write(big) })
		h.peerClosed = func(eddy.Conn) bool { return true }
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)

		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		<-opened
		c.CloseWrite()
		time.Sleep(200 * time.Millisecond)
		p.expectWaiting(t, "output blocked, the peer half-closed, kept open")
	})
}

// State 4: a graceful close with output queued that the peer never reads (measured long before the
// bound on a stuck flush, 10 s by default), and a closed connection lingering for a FIN that never comes.
func TestNoSpinClosing(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(nil)
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)
		dial := func() (*net.TCPConn, eddy.Conn) {
			c := s.dial(t)
			c.SetReadBuffer(64 << 10)
			return c, <-opened
		}
		closeBlocked := func(sc eddy.Conn) { onConn(t, sc, func(c eddy.Conn) { c.Write(big); c.Close() }) }

		_, sc := dial()
		closeBlocked(sc)

		c2, sc2 := dial()
		closeBlocked(sc2)
		c2.SetWriteDeadline(time.Now().Add(time.Second))
		if n, err := c2.Write(bytes.Repeat([]byte("z"), 4<<20)); err != nil { // the close drains it
			t.Logf("the peer wrote %d bytes into the closing connection: %v", n, err)
		}

		c3, sc3 := dial()
		closeBlocked(sc3) // onConn returns once the close began
		c3.CloseWrite()

		s.dial(t)
		sc4 := <-opened
		sc4.Close()
		time.Sleep(spinSettle)
		p.expectWaiting(t, "every state at once: closing, the output blocked; the same, the peer's input drained; "+
			"the same, the peer half-closed; lingering for the peer's FIN")
	})
}

// State 5: the server shut down its sending side and the peer stays open and idle; and the peer
// half-closed first and the server keeps the connection open.
func TestNoSpinHalfClosedIdle(t *testing.T) {
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(nil)
		finSeen := peerClosedConns(t, h)
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)
		dial := func() (*net.TCPConn, eddy.Conn) {
			c := s.dial(t)
			return c, <-opened
		}
		shutServer := func(c *net.TCPConn, sc eddy.Conn) {
			sc.Execute(func(c eddy.Conn) { c.Write([]byte("bye")); c.CloseWrite() })
			readToEOF(t, c)
		}

		c, sc := dial()
		shutServer(c, sc)

		c2, sc2 := dial()
		c2.CloseWrite()
		finSeen(sc2)

		c3, sc3 := dial()
		shutServer(c3, sc3)
		c3.CloseWrite() // now both sides are shut down, the server's handler keeps it open
		finSeen(sc3)

		p.expectWaiting(t, "every state at once: the server's side shut down, the peer idle; "+
			"the peer's side shut down, the server keeps it open; both sides shut down, the connection kept open")
	})
}

// spinFile writes n bytes to a file in a temporary directory and returns its path.
func spinFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, bytes.Repeat([]byte("0123456789abcdef"), n/16), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sendFileTo queues n bytes of the file at path on sc with SendFile.
func sendFileTo(t *testing.T, sc eddy.Conn, path string, n int64) {
	t.Helper()
	errc := make(chan error, 1)
	sc.Execute(func(c eddy.Conn) {
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		errc <- c.SendFile(f, 0, n, nil)
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// State 6: SendFile to a peer that reads nothing, before and after the peer's FIN, with the peer
// still sending, and with the handler keeping the half-closed connection open.
func TestNoSpinSendFileBlocked(t *testing.T) {
	const size = 32 << 20
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		path := spinFile(t, size)
		h, opened := openedConns(nil)
		finSeen := peerClosedConns(t, h)
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		p := lockLoops(t, s.e)
		dial := func() (*net.TCPConn, eddy.Conn) {
			c := s.dial(t)
			c.SetReadBuffer(64 << 10)
			return c, <-opened
		}

		c, sc := dial() // the peer's FIN first: SendFile after it
		c.CloseWrite()
		finSeen(sc)
		sendFileTo(t, sc, path, size)

		var conns [3]*net.TCPConn
		for i := range conns {
			c, sc := dial()
			sendFileTo(t, sc, path, size)
			conns[i] = c
		}
		fillPeers(t, conns[1], conns[2])
		conns[2].CloseWrite()
		time.Sleep(spinSettle)
		p.expectWaiting(t, "every state at once: SendFile after the peer's FIN, blocked; SendFile blocked, the peer silent; "+
			"the same, the peer's writes stalled; the same, then the peer half-closed")
	})
}

// State 6: SendFile of files that may not splice or sendfile (procfs), to a peer that reads nothing:
// each on a connection of its own, watched together.
func TestNoSpinSendFileProc(t *testing.T) {
	var names []string
	for _, name := range []string{"/proc/self/maps", "/proc/version", "/sys/kernel/mm/transparent_hugepage/enabled"} {
		if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Skip("none of the files is here")
	}
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(nil)
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)
		ends := make([]chan error, len(names))
		for i, name := range names {
			s.dial(t)
			sc := <-opened
			errc := make(chan error, 2)
			sc.Execute(func(c eddy.Conn) {
				f, err := os.Open(name)
				if err != nil {
					errc <- err
					return
				}
				defer f.Close()
				errc <- c.SendFile(f, 0, 1<<20, func(_ eddy.Conn, err error) { errc <- err })
			})
			if err := <-errc; err != nil {
				t.Logf("SendFile(%s): %v", name, err)
			}
			ends[i] = errc
		}
		time.Sleep(spinSettle)
		p.expectWaiting(t, "SendFile of each at once: "+strings.Join(names, ", "))
		for i, name := range names {
			select {
			case err := <-ends[i]:
				t.Logf("the region of %s ended: %v", name, err)
			default:
				t.Logf("the region of %s is pending", name)
			}
		}
	})
}

// State 7: a dial whose SYN is never answered: the listener's accept queue is full.
func TestNoSpinDialPending(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		addr := fullListener(t)
		cl := startEngine(t, kind, &spinHandler{}, nil)
		t.Cleanup(func() { cl.Stop(context.Background()) })
		p := lockLoops(t, cl)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f := cl.Dial(ctx, "tcp://"+addr)
		time.Sleep(100 * time.Millisecond)
		if f.Resolved() {
			c, err := f.Result()
			t.Skipf("the dial ended at once (%v, %v): the accept queue was not full", c, err)
		}
		p.expectWaiting(t, "a dial waiting for its SYN-ACK")
		cancel()
	})
}

// State 8: idle connections with an idle timeout: the wheel wakes the loop for the deadlines, not
// for every tick.
func TestNoSpinIdleTimeoutWheel(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, &spinHandler{}, eddy.WithIdleTimeout(30*time.Second))
		for i := 0; i < 100; i++ {
			c := s.dial(t)
			c.Write([]byte("hi")) // a deadline per connection, moved by the input
			time.Sleep(time.Millisecond)
		}
		p := lockLoops(t, s.e)
		u := p.expectWaiting(t, "100 connections with an idle timeout")
		if u.runs > 100 {
			t.Errorf("the loops woke %d times in %v with idle timeouts 30 s away", u.runs, u.d)
		}
	})
}

// State 9: a storm of AsyncWrite and Execute, some refused for the queue's capacity, that stops.
func TestNoSpinAfterQueueStorm(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(nil)
		s := startServer(t, kind, h, eddy.WithTaskQueueCapacity(16))
		p := lockLoops(t, s.e)
		c := s.dial(t)
		sc := <-opened
		full := 0
		msg := bytes.Repeat([]byte("y"), 1<<10)
		for i := 0; i < 20000; i++ {
			if err := sc.AsyncWrite(msg, nil); errors.Is(err, eddy.ErrQueueFull) {
				full++
			}
			if err := sc.Execute(func(eddy.Conn) {}); errors.Is(err, eddy.ErrQueueFull) {
				full++
			}
		}
		t.Logf("%d refused with ErrQueueFull", full)
		time.Sleep(200 * time.Millisecond) // the peer reads nothing: the output is blocked
		p.expectWaiting(t, "after the storm, the output blocked")
		_ = c
	})
}

// fullListener returns the address of a listening socket whose accept queue is full (backlog 0, one
// connection queued and never accepted), so that the kernel drops the SYNs of the next connects.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for i := 0; i < 4; i++ { // fill the queue; the connects that do not fit stay in SYN_SENT
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// A graceful Stop that waits for a connection whose output the peer never reads, after StopAccepting;
// and, on an engine of its own watched over the same quiet period, StopAccepting alone with such a
// connection. The stop is ended after the period by the peer's reset (the stuck-flush bound, 10 s here,
// would end it later: it keeps the period far from the bound).
func TestNoSpinStopping(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		// start starts an engine not accepting, with a connection whose output is blocked (the first
		// one opened) and an idle one (which a stop closes and lets go at once). The engine is stopped
		// at cleanup, after its loops are unlocked, once the peer's reset ended the stuck flush.
		start := func() (e *eddy.Engine, blocked, idle *net.TCPConn) {
			var n atomic.Int32
			h, opened := openedConns(func(c eddy.Conn) {
				if n.Add(1) == 1 {
					c.Write(big)
				}
			})
			e = startEngine(t, kind, h, loopback, eddy.WithFlushTimeout(10*time.Second))
			var conns [2]*net.TCPConn
			t.Cleanup(func() {
				if conns[0] != nil {
					resetConn(conns[0])
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := e.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
			})
			addr := e.Addrs()[0].String()
			for i := range conns {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				conns[i] = c.(*net.TCPConn)
				<-opened
			}
			if err := e.StopAccepting(); err != nil {
				t.Fatal(err)
			}
			return e, conns[0], conns[1]
		}

		notAccepting, _, _ := start()
		p0 := lockLoops(t, notAccepting)

		e, c, c2 := start()
		p := lockLoops(t, e)
		p.tids = append(p.tids, p0.tids...)
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped <- e.Stop(ctx)
		}()
		readToEOF(t, c2) // the stop began: it closed the idle connection
		time.Sleep(spinSettle)
		p.expectWaiting(t, "both at once: not accepting, the output blocked; stopping, waiting for a stuck flush")
		select {
		case err := <-stopped:
			t.Fatalf("the stop ended (%v) before the end of the quiet period: the period did not watch it", err)
		default:
		}
		resetConn(c)
		if err := <-stopped; err != nil {
			t.Fatalf("Stop: %v", err)
		}
	})
}

// After a burst of traffic on many connections, an idle loop goes back to sleep: the receive buffers'
// trim may wake it a few times, not for ever.
func TestNoSpinIdleAfterBurst(t *testing.T) {
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, newEcho(false))
		var conns []*net.TCPConn
		for i := 0; i < 200; i++ {
			conns = append(conns, s.dial(t))
		}
		msg := bytes.Repeat([]byte("b"), 16<<10)
		for round := 0; round < 5; round++ {
			for _, c := range conns {
				c.Write(msg)
			}
			for _, c := range conns {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, len(msg))
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		p := lockLoops(t, s.e)
		var last spinUse
		for i := 0; i < 6; i++ {
			last = p.expectWaiting(t, fmt.Sprintf("idle after a burst, period %d", i))
		}
		if last.runs > 4 {
			t.Errorf("the loops still wake %d times per %v, 3 s after the burst", last.runs, last.d)
		}
	})
}

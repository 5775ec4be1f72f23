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
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// fillPeer writes to c until the kernel takes no more (a write of a chunk does not complete within
// 200 ms): the server reads nothing, and TCP flow control has stopped the peer.
func fillPeer(t *testing.T, c net.Conn) int {
	t.Helper()
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	total := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(chunk)
		total += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.SetWriteDeadline(time.Time{})
			return total
		}
		if err != nil {
			t.Fatalf("filling the server's socket: %v after %d bytes", err, total)
		}
	}
	t.Fatalf("the server kept reading: %d bytes", total)
	return 0
}

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

// State 2: reading paused by the handler while the peer writes until flow control stops it, then the
// peer half-closes; and a paused connection whose peer resets.
func TestNoSpinReadPaused(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(func(c eddy.Conn) { c.SetReadPaused(true) })
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)

		c := s.dial(t)
		<-opened
		p.expectWaiting(t, "paused, nothing sent")
		fillPeer(t, c)
		p.expectWaiting(t, "paused, the peer's writes stalled")
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "paused, the peer half-closed")

		c2 := s.dial(t)
		<-opened
		fillPeer(t, c2)
		resetConn(c2)
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "paused, the peer reset")

		c3 := s.dial(t)
		<-opened
		c3.Write([]byte("a little"))
		c3.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "paused, a few bytes and the peer's FIN in")
	})
}

// State 3: output far above the high water mark to a peer that reads nothing while it keeps sending,
// then half-closes, then resets.
func TestNoSpinBackPressure(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(func(c eddy.Conn) { c.Write(big) })
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		p := lockLoops(t, s.e)

		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		<-opened
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "output blocked, the peer silent")
		fillPeer(t, c)
		p.expectWaiting(t, "output blocked, the peer's writes stalled")
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "output blocked, the peer half-closed")
		resetConn(c)
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "output blocked, the peer reset")
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

// State 4: a graceful close with output queued that the peer never reads (measured before the 2 s bound
// on a stuck flush), and a closed connection lingering for a FIN that never comes.
func TestNoSpinClosing(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(nil)
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)

		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		sc := <-opened
		onConn(t, sc, func(c eddy.Conn) { c.Write(big); c.Close() })
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "closing, the output blocked")

		c2 := s.dial(t)
		sc2 := <-opened
		onConn(t, sc2, func(c eddy.Conn) { c.Write(big); c.Close() })
		c2.SetWriteDeadline(time.Now().Add(time.Second))
		if n, err := c2.Write(bytes.Repeat([]byte("z"), 4<<20)); err != nil { // the close drains it
			t.Logf("the peer wrote %d bytes into the closing connection: %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "closing, the output blocked, the peer's input drained")

		c3 := s.dial(t)
		sc3 := <-opened
		onConn(t, sc3, func(c eddy.Conn) { c.Write(big); c.Close() })
		time.Sleep(50 * time.Millisecond)
		c3.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "closing, the output blocked, the peer half-closed")

		c4 := s.dial(t)
		sc4 := <-opened
		sc4.Close()
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "lingering for the peer's FIN")
		_ = c4
	})
}

// State 5: the server shut down its sending side and the peer stays open and idle; and the peer
// half-closed first and the server keeps the connection open.
func TestNoSpinHalfClosedIdle(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(nil)
		h.peerClosed = func(eddy.Conn) bool { return true }
		s := startServer(t, kind, h)
		p := lockLoops(t, s.e)

		c := s.dial(t)
		sc := <-opened
		sc.Execute(func(c eddy.Conn) { c.Write([]byte("bye")); c.CloseWrite() })
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "the server's side shut down, the peer idle")

		c2 := s.dial(t)
		<-opened
		c2.CloseWrite()
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "the peer's side shut down, the server keeps it open")

		c.CloseWrite() // now both sides are shut down, the server's handler keeps it open
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "both sides shut down, the connection kept open")
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
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		path := spinFile(t, size)
		h, opened := openedConns(nil)
		h.peerClosed = func(eddy.Conn) bool { return true }
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		p := lockLoops(t, s.e)

		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		sc := <-opened
		sendFileTo(t, sc, path, size)
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "SendFile blocked, the peer silent")
		fillPeer(t, c)
		p.expectWaiting(t, "SendFile blocked, the peer's writes stalled")
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "SendFile blocked, the peer half-closed")

		c2 := s.dial(t)
		c2.SetReadBuffer(64 << 10)
		sc2 := <-opened
		c2.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		sendFileTo(t, sc2, path, size)
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "SendFile after the peer's FIN, blocked")
	})
}

// State 6: SendFile of files that may not splice or sendfile (procfs), to a peer that reads nothing.
func TestNoSpinSendFileProc(t *testing.T) {
	for _, name := range []string{"/proc/self/maps", "/proc/version", "/sys/kernel/mm/transparent_hugepage/enabled"} {
		fi, err := os.Stat(name)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
				h, opened := openedConns(nil)
				s := startServer(t, kind, h)
				p := lockLoops(t, s.e)
				c := s.dial(t)
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
				time.Sleep(100 * time.Millisecond)
				p.expectWaiting(t, "SendFile of "+name)
				select {
				case err := <-errc:
					t.Logf("the region of %s ended: %v", name, err)
				default:
					t.Logf("the region of %s is pending", name)
				}
				_ = c
			})
		})
	}
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

// A graceful Stop that waits for a connection whose output the peer never reads (the stuck-flush bound,
// set to 2 s here, ends it), after StopAccepting.
func TestNoSpinStopping(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		h, opened := openedConns(func(c eddy.Conn) { c.Write(big) })
		e := startEngine(t, kind, h, loopback, eddy.WithFlushTimeout(2*time.Second))
		addr := e.Addrs()[0].String()
		p := lockLoops(t, e)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c2, err := net.Dial("tcp", addr) // an idle one, which the stop closes and lets go at once
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		<-opened
		<-opened
		if err := e.StopAccepting(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "not accepting, the output blocked")

		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped <- e.Stop(ctx)
		}()
		time.Sleep(200 * time.Millisecond)
		p.expectWaiting(t, "stopping, waiting for a stuck flush")
		if err := <-stopped; err != nil {
			t.Fatalf("Stop: %v", err)
		}
	})
}

// After a burst of traffic on many connections, an idle loop goes back to sleep: the receive buffers'
// trim may wake it a few times, not for ever.
func TestNoSpinIdleAfterBurst(t *testing.T) {
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
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

//go:build linux

package eddy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/socket"
	"golang.org/x/sys/unix"
)

// Restarting on the port of an engine just stopped (the probe bind must not fail spuriously: the
// previous engine's listeners must be closed by the time Stop returns; its accepted connections left in
// TIME_WAIT on the server side must not count as holders).
func TestReview14RestartOnSamePortAfterStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		addr := "127.0.0.1:0"
		for i := 0; i < 20; i++ {
			h := newFRHandler(func(c eddy.Conn) { c.Write([]byte("x")); c.Close() }) // server closes first: TIME_WAIT here
			e, err := eddy.New(h, []string{"tcp://" + addr}, eddy.WithEngine(kind), eddy.WithLoops(2))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatalf("round %d: Start on %s: %v", i, addr, err)
			}
			addr = e.Addrs()[0].String()
			for j := 0; j < 4; j++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				io.ReadAll(c)
				c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := e.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
	})
}

// A graceful Close at any moment of a large write (std: before, during or after the plain write that
// closeWith cuts short with a write deadline) must deliver the whole output once, in order, and
// report OnClose(nil).
//
// Only the machine may be slow here, never wrong: the flush timeout is a minute, so that a reader the
// machine starves for seconds (CI runs every package under -race on 2 cores) is not cut as a peer that
// reads nothing, and each read is bounded on its own (a stall of 30 s with no byte is a hang), not the
// whole 1 MiB.
func TestCloseDuringLargeWriteDeliversAll(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const size = 1 << 20 // with the peer's 64 KiB receive buffer, the write is still going at the Close (3 MiB took 30 s of CI's CPU)
		const conns = 40
		msg := pattern(size, 14)
		h := newFRHandler(func(c eddy.Conn) { c.Write(msg) })
		_, addr := frStart(t, kind, h, "tcp", "", eddy.WithFlushTimeout(time.Minute))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var fails []string
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				fail := func(s string) { mu.Lock(); fails = append(fails, s); mu.Unlock() }
				c, err := net.Dial("tcp", addr)
				if err != nil {
					fail(err.Error())
					return
				}
				defer c.Close()
				c.(*net.TCPConn).SetReadBuffer(64 << 10)
				r := rand.New(rand.NewPCG(uint64(i), 3))
				done := make(chan []byte, 1)
				var readErr error // the read's end: io.EOF, or a 30 s stall
				slow := r.IntN(2) == 0
				go func() {
					var got bytes.Buffer
					buf := make([]byte, 16<<10)
					for {
						c.SetReadDeadline(time.Now().Add(30 * time.Second))
						n, err := c.Read(buf)
						got.Write(buf[:n])
						if err != nil {
							readErr = err
							break
						}
						if slow {
							time.Sleep(time.Millisecond)
						}
					}
					done <- got.Bytes()
				}()
				var sc eddy.Conn
				select {
				case sc = <-h.conns:
				case <-time.After(30 * time.Second):
					fail("no OnOpen")
					return
				}
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				sc.Execute(func(c eddy.Conn) { c.Close() })
				got := <-done
				if !bytes.Equal(got, msg) {
					k := 0
					for k < len(got) && k < len(msg) && got[k] == msg[k] {
						k++
					}
					fail("conn " + r14itoa(i) + ": got " + r14itoa(len(got)) + " bytes, first difference at " + r14itoa(k) + ", then " + readErr.Error())
				}
			}(i)
		}
		wg.Wait()
		for _, f := range fails {
			t.Error(f)
		}
		if len(fails) > 0 {
			return
		}
		// Every peer read EOF; each OnClose comes at the latest soon after (a bound, not a wait).
		for deadline := time.Now().Add(30 * time.Second); h.closed.Load() < conns && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if n := h.closed.Load(); n != conns {
			t.Errorf("OnClose ran %d times, want %d", n, conns)
		}
		h.mu.Lock()
		for _, err := range h.why {
			if err != nil {
				t.Errorf("OnClose(%v), want nil", err)
			}
		}
		h.mu.Unlock()
	})
}

func r14itoa(n int) string { return strconv.Itoa(n) }

// Handover: the old engine stops accepting (keeping its connections), a new one starts on the port at
// once. StopAccepting returns "once no loop accepts any more", so the port must be free to the probe.
func TestReview14StartAfterStopAcceptingOnSamePort(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for i := 0; i < 30; i++ {
			old := startServer(t, kind, newEcho(false))
			keep := old.dial(t) // a connection the old engine keeps serving
			keep.Write([]byte("a"))
			keep.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.ReadFull(keep, make([]byte, 1))
			if err := old.e.StopAccepting(); err != nil {
				t.Fatal(err)
			}
			h := newEcho(false)
			if _, err := startOn(t, kind, h, old.addr, eddy.WithLoops(2)); err != nil {
				t.Fatalf("round %d: start on %s after StopAccepting: %v", i, old.addr, err)
			}
			c, err := net.Dial("tcp", old.addr)
			if err != nil {
				t.Fatalf("round %d: dial new engine: %v", i, err)
			}
			c.Write([]byte("b"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatalf("round %d: echo from the new engine: %v", i, err)
			}
			c.Close()
		}
	})
}

// PeerAddrPort of a socket reset before the question: IPv4 peer on a dual-stack listener (AF_INET6
// socket, IPv4-mapped address), IPv4 listener, IPv6 listener.
func TestReview14PeerAddrPortAfterReset(t *testing.T) {
	for _, tc := range []struct{ ln, dial string }{{"[::]:0", "127.0.0.1"}, {"127.0.0.1:0", "127.0.0.1"}, {"[::1]:0", "[::1]"}} {
		t.Run(tc.ln+"<-"+tc.dial, func(t *testing.T) {
			tl, err := net.Listen("tcp", tc.ln)
			if err != nil {
				t.Skip(err)
			}
			defer tl.Close()
			port := tl.Addr().(*net.TCPAddr).Port
			c, err := net.Dial("tcp", net.JoinHostPort(strings.Trim(tc.dial, "[]"), strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			want := c.LocalAddr().(*net.TCPAddr).AddrPort()
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			rc, _ := tl.(*net.TCPListener).SyscallConn()
			fd := -1
			for deadline := time.Now().Add(5 * time.Second); fd < 0 && time.Now().Before(deadline); {
				rc.Control(func(lfd uintptr) { fd, _, err = unix.Accept4(int(lfd), unix.SOCK_CLOEXEC) })
				if errors.Is(err, unix.EAGAIN) {
					time.Sleep(time.Millisecond)
				}
			}
			if fd < 0 {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if _, err := unix.Getpeername(fd); !errors.Is(err, unix.ENOTCONN) {
				t.Fatalf("getpeername: %v, want ENOTCONN", err)
			}
			var a socket.Acceptor
			got, err := a.PeerAddrPort(fd)
			if err != nil || got != want {
				t.Fatalf("PeerAddrPort = %v, %v; want %v", got, err, netip.AddrPort(want))
			}
		})
	}
}

// The probe across families: a port held on one family's wildcard, asked on the other's (":P" is
// dual-stack), or on a specific address under a wildcard holder.
func TestReview14PortInUseAcrossFamilies(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, tc := range []struct{ held, want string }{
			{"0.0.0.0:0", "[::]"}, {"[::]:0", "0.0.0.0"}, {"[::]:0", "127.0.0.1"}, {"0.0.0.0:0", "127.0.0.1"}, {"127.0.0.1:0", "0.0.0.0"},
		} {
			a, err := startOn(t, kind, newEcho(false), tc.held, eddy.WithLoops(2))
			if err != nil {
				t.Fatal(err)
			}
			port := a.Addrs()[0].(*net.TCPAddr).Port
			addr := net.JoinHostPort(strings.Trim(tc.want, "[]"), strconv.Itoa(port))
			if tc.want == "[::]" {
				addr = ":" + strconv.Itoa(port)
			}
			_, err = startOn(t, kind, newEcho(false), addr, eddy.WithLoops(2))
			if err == nil {
				t.Errorf("held %s (port %d), started on %s", tc.held, port, addr)
			}
		}
	})
}

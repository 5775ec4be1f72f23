package eddy_test

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// sendOOB sends b on c with MSG_OOB: its last byte is TCP urgent data, which the server never reads
// with MSG_OOB, so the socket reports POLLPRI until it closes, and reads stop short at the mark.
func sendOOB(t *testing.T, c *net.TCPConn, b []byte) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, unix.MSG_OOB, nil)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
}

// A peer that sends TCP urgent data (MSG_OOB), which no engine reads as such: the server's socket has
// POLLPRI pending for as long as it lives, and its reads stop short at the urgent mark. The loop must
// still wait, idle, whatever the state of the connection: open, paused, sending to a full socket. Each
// state is held by a connection of its own, all watched over one quiet period (idlecpu_states_linux_test.go).
func TestNoSpinUrgentData(t *testing.T) {
	big := make([]byte, 32<<20)
	loopEnginesSideBySide(t, func(t *testing.T, kind eddy.EngineKind) {
		got := make(chan int, 1024)
		h, opened := openedConns(nil)
		h.data = func(c eddy.Conn) {
			n, _ := c.Discard(-1)
			got <- n
		}
		h.peerClosed = func(eddy.Conn) bool { return true }
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		p := lockLoops(t, s.e)

		c := s.dial(t)
		<-opened
		c.Write([]byte("before"))
		sendOOB(t, c, []byte("!"))
		c.Write([]byte("after"))

		var blocked [2]*net.TCPConn
		var sblocked [2]eddy.Conn
		for i := range blocked {
			blocked[i] = s.dial(t)
			blocked[i].SetReadBuffer(64 << 10)
			sblocked[i] = <-opened
			sendOOB(t, blocked[i], []byte("x!"))
		}
		time.Sleep(50 * time.Millisecond) // the urgent data in before the output
		for _, sc := range sblocked {
			onConn(t, sc, func(c eddy.Conn) { c.Write(big) })
		}
		blocked[1].CloseWrite()

		c3 := s.dial(t)
		sc3 := <-opened
		onConn(t, sc3, func(c eddy.Conn) { c.SetReadPaused(true) })
		sendOOB(t, c3, []byte("y!"))
		time.Sleep(spinSettle)
		p.expectWaiting(t, "urgent data pending, every state at once: open; output blocked; "+
			"output blocked, the peer half-closed; paused")

		n := 0
		for len(got) > 0 {
			n += <-got
		}
		t.Logf("OnData took %d bytes", n)
	})
}

// Not a spin, a stall found on the way: bytes that follow TCP urgent data already in the socket wait,
// on epoll, for the peer's next bytes. Reads stop short at the urgent mark, and the epoll engine takes a
// short read for a drained socket (epConn.read: n < len(readBuf) returns to wait for an edge), but the
// bytes after the mark came in with the rest, and no edge will come for them. uring and std deliver them.
func TestUrgentDataDoesNotHoldBackTheBytesAfterIt(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		got := make(chan string, 16)
		h, opened := openedConns(func(c eddy.Conn) { c.SetReadPaused(true) })
		h.data = func(c eddy.Conn) {
			b, _ := c.Next(-1)
			got <- string(b)
		}
		s := startServer(t, kind, h)
		c := s.dial(t)
		sc := <-opened
		c.Write([]byte("before"))
		sendOOB(t, c, []byte("!"))
		c.Write([]byte("after"))
		time.Sleep(50 * time.Millisecond) // all of it is in the server's socket before the first read
		onConn(t, sc, func(c eddy.Conn) { c.SetReadPaused(false) })
		var all string
		for deadline := time.After(30 * time.Second); all != "beforeafter"; {
			select {
			case b := <-got:
				all += b
			case <-deadline:
				t.Fatalf("OnData got %q in 30 s; want %q (the urgent byte is not inline)", all, "beforeafter")
			}
		}
	})
}

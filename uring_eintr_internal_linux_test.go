package eddy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy/internal/uring"
	"golang.org/x/sys/unix"
)

// connsOpened is a handler that hands each connection it opens to the test and reports each close.
type connsOpened struct {
	BaseHandler
	opened chan Conn
	closed chan error
}

func (h *connsOpened) OnOpen(c Conn)             { h.opened <- c }
func (h *connsOpened) OnClose(_ Conn, err error) { h.closed <- err }

// A send that ends with EINTR sent nothing and is no failure: the kernel hands a send on a full socket
// to an io-wq worker in some states (the peer's FIN is in, for one), and a signal to the process
// interrupts it, as a SIGSTOP and SIGCONT do (Ctrl-Z and fg, a debugger's attach). The uring engine
// closed the connection with "send: interrupted system call" (found by stopping the process of
// http1's TestNativePipelineHeldThenHalfClosed repeatedly: 7 failures in 20 runs). The CQE is made
// here, on the loop, for a send that was never submitted: what matters is what the loop does with it.
func TestUringSendInterruptedIsSentAgain(t *testing.T) {
	requireUring(t)
	h := &connsOpened{opened: make(chan Conn, 1), closed: make(chan error, 1)}
	l, c, client := uringOneConn(t, h, h)

	first, second := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000)
	onLoop(t, l, func() {
		if _, err := c.Write(first); err != nil {
			t.Errorf("Write: %v", err)
		}
		if c.sending {
			t.Error("a send is in flight already: the made-up CQE would not be the only one")
			return
		}
		c.sending = true // as the send's submission leaves it
		c.onSend(&uring.CQE{Res: -int32(unix.EINTR), UserData: urToken(urOpSend, c.slot, c.gen)})
	})
	got := make([]byte, len(first))
	if n, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("the peer read %d bytes (%v) of the output whose send was interrupted", n, err)
	}
	// The connection goes on.
	onLoop(t, l, func() { c.Write(second) })
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("after the interrupted send, the next output: %v", err)
	}
	select {
	case err := <-h.closed:
		t.Fatalf("OnClose(%v) after an interrupted send", err)
	default:
	}
	if l.stats.sendPolls == 0 {
		t.Error("the interrupted send did not wait for room and go again")
	}
}

// uringOneConn starts a uring engine with handler h (whose opens and closes o reports), dials it and
// returns its loop, the server side of the connection and the client, closed at the end of the test.
func uringOneConn(t *testing.T, h Handler, o *connsOpened) (*urLoop, *urConn, net.Conn) {
	t.Helper()
	e, addr := startUring(t, h)
	client, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(10 * time.Second))
	return e.impl.(*uringEngine).loops[0], (<-o.opened).(*urConn), client
}

// echoOpened is connsOpened that echoes what it reads.
type echoOpened struct{ connsOpened }

func (h *echoOpened) OnData(c Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// A multishot recv that ends with EINTR (a signal ended its wait, as for a send: see
// TestUringSendInterruptedIsSentAgain) lost nothing: it is armed again, and the connection goes on. The
// recv's real end is made first (reading paused, which cancels it), so that the made-up CQE does not
// leave two recvs armed on the socket.
func TestUringRecvInterruptedIsArmedAgain(t *testing.T) {
	requireUring(t)
	h := &echoOpened{connsOpened{opened: make(chan Conn, 1), closed: make(chan error, 1)}}
	l, c, client := uringOneConn(t, h, &h.connsOpened)

	echo := func(msg string) {
		t.Helper()
		if _, err := client.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(client, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
	echo("before")
	onLoop(t, l, func() { c.SetReadPaused(true) })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var armed bool
		onLoop(t, l, func() { armed = c.recvInFlight() })
		if !armed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the paused connection's recv did not end")
		}
	}
	var rearms int
	onLoop(t, l, func() {
		rearms = l.stats.recvRearm
		c.recv |= urRecvArmed // as the recv's submission leaves it
		c.onRecv(&uring.CQE{Res: -int32(unix.EINTR), UserData: urToken(urOpRecv, c.slot, c.gen)})
		c.SetReadPaused(false)
	})
	echo("after")
	select {
	case err := <-h.closed:
		t.Fatalf("OnClose(%v) after an interrupted recv", err)
	default:
	}
	onLoop(t, l, func() {
		if l.stats.recvRearm == rearms {
			t.Error("the interrupted recv was not counted as one to arm again")
		}
	})
}

package eddy

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy/internal/uring"
	"golang.org/x/sys/unix"
)

// Session 32: the deferred recv arming (armRecv lists, armRecvs arms just before the submission).

// rvEcho writes msg on client and reads it back.
func rvEcho(t *testing.T, client net.Conn, msg string) {
	t.Helper()
	if _, err := client.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, got, err)
	}
}

// rvPausedIdle pauses c and waits until its recv has ended (the cancel's final CQE reaped).
func rvPausedIdle(t *testing.T, l *urLoop, c *urConn) {
	t.Helper()
	onLoop(t, l, func() { c.SetReadPaused(true) })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var armed bool
		onLoop(t, l, func() { armed = c.recv != 0 })
		if !armed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the paused connection's recv did not end")
		}
	}
}

// A recv's final CQE (no F_MORE) on a connection that still reads asks for a new recv, which the
// submission of the same iteration arms: ENOBUFS, ECANCELED and EINTR each lose nothing. The CQE is made
// up on the loop for a recv whose real end was reaped first (a pause), and reading is made wanted again
// without a restart (which would ask for the recv itself): only the CQE can ask for it.
func TestUringArmRecvFinalCQEAsksForRecv(t *testing.T) {
	requireUring(t)
	for _, errno := range []unix.Errno{unix.ENOBUFS, unix.ECANCELED, unix.EINTR} {
		t.Run(errno.Error(), func(t *testing.T) {
			h := &echoOpened{connsOpened{opened: make(chan Conn, 1), closed: make(chan error, 1)}}
			l, c, client := uringOneConn(t, h, &h.connsOpened)
			rvEcho(t, client, "before")
			rvPausedIdle(t, l, c)
			onLoop(t, l, func() {
				c.readPaused &^= pausedHeld // reading wanted again, no recv asked for
				c.recv |= urRecvArmed       // as the recv's submission leaves it
				c.onRecv(&uring.CQE{Res: -int32(errno), UserData: urToken(urOpRecv, c.slot, c.gen)})
				if c.recv != urRecvWanted {
					t.Errorf("after the recv's final CQE (%v): recv state %03b, want only asked for (%03b)", errno, c.recv, urRecvWanted)
				}
			})
			onLoop(t, l, func() {
				if !c.recvInFlight() || c.recv&urRecvWanted != 0 {
					t.Errorf("an iteration later: recv state %03b, want armed", c.recv)
				}
			})
			rvEcho(t, client, "after")
			select {
			case err := <-h.closed:
				t.Fatalf("OnClose(%v)", err)
			default:
			}
		})
	}
}

// A connection whose recv was asked for (on l.recvWant) and that is released and finalized in the same
// iteration gets no recv: its descriptor is closed and its slot free before armRecvs runs. The next
// connection takes the slot (a new generation) and has exactly its own recv.
func TestUringArmReleasedWhileWantedGetsNoRecv(t *testing.T) {
	requireUring(t)
	h := &echoOpened{connsOpened{opened: make(chan Conn, 2), closed: make(chan error, 2)}}
	e, addr := startUring(t, h)
	l := e.impl.(*uringEngine).loops[0]
	dial := func() (net.Conn, *urConn) {
		client, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		client.SetDeadline(time.Now().Add(10 * time.Second))
		return client, (<-h.opened).(*urConn)
	}
	client, c := dial()
	rvEcho(t, client, "first")
	rvPausedIdle(t, l, c)
	slot, gen := c.slot, c.gen
	onLoop(t, l, func() {
		c.SetReadPaused(false) // asks for the recv
		if c.recv != urRecvWanted || len(l.recvWant) == 0 {
			t.Errorf("after the restart: recv state %03b, %d on the list; want asked for", c.recv, len(l.recvWant))
		}
		c.abort(c, errors.New("test: released while its recv is asked for"))
		if c.fd >= 0 || l.conns[slot] != nil {
			t.Errorf("released with nothing in flight, not finalized: fd %d", c.fd)
		}
	})
	if err := <-h.closed; err == nil {
		t.Error("OnClose(nil) after an abort")
	}
	onLoop(t, l, func() {
		if c.recv&urRecvArmed != 0 {
			t.Errorf("a recv was armed on the released connection (state %03b)", c.recv)
		}
		if len(l.recvWant) != 0 {
			t.Errorf("%d connections left on recvWant after the submission", len(l.recvWant))
		}
	})
	if _, err := io.ReadFull(client, make([]byte, 1)); err == nil {
		t.Error("the aborted connection's peer read a byte")
	}
	client2, c2 := dial()
	if c2.slot != slot || c2.gen == gen {
		t.Logf("the new connection took slot %d gen %d (old: %d gen %d)", c2.slot, c2.gen, slot, gen)
	}
	rvEcho(t, client2, "second")
	onLoop(t, l, func() {
		if c2.recv != urRecvArmed {
			t.Errorf("new connection's recv state %03b, want armed only", c2.recv)
		}
		if c.recv != 0 {
			t.Errorf("old connection's recv state %03b, want 0", c.recv)
		}
	})
}

// A connection paused by its handler and then closed lingers for the peer's FIN with a recv armed
// (drainInput asks for it, armRecvs arms it): without one it would wait out lingerTimeout.
func TestUringArmLingerAfterPauseHasRecv(t *testing.T) {
	requireUring(t)
	h := &echoOpened{connsOpened{opened: make(chan Conn, 1), closed: make(chan error, 1)}}
	l, c, client := uringOneConn(t, h, &h.connsOpened)
	rvEcho(t, client, "x")
	rvPausedIdle(t, l, c)
	onLoop(t, l, func() { c.Close() })
	if err := <-h.closed; err != nil {
		t.Fatalf("OnClose(%v)", err)
	}
	// The client has not closed: the server lingers.
	var state uint8
	var recv uint8
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		onLoop(t, l, func() { state, recv = c.state, c.recv })
		if state == connLinger && recv&urRecvWanted == 0 || state == connReleased {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %d recv %03b", state, recv)
		}
	}
	if state != connLinger || recv&urRecvArmed == 0 {
		t.Fatalf("closed while paused: state %d (linger %d), recv state %03b; want lingering with a recv armed", state, connLinger, recv)
	}
	if _, err := io.ReadFull(client, make([]byte, 1)); err != io.EOF {
		t.Fatalf("the client read %v, want EOF", err)
	}
}

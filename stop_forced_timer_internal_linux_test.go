//go:build linux

package eddy

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// A forced stop requested while a loop is in an iteration (Stop's context ends on its own goroutine,
// at any moment) must not let the timers of that iteration act as if the forced pass had run: a
// closing uring connection whose send is in flight is left to that send (stopAfterSend), which for an
// idle connection's goodbye puts it all out, and the peer reads it, then EOF. connTimer looked at the
// request (stopRq) instead of the pass: a closing connection whose timer came due in that iteration
// was reset at once, its goodbye taken for output dropped. The test makes the request in a task of
// the iteration whose timers run the connection's, as Stop's goroutine may.
func TestForcedStopRequestMidIterationKeepsSendDecision(t *testing.T) {
	requireUring(t)
	conns := make(chan Conn, 1)
	h := &funcH{open: func(c Conn) { conns <- c }}
	e, addr := startUring(t, h)
	pc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var uc *urConn
	select {
	case c := <-conns:
		uc = c.(*urConn)
	case <-time.After(10 * time.Second):
		t.Fatal("no OnOpen")
	}
	const goodbye = "goodbye, sent as the stop is forced"
	l := uc.l
	onLoop(t, l, func() {
		uc.Write([]byte(goodbye))
		uc.beginClose(uc, ErrEngineStopped)          // the graceful part of a stop: its send goes out in this iteration's flush
		l.wheel.Schedule(&uc.clock(uc).timer, l.now) // the connection's timer is due in this iteration
		l.stopRq.Store(stopForce)                    // Stop's context ends now, on another goroutine
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- e.Stop(ctx) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop did not return")
	}
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(pc)
	if errors.Is(err, syscall.ECONNRESET) || err != nil || string(b) != goodbye {
		t.Fatalf("the peer read %q, then %v; want the goodbye, then EOF", b, err)
	}
}

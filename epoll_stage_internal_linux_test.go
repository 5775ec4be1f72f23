package eddy

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// The epoll loop flushes once the replies staged in an iteration reach stageFlushAt, before it
// dispatches the next event, and not before: 16 connections whose messages arrive while the loop is held
// in a task all become ready in one iteration. With 4 KiB messages (64 KiB of replies) the loop flushes
// mid-iteration; with 64-byte ones (1 KiB) it does not. Every reply comes back whole either way.
func TestEpollFlushesEarlyOnlyWhenTheStageIsHalfFull(t *testing.T) {
	e, err := New(plainEcho{}, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineEpoll), WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	l := e.impl.(*epollEngine).loops[0]
	loop := e.Loops()[0]
	onLoop := func(fn func()) {
		t.Helper()
		done := make(chan struct{})
		loop.Execute(func() { fn(); close(done) })
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a task did not run")
		}
	}
	flushes := func() (n int) { onLoop(func() { n = l.stageFlushes }); return n }

	const nconns = 16
	conns := make([]net.Conn, nconns)
	for i := range conns {
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		conns[i] = c
	}
	// round sends a size-byte message on every connection while the loop is held, so that the loop finds
	// them all in one epoll_wait, checks the echoes, and returns how many early flushes the loop made.
	round := func(size int) int {
		t.Helper()
		before := flushes()
		held, release := make(chan struct{}), make(chan struct{})
		loop.Execute(func() { close(held); <-release })
		<-held
		released := false
		defer func() {
			if !released { // a failure below must not leave the loop held: Stop would wait for it
				close(release)
			}
		}()
		msgs := make([][]byte, nconns)
		for i, c := range conns {
			msgs[i] = make([]byte, size)
			for j := range msgs[i] {
				msgs[i][j] = byte(rand.IntN(256))
			}
			if _, err := c.Write(msgs[i]); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // loopback delivers within the write; this is slack
		close(release)
		released = true
		got := make([]byte, size)
		for i, c := range conns {
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, msgs[i]) {
				t.Fatalf("connection %d: the echo differs from the %d bytes sent", i, size)
			}
		}
		return flushes() - before
	}

	for i := 0; i < 3; i++ {
		if n := round(64); n != 0 {
			t.Fatalf("%d early flushes for %d replies of 64 bytes, want none", n, nconns)
		}
	}
	// The 16 events arrive together unless the kernel delivered some late: a few rounds make that moot.
	early := 0
	for i := 0; i < 5 && early == 0; i++ {
		early = round(4096)
	}
	if early == 0 {
		t.Fatalf("no early flush in 5 rounds of %d replies of 4 KiB (stageFlushAt %d)", nconns, stageFlushAt)
	}
}

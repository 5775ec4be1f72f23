package aio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
)

// On a kernel that honours a pipe's O_NONBLOCK in io_uring, a Read or Write meets EAGAIN and must wait
// in a POLL_ADD rather than resubmit at once (a spin). This kernel waits in the read itself, so the
// test makes the reads and writes RWF_NOWAIT (aio.SetStreamNoWait), which fails them with EAGAIN the
// same way.
func TestStreamEAGAINWaitsInPoll(t *testing.T) {
	if err := uringUnavailable(); err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	aio.SetStreamNoWait(true)
	defer aio.SetStreamNoWait(false)
	a := newIO(t, aio.Uring)
	waitPoll := func(after int) {
		t.Helper()
		for end := time.Now().Add(hang); aio.Polls(a) == after; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("no EAGAIN led to a poll")
			}
		}
	}

	// A Read of an empty pipe: EAGAIN, a poll, then the data.
	f, w := pipeFile(t, a, true)
	buf := make([]byte, 16)
	rd := f.Read(context.Background(), buf)
	waitPoll(0)
	w.Write([]byte("late"))
	if n, err := await(t, rd); n != 4 || err != nil || string(buf[:4]) != "late" {
		t.Fatalf("Read = %d, %v (%q), want 4, nil (late)", n, err, buf[:n])
	}

	// A Write to a full pipe: the part that fits, EAGAIN, a poll, the rest once a reader drains it.
	before := aio.Polls(a)
	g, r := pipeFile(t, a, false)
	data := bytes.Repeat([]byte("x"), 1<<20)
	wr := g.Write(context.Background(), data)
	waitPoll(before)
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, r)
		got <- int(n)
	}()
	if n, err := await(t, wr); n != len(data) || err != nil {
		t.Fatalf("Write = %d, %v, want %d, nil", n, err, len(data))
	}
	g.Close()
	if n := <-got; n != len(data) {
		t.Fatalf("the reader got %d bytes, want %d", n, len(data))
	}

	// A Read waiting in its poll stops when cancelled.
	before = aio.Polls(a)
	ctx, cancel := context.WithCancel(context.Background())
	rd = f.Read(ctx, buf)
	waitPoll(before)
	cancel()
	if n, err := await(t, rd); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Read = %d, %v, want 0, context.Canceled", n, err)
	}
}

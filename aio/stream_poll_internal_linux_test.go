package aio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// On a kernel that honours a pipe's O_NONBLOCK in io_uring, a Read or Write meets EAGAIN and must wait
// in a POLL_ADD rather than resubmit at once (a spin). This kernel waits in the read itself, so
// streamNoWait makes the reads and writes RWF_NOWAIT, which fails them with EAGAIN the same way.
func TestStreamEAGAINWaitsInPoll(t *testing.T) {
	streamNoWait = true
	defer func() { streamNoWait = false }()
	a, err := New(WithBackend(Uring))
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	defer a.Close()
	be := a.be.(*uringBackend)
	polls := func() int {
		be.mu.Lock()
		defer be.mu.Unlock()
		return be.polls
	}
	pipe := func(readEnd bool) (*File, *os.File) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		mine, other := pr, pw
		if !readEnd {
			mine, other = pw, pr
		}
		f, err := a.NewFile(mine)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close(); other.Close() })
		return f, other
	}
	waitPoll := func(after int) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); polls() == after; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("no EAGAIN led to a poll")
			}
		}
	}
	wait := func(fut interface{ Done() <-chan struct{} }, what string) {
		t.Helper()
		select {
		case <-fut.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not complete", what)
		}
	}

	// A Read of an empty pipe: EAGAIN, a poll, then the data.
	f, w := pipe(true)
	buf := make([]byte, 16)
	rd := f.Read(context.Background(), buf)
	waitPoll(0)
	w.Write([]byte("late"))
	wait(rd, "the Read")
	if n, err := rd.Result(); n != 4 || err != nil || string(buf[:4]) != "late" {
		t.Fatalf("Read = %d, %v (%q), want 4, nil (late)", n, err, buf[:n])
	}

	// A Write to a full pipe: the part that fits, EAGAIN, a poll, the rest once a reader drains it.
	before := polls()
	g, r := pipe(false)
	data := bytes.Repeat([]byte("x"), 1<<20)
	wr := g.Write(context.Background(), data)
	waitPoll(before)
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, r)
		got <- int(n)
	}()
	wait(wr, "the Write")
	if n, err := wr.Result(); n != len(data) || err != nil {
		t.Fatalf("Write = %d, %v, want %d, nil", n, err, len(data))
	}
	g.Close()
	if n := <-got; n != len(data) {
		t.Fatalf("the reader got %d bytes, want %d", n, len(data))
	}

	// A Read waiting in its poll stops when cancelled.
	before = polls()
	ctx, cancel := context.WithCancel(context.Background())
	rd = f.Read(ctx, buf)
	waitPoll(before)
	cancel()
	wait(rd, "the cancelled Read")
	if n, err := rd.Result(); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Read = %d, %v, want 0, context.Canceled", n, err)
	}
}

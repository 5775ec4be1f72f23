//go:build unix

package aio_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// Under -race, bytes through a pipe order what the goroutines at its two ends do, as package os's
// reads and writes tell the race detector (syscall.Read and Write): a goroutine that sets a variable
// and then writes to the pipe, and one that reads the bytes with aio and then the variable, have no
// race, and the other way round. On io_uring, whose reads and writes tell it nothing, both were
// reported as races.
func TestPipeHappensBefore(t *testing.T) {
	if !raceEnabled {
		t.Skip("what this checks is seen by the race detector only")
	}
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ar, err := a.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		defer ar.Close()
		var before int
		go func() {
			before = 7
			w.Write([]byte("x"))
		}()
		if n, err := await(t, ar.Read(context.Background(), make([]byte, 1))); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if before != 7 {
			t.Errorf("read %d after the byte, want 7", before)
		}

		r2, w2, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		aw, err := a.NewFile(w2)
		if err != nil {
			t.Fatal(err)
		}
		defer aw.Close()
		got := make(chan int, 1)
		go func() {
			if _, err := io.ReadFull(r2, make([]byte, 1)); err != nil {
				got <- -1
				return
			}
			got <- before
		}()
		before = 8
		if n, err := await(t, aw.Write(context.Background(), []byte("y"))); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if g := <-got; g != 8 {
			t.Errorf("the reader read %d after the byte, want 8", g)
		}
	})
}

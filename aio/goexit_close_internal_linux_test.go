package aio

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// osfClosed reports whether the File's *os.File has been closed (its descriptor released).
func osfClosed(f *File) bool {
	rc, err := f.osf.SyscallConn()
	if err != nil {
		return true
	}
	return rc.Control(func(uintptr) {}) != nil
}

// TestGoexitInCloseStillClosesTheFile: File.Close and IO.Close complete the futures of the
// operations they stop in line on their own goroutine, where an Inline continuation may end that
// goroutine (runtime.Goexit, as t.FailNow does; TestGoexitInABatchOfCompletions checks that the other
// futures still complete). The Close must still happen: the descriptor was left open for as long as the
// File was reachable (IO.Close's own File.Close of it found it closing and returned), and on the pool a
// Read waiting on a pipe of the file was never interrupted (cancelFile published the stopped
// operations before it interrupted the running ones). The operations are kept in line by faking a busy
// worker (pool) or a full ring (io_uring), as TestGoexitInABatchOfCompletions does.
func TestGoexitInCloseStillClosesTheFile(t *testing.T) {
	for _, s := range heldSetups() {
		for _, closer := range []string{"IO.Close", "File.Close"} {
			t.Run(s.name+"/"+closer, func(t *testing.T) {
				a, busy, idle := s.open(t)
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pw.Close()
				f, err := a.NewFile(pr)
				if err != nil {
					pr.Close()
					t.Fatal(err)
				}
				// A Read that waits for the pipe (not in line on either backend), and a Sync that
				// waits in line behind the busy worker or the full ring.
				read := f.Read(context.Background(), make([]byte, 8))
				busy()
				sync := f.Sync(context.Background())
				if read.Resolved() || sync.Resolved() {
					idle()
					t.Fatal("the operations did not wait")
				}
				ran := make(chan struct{})
				future.Handle(sync, future.Inline, func(struct{}, error) (struct{}, error) {
					close(ran)
					runtime.Goexit()
					return struct{}{}, nil
				})
				go func() {
					if closer == "IO.Close" {
						a.Close()
					} else {
						f.Close()
					}
				}()
				select {
				case <-ran:
				case <-time.After(10 * time.Second):
					idle()
					t.Fatal("the Sync's continuation did not run")
				}
				select {
				case <-read.Done():
				case <-time.After(10 * time.Second):
					idle()
					t.Fatalf("%s: the Read waiting on the pipe was not stopped after a continuation of the "+
						"Close ended its goroutine (runtime.Goexit)", closer)
				}
				idle()
				deadline := time.Now().Add(10 * time.Second)
				for !osfClosed(f) {
					if time.Now().After(deadline) {
						a.Close() // the IO's own Close of its files
						if osfClosed(f) {
							t.Fatalf("%s: the descriptor was left open after a continuation of the Close "+
								"ended its goroutine, until the IO was closed", closer)
						}
						t.Fatalf("%s: the descriptor was left open after a continuation of the Close ended "+
							"its goroutine, even after IO.Close", closer)
					}
					time.Sleep(time.Millisecond)
				}
				if _, err := read.Result(); err == nil {
					t.Errorf("the Read stopped by %s succeeded", closer)
				}
			})
		}
	}
}

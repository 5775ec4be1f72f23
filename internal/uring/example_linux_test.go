package uring_test

import (
	"fmt"
	"log"
	"runtime"
	"time"

	"github.com/eddyio/eddy/internal/uring"
)

// The examples have no Output line: they need a kernel that allows io_uring, and machines without one
// must still pass the tests. TestNopRoundTrip and TestRecvMultishotIntoBufRing run the same steps.

// A loop iteration: prepare SQEs, submit and wait in one system call, reap the completions in a batch.
func Example() {
	runtime.LockOSThread() // SINGLE_ISSUER binds the ring to this thread
	defer runtime.UnlockOSThread()

	ring, err := uring.New(256)
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	fmt.Println("flags:", ring.SetupFlags())

	sqe := ring.GetSQE() // nil would mean the SQ is full: submit, then retry
	sqe.PrepNop()
	sqe.UserData = 42 // a token of the caller's choosing, never a Go pointer

	if _, err := ring.SubmitAndWait(1, 10*time.Millisecond); err != nil {
		log.Fatal(err)
	}
	var cqes [64]uring.CQE
	n := ring.Reap(cqes[:])
	for _, c := range cqes[:n] {
		fmt.Println("completed", c.UserData, c.Res)
	}
}

// Deciding at start-up between the io_uring engine and the epoll fallback.
func ExampleAvailable() {
	if err := uring.Available(); err != nil {
		log.Printf("eddy: using epoll: %v", err) // the error says why, e.g. a seccomp profile
		return
	}
	log.Print("eddy: using io_uring")
}

// Receiving with a multishot recv into a provided-buffer ring. fd is a connected socket.
func ExampleRing_NewBufRing() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ring, err := uring.New(256)
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	bufs, err := ring.NewBufRing(1, 64, 4096) // group 1: 64 buffers of 4 KiB, mmap'd
	if err != nil {
		log.Fatal(err)
	}
	defer bufs.Close() // runs before ring.Close: nothing is armed any more by then
	fd := -1           // a connected socket in real code

	sqe := ring.GetSQE()
	sqe.PrepRecvMultishot(fd, bufs.Group(), 0)
	sqe.UserData = 7
	ring.SubmitAndWait(1, time.Second)
	var cqes [64]uring.CQE
	for _, c := range cqes[:ring.Reap(cqes[:])] {
		if id, ok := c.Buffer(); ok {
			fmt.Printf("%q\n", bufs.Buffer(id)[:c.Res]) // valid until Recycle
			bufs.Add(id)
		}
		if !c.More() { // ended: end of file (Res 0), an error, or -ENOBUFS (re-arm)
			fmt.Println("recv ended:", c.Res, c.Err())
		}
	}
	bufs.Advance() // give the batch back in one step
}

//go:build linux

// Command uringecho is bench/c/uring_echo.c written in Go on eddy's io_uring bindings: the same ring
// set-up, multishot accept, multishot recv into a provided-buffer ring and send from the buffer the
// kernel filled, in one locked goroutine with no engine around it. It is a measurement tool: beside the C
// server and eddy's uring engine in scripts/ab-echo.sh (kind gou), it tells what the Go runtime costs
// from what eddy's engine code costs (docs/benchmarks.md). Like the C server, it closes a connection on a
// short send and serves only one-message-in-flight echo correctly.
//
//	go run ./internal/cmd/uringecho -port 9000 [-held 200us]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

const (
	nbuf   = 4096 // provided buffers
	bufSz  = 2048 // bytes each
	group  = 0
	opAcc  = 1
	opRecv = 2
	opSend = 3
)

// token packs the operation, the buffer id of a send and the descriptor into user_data.
func token(op, bid, fd int) uint64 { return uint64(op)<<56 | uint64(bid)<<32 | uint64(uint32(fd)) }

func main() {
	port := flag.Int("port", 9000, "TCP port on 127.0.0.1")
	held := flag.Duration("held", 0, "hold the P through this much of each wait (uring.Ring.SetHeldWait)")
	flag.Parse()
	if err := run(*port, *held); err != nil {
		fmt.Fprintln(os.Stderr, "uringecho:", err)
		os.Exit(1)
	}
}

func run(port int, held time.Duration) error {
	runtime.LockOSThread() // SINGLE_ISSUER: every ring call from this thread
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fmt.Errorf("bind 127.0.0.1:%d: %w", port, err)
	}
	if err := unix.Listen(ln, 4096); err != nil {
		return err
	}
	r, err := uring.New(4096, uring.WithCQSize(65536))
	if err != nil {
		return err
	}
	r.RegisterRingFD()
	r.SetHeldWait(held)
	br, err := r.NewBufRing(group, nbuf, bufSz)
	if err != nil {
		return err
	}
	for i := range nbuf {
		br.Add(uint16(i))
	}
	br.Advance()
	sqe := func() *uring.SQE {
		s := r.GetSQE()
		if s == nil {
			r.Submit()
			s = r.GetSQE()
		}
		return s
	}
	armRecv := func(fd int) {
		s := sqe()
		s.PrepRecvMultishot(fd, group, 0)
		s.UserData = token(opRecv, 0, fd)
	}
	s := sqe()
	s.PrepMultishotAccept(ln, unix.SOCK_CLOEXEC)
	s.UserData = token(opAcc, 0, ln)
	fmt.Fprintf(os.Stderr, "uringecho: listening on 127.0.0.1:%d\n", port)
	cqes := make([]uring.CQE, 512)
	for {
		if _, err := r.SubmitAndWait(1, -1); err != nil {
			return err
		}
		for n := r.PeekBatch(cqes); n > 0; n = r.PeekBatch(cqes) {
			for _, c := range cqes[:n] {
				op, bid, fd := int(c.UserData>>56), int(c.UserData>>32&0xffff), int(uint32(c.UserData))
				switch op {
				case opAcc:
					if c.Res >= 0 {
						unix.SetsockoptInt(int(c.Res), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
						armRecv(int(c.Res))
					}
					if !c.More() {
						s := sqe()
						s.PrepMultishotAccept(ln, unix.SOCK_CLOEXEC)
						s.UserData = token(opAcc, 0, ln)
					}
				case opRecv:
					switch {
					case c.Res > 0:
						id, _ := c.Buffer()
						s := sqe()
						s.PrepSend(fd, br.Buffer(id)[:c.Res], unix.MSG_NOSIGNAL)
						s.UserData = token(opSend, int(id), fd)
						if !c.More() {
							armRecv(fd)
						}
					case c.Res == -int32(unix.ENOBUFS):
						armRecv(fd)
					case !c.More():
						unix.Close(fd) // end of file or error
					}
				case opSend:
					br.Add(uint16(bid))
					br.Advance()
				}
			}
			r.Advance(n)
		}
	}
}

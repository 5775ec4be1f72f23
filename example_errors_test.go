package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/eddyio/eddy"
)

// opened hands each new connection to the goroutine that waits for it.
type opened struct {
	eddy.BaseHandler
	conns chan eddy.Conn
}

func (h opened) OnOpen(c eddy.Conn) { h.conns <- c }

// Work from other goroutines (Conn.AsyncWrite, Conn.Execute) waits in a queue until the loop runs it.
// WithTaskQueueCapacity bounds that queue: past it the call returns ErrQueueFull and queues nothing,
// so a producer that outruns the loop learns of it, and may try again later. Here a slow task stands
// for a loop that has fallen behind.
func ExampleWithTaskQueueCapacity() {
	h := opened{conns: make(chan eddy.Conn, 1)}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1), eddy.WithTaskQueueCapacity(4))
	e.Start()
	defer e.Stop(context.Background())
	peer, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer peer.Close()
	c := <-h.conns

	busy, release := make(chan struct{}), make(chan struct{})
	c.Execute(func(eddy.Conn) { close(busy); <-release }) // never block a loop in earnest
	<-busy

	sent, err := "", error(nil)
	for err == nil { // fill the queue
		if err = c.AsyncWrite([]byte("x"), nil); err == nil {
			sent += "x"
		}
	}
	fmt.Println("queue full:", errors.Is(err, eddy.ErrQueueFull))

	close(release) // the loop catches up
	for errors.Is(err, eddy.ErrQueueFull) {
		time.Sleep(time.Millisecond) // back off, then try again
		err = c.AsyncWrite([]byte("y"), nil)
	}
	sent += "y"
	fmt.Println("retried:", err)

	got := make([]byte, len(sent))
	io.ReadFull(peer, got)
	fmt.Println("the peer got every accepted write, in order:", string(got) == sent)
	// Output:
	// queue full: true
	// retried: <nil>
	// the peer got every accepted write, in order: true
}

// sendPipe tries to send a pipe with SendFile.
type sendPipe struct {
	eddy.BaseHandler
	result chan error
}

func (h sendPipe) OnOpen(c eddy.Conn) {
	r, w, err := os.Pipe()
	if err != nil {
		h.result <- err
		return
	}
	defer r.Close()
	defer w.Close()
	h.result <- c.SendFile(r, 0, 64, nil)
	c.Close()
}

// ErrUnsupported is the error of what eddy cannot do: SendFile sends regular files only, and refuses
// a pipe, a socket or a device (nothing is queued, and the callback does not run); New fails with it
// when WithEngine asks for an engine this system cannot give (EngineUring where io_uring is
// disabled, or any Linux engine elsewhere).
func Example_errUnsupported() {
	h := sendPipe{result: make(chan error, 1)}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	err := <-h.result
	fmt.Println(errors.Is(err, eddy.ErrUnsupported), errors.Is(err, errors.ErrUnsupported))
	fmt.Println(err)
	// Output:
	// true true
	// eddy: SendFile: |0 is not a regular file: eddy: not supported
}

// Timeout tells a connect that ran out of time from one that failed otherwise, and makes an *OpError
// a net.Error, for code written for package net's errors.
func ExampleOpError_Timeout() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	e, _ := eddy.New(eddy.BaseHandler{}, nil, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())

	// A deadline that has passed already, which a dial cannot meet.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	_, err := e.Dial(ctx, "tcp://"+ln.Addr().String()).Await(context.Background())

	var op *eddy.OpError
	if errors.As(err, &op) {
		fmt.Println(op.Op, op.Timeout(), errors.Is(err, context.DeadlineExceeded))
	}
	var ne net.Error
	fmt.Println("net.Error timeout:", errors.As(err, &ne) && ne.Timeout())

	// A refused connect is no timeout.
	addr := ln.Addr().String()
	ln.Close()
	_, err = e.Dial(context.Background(), "tcp://"+addr).Await(context.Background())
	fmt.Println("refused:", errors.As(err, &op) && op.Timeout(), strings.Contains(err.Error(), "refused"))
	// Output:
	// dial true true
	// net.Error timeout: true
	// refused: false true
}

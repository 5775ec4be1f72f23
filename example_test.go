package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/eddyio/eddy"
)

// echoServer echoes every byte it receives.
type echoServer struct{ eddy.BaseHandler }

func (echoServer) OnData(c eddy.Conn) {
	b, _ := c.Next(-1) // valid until OnData returns
	c.Write(b)         // copied; flushed at the end of the loop iteration
}

// An echo server on an ephemeral port, stopped gracefully.
func ExampleNew() {
	e, err := eddy.New(echoServer{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	c.Write([]byte("hello"))
	buf := make([]byte, 5)
	io.ReadFull(c, buf)
	fmt.Println(string(buf))
	c.Close()
	e.Stop(context.Background())
	// Output: hello
}

// Serve runs until its context ends, then stops the engine gracefully.
func ExampleServe() {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := eddy.Serve(ctx, echoServer{}, []string{"tcp://127.0.0.1:0"})
	fmt.Println(err)
	// Output: <nil>
}

// lineHandler answers each complete line with its length, leaving a partial line buffered until the rest
// arrives: what a handler does not consume is presented again on the next OnData.
type lineHandler struct{ eddy.BaseHandler }

func (lineHandler) OnData(c eddy.Conn) {
	for {
		b, _ := c.Peek(-1)
		i := indexByte(b, '\n')
		if i < 0 {
			return // wait for the rest of the line
		}
		fmt.Fprintf(connWriter{c}, "%d\n", i)
		c.Discard(i + 1)
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// connWriter adapts Conn.Write to io.Writer.
type connWriter struct{ c eddy.Conn }

func (w connWriter) Write(b []byte) (int, error) { return w.c.Write(b) }

// Framing: Peek, then Discard what was handled.
func ExampleConn_peek() {
	e, _ := eddy.New(lineHandler{}, []string{"tcp://127.0.0.1:0"})
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	c.Write([]byte("four\nsev"))
	time.Sleep(10 * time.Millisecond)
	c.Write([]byte("en\n"))
	buf := make([]byte, 4)
	io.ReadFull(c, buf)
	fmt.Printf("%q\n", buf)
	// Output: "4\n5\n"
}

// Dial makes outbound connections on the loops; the engine needs no listen address for that.
func ExampleEngine_Dial() {
	srv, _ := eddy.New(echoServer{}, []string{"tcp://127.0.0.1:0"})
	srv.Start()
	defer srv.Stop(context.Background())

	got := make(chan string, 1)
	client, _ := eddy.New(&printer{got: got}, nil)
	client.Start()
	defer client.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "tcp://"+srv.Addrs()[0].String()).Await(ctx)
	if err != nil {
		panic(err)
	}
	c.AsyncWrite([]byte("ping"), nil)
	fmt.Println(<-got)
	// Output: ping
}

type printer struct {
	eddy.BaseHandler
	got chan string
}

func (p *printer) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	p.got <- string(b)
}

// AfterFunc runs a function on a loop later; Execute runs one there now.
func ExampleLoop() {
	e, _ := eddy.New(eddy.BaseHandler{}, nil, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	l := e.Loops()[0]
	done := make(chan string)
	l.Execute(func() { done <- "task" })
	l.AfterFunc(10*time.Millisecond, func() { done <- "timer" })
	fmt.Println(<-done, <-done)
	// Output: task timer
}

// With one accepting loop, BalanceLeastConnections hands each new connection to the loop that serves
// the fewest; Loop.Conns tells each loop's count.
func ExampleWithBalance() {
	opened := make(chan int, 2)
	e, _ := eddy.New(&openedLoop{opened}, []string{"tcp://127.0.0.1:0"},
		eddy.WithLoops(2), eddy.WithReusePort(false), eddy.WithBalance(eddy.BalanceLeastConnections))
	e.Start()
	defer e.Stop(context.Background())
	for range 2 {
		c, _ := net.Dial("tcp", e.Addrs()[0].String())
		defer c.Close()
		fmt.Println("opened on loop", <-opened)
	}
	fmt.Println(e.Loops()[0].Conns(), e.Loops()[1].Conns())
	// Output:
	// opened on loop 0
	// opened on loop 1
	// 1 1
}

// openedLoop reports the loop of each connection it opens.
type openedLoop struct{ ch chan int }

func (h *openedLoop) OnOpen(c eddy.Conn)           { h.ch <- c.Loop().Index() }
func (h *openedLoop) OnData(c eddy.Conn)           { c.Discard(-1) }
func (h *openedLoop) OnClose(c eddy.Conn, _ error) {}

// A graceful Close waits for its output to reach a peer that reads, however slowly; a peer that reads
// none of it for the flush timeout is reset, and OnClose tells why.
func ExampleWithFlushTimeout() {
	closed := make(chan error, 1)
	h := &closeAfterBlast{closed: closed}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1), eddy.WithFlushTimeout(300*time.Millisecond))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String()) // and never read
	defer c.Close()
	fmt.Println(<-closed)
	// Output: eddy: close gave up on output the peer did not read
}

// closeAfterBlast writes more than the kernel's buffers hold to each connection, then closes it.
type closeAfterBlast struct {
	eddy.BaseHandler
	closed chan error
}

func (h *closeAfterBlast) OnOpen(c eddy.Conn) {
	c.Write(make([]byte, 64<<20))
	c.Close()
}

func (h *closeAfterBlast) OnClose(_ eddy.Conn, err error) { h.closed <- err }

// Sleep is a timer in the future style: continuations given the loop as executor run on it.
func ExampleSleep() {
	e, _ := eddy.New(eddy.BaseHandler{}, nil, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	l := e.Loops()[0]
	_, err := eddy.Sleep(context.Background(), l, 5*time.Millisecond).Await(context.Background())
	fmt.Println("slept", err)
	// Output: slept <nil>
}

// slowConsumer hands each chunk of input to a goroutine that takes its time, and stops reading
// until that goroutine is done: the client is held back by TCP flow control instead of the server
// buffering what it sends.
type slowConsumer struct {
	eddy.BaseHandler
	results chan string
}

func (h slowConsumer) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	msg := string(b) // copied: the goroutine outlives the callback
	c.SetReadPaused(true)
	go func() {
		time.Sleep(10 * time.Millisecond) // the slow part
		h.results <- msg
		c.Execute(func(c eddy.Conn) { c.SetReadPaused(false) }) // back on the loop
	}()
}

func ExampleConn_setReadPaused() {
	h := slowConsumer{results: make(chan string, 1)}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	c.Write([]byte("first"))
	fmt.Println(<-h.results)
	// Output: first
}

// strictServer gives up on a client that sends a line longer than it allows: it aborts the
// connection, so that the client gets a reset instead of an orderly end, and OnClose learns why.
type strictServer struct {
	eddy.BaseHandler
	reasons chan error
}

var errLineTooLong = errors.New("line too long")

func (strictServer) OnData(c eddy.Conn) {
	if c.Buffered() > 8 {
		c.Abort(errLineTooLong)
	}
}

func (h strictServer) OnClose(_ eddy.Conn, err error) { h.reasons <- err }

func ExampleConn_abort() {
	h := strictServer{reasons: make(chan error, 1)}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	c.Write([]byte("a line far too long\n"))
	fmt.Println("OnClose:", <-h.reasons)
	_, err := c.Read(make([]byte, 1))
	fmt.Println("the client reads an end:", err == io.EOF)
	// Output:
	// OnClose: line too long
	// the client reads an end: false
}

// goodbyeServer echoes, and tells a client the engine disconnects why it does.
type goodbyeServer struct{ echoServer }

func (goodbyeServer) OnClosing(c eddy.Conn, reason error) {
	c.Write([]byte("closing: " + reason.Error() + "\n")) // sent before the FIN
}

// A ClosingHandler has the last word on the closes the engine starts by itself: here, an idle
// timeout.
func ExampleClosingHandler() {
	e, _ := eddy.New(goodbyeServer{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1),
		eddy.WithIdleTimeout(100*time.Millisecond))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	b, _ := io.ReadAll(c) // to the FIN
	fmt.Print(string(b))
	// Output: closing: eddy: idle timeout
}

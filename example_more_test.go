package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/eddyio/eddy"
)

// tickCounter counts its ticks and stops them after the third.
type tickCounter struct {
	eddy.BaseHandler
	n    int
	done chan struct{}
}

func (t *tickCounter) OnTick() time.Duration {
	t.n++
	fmt.Println("tick", t.n)
	if t.n == 3 {
		close(t.done)
		return -1 // no more ticks
	}
	return 10 * time.Millisecond // the delay before the next one
}

// A TickHandler gets a periodic callback on the engine's first loop, the first one right after Start.
func ExampleTickHandler() {
	h := &tickCounter{done: make(chan struct{})}
	e, _ := eddy.New(h, nil, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	<-h.done
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

// lifecycle reports when the engine has started and when it has stopped.
type lifecycle struct{ eddy.BaseHandler }

func (lifecycle) OnBoot(e *eddy.Engine) error {
	fmt.Println("booted on", len(e.Addrs()), "address")
	return nil // an error would make Start fail
}

func (lifecycle) OnShutdown(e *eddy.Engine) { fmt.Println("shut down") }

// OnBoot (BootHandler) runs once the listeners are open, OnShutdown (ShutdownHandler) once Stop has
// closed every connection.
func ExampleShutdownHandler() {
	e, _ := eddy.New(lifecycle{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err := e.Start(); err != nil {
		panic(err)
	}
	fmt.Println("serving")
	e.Stop(context.Background())
	// Output:
	// booted on 1 address
	// serving
	// shut down
}

// shouter collects what the peer sends until the peer shuts down its sending side, then answers
// from another goroutine, the way a handler hands slow work elsewhere.
type shouter struct{ eddy.BaseHandler }

func (shouter) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	got, _ := c.Context().(string)
	c.SetContext(got + string(b)) // copied: the slice is only valid in the callback
}

func (shouter) OnPeerClosed(c eddy.Conn) (keepWriting bool) {
	got, _ := c.Context().(string)
	go func() {
		answer := strings.ToUpper(got)
		// Close in the write's callback, on the loop, once the answer has gone out.
		c.AsyncWrite([]byte(answer), func(c eddy.Conn, err error) { c.Close() })
	}()
	return true // stay open for writing
}

// A HalfCloseHandler may still answer after the peer's FIN: here the client sends its request, shuts
// down its sending side, and reads the answer.
func ExampleHalfCloseHandler() {
	e, _ := eddy.New(shouter{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	c.Write([]byte("hello, "))
	c.Write([]byte("half-close"))
	c.(*net.TCPConn).CloseWrite() // FIN: the request is complete
	b, _ := io.ReadAll(c)
	fmt.Println(string(b))
	// Output: HELLO, HALF-CLOSE
}

// greeter says hello and shuts down its sending side at once, then listens for the peer's reply.
type greeter struct {
	eddy.BaseHandler
	got chan string
}

func (g greeter) OnOpen(c eddy.Conn) {
	c.Write([]byte("hello\n"))
	c.CloseWrite() // flushes the greeting, then sends the FIN
}

func (g greeter) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	g.got <- string(b)
}

// CloseWrite ends the output (the peer reads EOF) and keeps reading.
func ExampleConn_closeWrite() {
	h := greeter{got: make(chan string, 1)}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	b, err := io.ReadAll(c) // up to the server's FIN
	fmt.Printf("client read %q, err %v\n", b, err)
	c.Write([]byte("thanks"))
	fmt.Printf("server read %q\n", <-h.got)
	// Output:
	// client read "hello\n", err <nil>
	// server read "thanks"
}

// framer sends a length-prefixed frame: a header and a payload in one Writev, without joining them.
type framer struct{ eddy.BaseHandler }

func (framer) OnOpen(c eddy.Conn) {
	payload := []byte("payload")
	header := []byte(fmt.Sprintf("%04d", len(payload)))
	c.Writev([][]byte{header, payload})
	c.Close()
}

// Writev writes several slices in order, as Write writes one.
func ExampleConn_writev() {
	e, _ := eddy.New(framer{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	b, _ := io.ReadAll(c)
	fmt.Println(string(b))
	// Output: 0007payload
}

// flushReporter writes a reply and learns when the kernel has it.
type flushReporter struct{ eddy.BaseHandler }

func (flushReporter) OnOpen(c eddy.Conn) {
	c.Write([]byte("reply"))
	c.Flushed(func(c eddy.Conn, err error) {
		fmt.Println("flushed:", err) // on the loop, once "reply" was handed to the kernel
		c.Close()
	})
}

// Flushed runs a callback once the output written so far has reached the kernel.
func ExampleConn_flushed() {
	e, _ := eddy.New(flushReporter{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	b, _ := io.ReadAll(c)
	fmt.Println("client read:", string(b))
	// Output:
	// flushed: <nil>
	// client read: reply
}

// impatient gives each connection 50 ms to say something.
type impatient struct {
	eddy.BaseHandler
	closed chan error
}

func (h impatient) OnOpen(c eddy.Conn)             { c.SetIdleTimeout(50 * time.Millisecond) }
func (h impatient) OnClose(_ eddy.Conn, err error) { h.closed <- err }

// SetIdleTimeout sets one connection's idle timeout, overriding WithIdleTimeout's.
func ExampleConn_setIdleTimeout() {
	h := impatient{closed: make(chan error, 1)}
	e, _ := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	io.ReadAll(c) // the client says nothing and reads to the server's FIN
	fmt.Println("OnClose:", <-h.closed)
	// Output: OnClose: eddy: idle timeout
}

// StopAccepting closes the listeners and serves on the connections already open: the first half of
// a drain, before Stop.
func ExampleEngine_StopAccepting() {
	e, _ := eddy.New(echoServer{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	addr := e.Addrs()[0].String()
	c, _ := net.Dial("tcp", addr)
	defer c.Close()

	e.StopAccepting()
	_, err := net.Dial("tcp", addr)
	fmt.Println("new connection refused:", err != nil)

	c.Write([]byte("still served"))
	buf := make([]byte, 12)
	io.ReadFull(c, buf)
	fmt.Println(string(buf))
	// Output:
	// new connection refused: true
	// still served
}

// purposeful knows in OnOpen what each connection was dialled for.
type purposeful struct {
	eddy.BaseHandler
	opened chan string
}

func (h purposeful) OnOpen(c eddy.Conn) { h.opened <- fmt.Sprint("OnOpen: dialled for ", c.Context()) }

// DialWith is Dial with the connection's Context set before OnOpen.
func ExampleEngine_DialWith() {
	srv, _ := eddy.New(echoServer{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	srv.Start()
	defer srv.Stop(context.Background())

	h := purposeful{opened: make(chan string, 1)}
	client, _ := eddy.New(h, nil, eddy.WithLoops(1))
	client.Start()
	defer client.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.DialWith(ctx, "tcp://"+srv.Addrs()[0].String(), "request 42").Await(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(<-h.opened)
	fmt.Println("Context:", c.Context())
	// Output:
	// OnOpen: dialled for request 42
	// Context: request 42
}

// A failed operation is an *OpError that names the operation, the network and the address, and wraps
// the system's error (errors.Is(err, syscall.ECONNREFUSED) holds for this one on Linux).
func ExampleOpError() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	e, _ := eddy.New(eddy.BaseHandler{}, nil, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.Dial(ctx, "tcp://"+addr).Await(ctx)
	var op *eddy.OpError
	if errors.As(err, &op) {
		fmt.Println(op.Op, op.Net, op.Addr.String() == addr)
	}
	// Output: dial tcp true
}

// Options tune an engine; New checks them and names a bad one in its error.
func ExampleOption() {
	_, err := eddy.New(echoServer{}, []string{"tcp://127.0.0.1:0"},
		eddy.WithLoops(2),
		eddy.WithReadBufferSize(256<<10),               // default 64 KiB
		eddy.WithWriteBufferWaterMarks(256<<10, 1<<20), // default 1 MiB and 4 MiB
		eddy.WithTCPNoDelay(true),                      // the default
		eddy.WithTCPKeepAlive(30*time.Second),          // default off
		eddy.WithIdleTimeout(time.Minute),              // default never
		eddy.WithStopTimeout(5*time.Second),            // Serve's bound on Stop, default 10 s
		eddy.WithTaskQueueCapacity(4096),               // default 65536
		eddy.WithLogger(slog.New(slog.DiscardHandler)), // the default discards
	)
	fmt.Println(err)
	_, err = eddy.New(echoServer{}, nil, eddy.WithWriteBufferWaterMarks(4<<20, 1<<20))
	fmt.Println(err)
	// Output:
	// <nil>
	// eddy: bad option WithWriteBufferWaterMarks(4194304, 1048576): want 0 <= low < high
}

// Stop cancels a timer made by Loop.AfterFunc, and reports whether it did.
func ExampleTimer_Stop() {
	e, _ := eddy.New(eddy.BaseHandler{}, nil, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	t := e.Loops()[0].AfterFunc(time.Hour, func() { fmt.Println("never runs") })
	fmt.Println(t.Stop(), t.Stop())
	// Output: true false
}

// ParseBalance reads a Balance by the name its String method gives, as from a flag.
func ExampleParseBalance() {
	b, err := eddy.ParseBalance("least-connections")
	fmt.Println(b, err, b == eddy.BalanceLeastConnections)
	_, err = eddy.ParseBalance("random")
	fmt.Println(err)
	// Output:
	// least-connections <nil> true
	// eddy: unknown balance "random" (want round-robin or least-connections)
}

// errSlowReader is the reason a feed drops a reader that falls behind.
var errSlowReader = errors.New("slow reader")

// feed sends a large feed to each connection, and drops one that leaves more than 1 MiB of it
// waiting after 50 ms.
type feed struct {
	eddy.BaseHandler
	closed chan error
}

func (f feed) OnOpen(c eddy.Conn) {
	c.Write(make([]byte, 16<<20))
	time.AfterFunc(50*time.Millisecond, func() {
		c.Execute(func(c eddy.Conn) { // OutboundBuffered is read on the connection's loop
			if c.OutboundBuffered() > 1<<20 {
				c.Abort(errSlowReader)
			}
		})
	})
}

func (f feed) OnClose(_ eddy.Conn, err error) { f.closed <- err }

// OutboundBuffered tells what a connection holds that its peer has not taken: a server drops a peer
// that does not read with it, since back-pressure only stops reading from a peer.
func ExampleConn_outboundBuffered() {
	f := feed{closed: make(chan error, 1)}
	e, _ := eddy.New(f, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String()) // and never reads
	defer c.Close()
	fmt.Println("dropped:", <-f.closed)
	// Output:
	// dropped: slow reader
}

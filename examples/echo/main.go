// Command echo is the smallest complete eddy server: it writes back every byte it receives. Read it to
// learn the shape of an eddy program: a Handler whose callbacks the engine calls on its event loops, the
// Conn methods that read and write inside those callbacks, and eddy.Serve, which runs the engine until a
// context ends. It stops gracefully on Ctrl-C (SIGINT) or SIGTERM.
//
//	go run ./examples/echo -addr tcp://127.0.0.1:9000 -engine auto
//
// Then, in another terminal, type lines into "nc 127.0.0.1 9000" and see them come back.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/eddyio/eddy"
)

// echoServer is the handler. Embedding eddy.BaseHandler gives it do-nothing OnOpen, OnData and OnClose
// methods; it overrides the ones it needs.
//
// The engine runs several loops (one per core by default) and calls the callbacks of different
// connections on different loops at the same time, so state shared between connections, like the
// counter here, must be safe for concurrent use. State of one connection needs no lock: its callbacks
// never run concurrently (keep such state with Conn.SetContext).
type echoServer struct {
	eddy.BaseHandler
	open atomic.Int64 // connections open right now
}

// OnBoot is optional (the eddy.BootHandler interface): it runs once the listeners are open, before any
// connection is served, and is the place to learn the address the engine really bound.
func (s *echoServer) OnBoot(e *eddy.Engine) error {
	log.Printf("echo: listening on %v with the %s engine; Ctrl-C to stop", e.Addrs()[0], e.Kind())
	return nil
}

// OnOpen runs once for each accepted connection, before its first OnData.
func (s *echoServer) OnOpen(c eddy.Conn) {
	log.Printf("echo: %v connected (%d open)", c.RemoteAddr(), s.open.Add(1))
}

// OnData runs whenever new bytes have arrived on c. Like every callback it runs on the connection's
// loop, which serves many other connections too, so it must never block: no sleeping, no blocking I/O.
func (s *echoServer) OnData(c eddy.Conn) {
	// Next(-1) takes every buffered inbound byte. The slice belongs to the engine and is valid only
	// until this callback returns, which is all we need: Write copies it.
	b, _ := c.Next(-1)
	// Write queues the bytes; the loop sends everything written in this iteration with one system
	// call once the callbacks are done. It fails only on a connection that is closing, which we can
	// ignore here: there is nobody left to echo to.
	c.Write(b)
}

// OnClose runs exactly once per connection, after its last OnData. err says why it closed: io.EOF when
// the peer hung up, eddy.ErrEngineStopped when we are shutting down, nil when the handler closed it.
func (s *echoServer) OnClose(c eddy.Conn, err error) {
	log.Printf("echo: %v closed: %v (%d open)", c.RemoteAddr(), err, s.open.Add(-1))
}

func main() {
	addr := flag.String("addr", "tcp://127.0.0.1:9000", "address to listen on: tcp://host:port or unix:///path")
	engine := flag.String("engine", "auto", "engine: auto (the best the platform has), uring or epoll (Linux), or std (portable)")
	flag.Parse()
	if flag.NArg() > 0 { // a usage error, status 2, as flag's own
		fmt.Fprintf(os.Stderr, "echo: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}

	kind, err := eddy.ParseEngineKind(*engine)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := serve(*addr, kind); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	log.Print("echo: stopped")
}

// serve runs the echo server on addr until SIGINT or SIGTERM.
func serve(addr string, kind eddy.EngineKind) error {
	// ctx ends at the first SIGINT or SIGTERM. eddy.Serve then stops the engine gracefully: it stops
	// accepting, flushes what was written, closes every connection (OnClose runs for each) and returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Serve = eddy.New (check the handler, addresses and options) + Start + wait for ctx + Stop.
	// Options tune the engine; here only the engine kind is chosen, the rest keeps its defaults.
	return eddy.Serve(ctx, &echoServer{}, []string{addr}, eddy.WithEngine(kind))
}

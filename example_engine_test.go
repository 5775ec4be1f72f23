package eddy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/eddyio/eddy"
)

// quitter echoes lines and stops its engine when told to "quit". Stop waits for the loops, so it
// must not run on one: the handler starts it on a goroutine of its own.
type quitter struct {
	eddy.BaseHandler
	e *eddy.Engine // set in OnBoot
}

func (q *quitter) OnBoot(e *eddy.Engine) error { q.e = e; return nil }

func (q *quitter) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	if strings.TrimSpace(string(b)) == "quit" {
		c.Write([]byte("bye\n")) // flushed by the graceful Stop
		go q.e.Stop(context.Background())
		return
	}
	c.Write(b)
}

// Done tells a program that the engine stopped, whoever stopped it: here, a client's command.
func ExampleEngine_Done() {
	e, err := eddy.New(&quitter{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	c.Write([]byte("quit\n"))
	b, _ := io.ReadAll(c) // up to the FIN of the engine's Stop
	fmt.Printf("client read %q\n", b)

	<-e.Done()
	fmt.Println("engine stopped; Stop again:", e.Stop(context.Background()))
	// Output:
	// client read "bye\n"
	// engine stopped; Stop again: <nil>
}

// addrReporter tells each client the address the server sees it connect from.
type addrReporter struct{ eddy.BaseHandler }

func (addrReporter) OnOpen(c eddy.Conn) {
	fmt.Fprintf(connWriter{c}, "%s %s\n", c.RemoteAddr(), c.LocalAddr())
	c.Close()
}

// LocalAddr and RemoteAddr are the connection's two ends, as net.Conn's are: the server's
// RemoteAddr is the client's LocalAddr, and the other way round.
func ExampleConn_remoteAddr() {
	e, _ := eddy.New(addrReporter{}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	e.Start()
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	defer c.Close()
	b, _ := io.ReadAll(c)
	var remote, local string
	fmt.Sscan(string(b), &remote, &local)
	fmt.Println("server's RemoteAddr is the client's LocalAddr:", remote == c.LocalAddr().String())
	fmt.Println("server's LocalAddr is the client's RemoteAddr:", local == c.RemoteAddr().String())
	// Output:
	// server's RemoteAddr is the client's LocalAddr: true
	// server's LocalAddr is the client's RemoteAddr: true
}

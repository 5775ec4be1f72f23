package eddy

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// greeter writes a greeting in OnOpen and reports whether the connection took it as writable.
type greeter struct {
	BaseHandler
	writable chan bool
}

func (g greeter) OnOpen(c Conn) {
	g.writable <- c.(*epConn).writable
	c.Write([]byte("220 hello\r\n"))
}

// An accepted socket starts writable on epoll: what OnOpen writes goes out in that iteration's flush.
// Before, the connection waited for the EPOLLOUT that registering it raises, one epoll_wait later.
func TestEpollAcceptedConnectionStartsWritable(t *testing.T) {
	g := greeter{writable: make(chan bool, 1)}
	e, err := New(g, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineEpoll), WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case w := <-g.writable:
		if !w {
			t.Error("OnOpen saw an accepted connection not yet writable: its greeting waits for an EPOLLOUT")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnOpen did not run")
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("220 hello\r\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "220 hello\r\n" {
		t.Fatalf("greeting: %q, %v", got, err)
	}
}

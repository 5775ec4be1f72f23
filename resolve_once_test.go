package eddy_test

import (
	"context"
	"net"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/testdns"
)

// A host name is resolved once, by New, on every engine, as parseEndpoint's documentation says: a
// name server that has gone away by Start does not fail it. The std engine gave net.Listen the name
// again at Start, so it failed there ("no such host") where epoll and uring listened on
// the address New had found, and it could listen on another address than the one New checked.
func TestHostNameResolvedOnceByNew(t *testing.T) {
	const name = "eddy-resolve-once.test" // in no hosts file: the fake name server answers for it
	down := testdns.Loopback(t)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		down.Store(false)
		addr := "tcp4://" + name + ":0"
		e, err := eddy.New(newEcho(false), []string{addr}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatalf("New(%q) with the name server up: %v", addr, err)
		}
		down.Store(true)
		if _, err := net.ResolveTCPAddr("tcp4", name+":0"); err == nil {
			t.Fatal("the fake name server still answers")
		}
		if err := e.Start(); err != nil {
			t.Fatalf("Start of an engine New resolved %q for: %v", addr, err)
		}
		defer e.Stop(context.Background())
		a := e.Addrs()
		if len(a) != 1 || !a[0].(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("Addrs = %v; want 127.0.0.1", a)
		}
		c, err := net.Dial("tcp", a[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := echoOnce(c, "resolved once"); err != nil {
			t.Fatal(err)
		}
	})
}

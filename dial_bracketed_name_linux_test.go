package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/testdns"
)

// dualStackDNS makes the resolver answer A queries with 127.0.0.1 and AAAA queries with ::1 for any name
// outside the hosts file (testdns.DualStack), and waits, at the end of the test, for Dial's lookup
// goroutines, which outlive the futures they settle by a moment (rvWaitLookups).
func dualStackDNS(t *testing.T) {
	t.Cleanup(func() { rvWaitLookups(t) })
	testdns.DualStack(t)
}

// listenBothLoopbacks listens on 127.0.0.1 and ::1 with one port and accepts (and closes) what comes.
func listenBothLoopbacks(t *testing.T) int {
	for range 20 {
		l4, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l4.Addr().(*net.TCPAddr).Port
		l6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port))
		if err != nil {
			l4.Close()
			continue // the port is taken on ::1: another one
		}
		for _, l := range []net.Listener{l4, l6} {
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
		return port
	}
	t.Fatal("no port free on both 127.0.0.1 and ::1")
	return 0
}

// A host name in brackets on tcp ("tcp://[name]:port") is an IPv6 literal's form: package net's
// ResolveTCPAddr, and so New and net.Listen, take the name's first IPv6 address then, where the bare name
// gets its first IPv4 one. Dial, documented to connect to "the one New would listen on", must pick the
// same address for the same string, on every network (tcp, tcp4, tcp6), bracketed or not.
func TestDialBracketedNameConnectsWhereNewListens(t *testing.T) {
	dualStackDNS(t)
	port := listenBothLoopbacks(t)
	const name = "eddy-dualstack.test"
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		for _, network := range []string{"tcp", "tcp4", "tcp6"} {
			for _, hp := range []string{fmt.Sprintf("%s:%d", name, port), fmt.Sprintf("[%s]:%d", name, port)} {
				addr := network + "://" + hp
				want, err := net.ResolveTCPAddr(network, hp)
				if err != nil {
					t.Fatal(err)
				}
				// New listens on the address ResolveTCPAddr gives (port 0: one of its own).
				host := hp[:strings.LastIndex(hp, ":")]
				e, err := eddy.New(&r2Counter{}, []string{network + "://" + host + ":0"}, eddy.WithEngine(kind))
				if err != nil {
					t.Fatalf("New(%s): %v", addr, err)
				}
				if err := e.Start(); err != nil {
					t.Fatalf("Start(%s): %v", addr, err)
				}
				lip := e.Addrs()[0].(*net.TCPAddr).IP
				e.Stop(context.Background())
				if !lip.Equal(want.IP) {
					t.Errorf("%s: New listens on %v; ResolveTCPAddr gives %v", addr, lip, want.IP)
				}
				c, err := rvSettle(t, cl.Dial(context.Background(), addr), addr)
				if err != nil {
					t.Errorf("Dial(%s): %v", addr, err)
					continue
				}
				got := c.RemoteAddr().(*net.TCPAddr)
				c.Abort(nil)
				if !got.IP.Equal(want.IP) || got.Port != port {
					t.Errorf("Dial(%s) connected to %v; New (ResolveTCPAddr) takes %v", addr, got, want)
				}
			}
		}
	})
}

// A zone given with a host name ("[name%lo]:port") is no address package net resolves: ResolveTCPAddr,
// net.Listen and net.Dialer fail it alike (the name with its zone is looked up as a whole). New and
// Dial must agree: both fail, and neither connects somewhere dropping the zone.
func TestDialNameWithZoneFailsAsNewDoes(t *testing.T) {
	dualStackDNS(t)
	port := listenBothLoopbacks(t)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		for _, name := range []string{"localhost", "eddy-dualstack.test"} {
			for _, network := range []string{"tcp", "tcp6"} {
				hp := fmt.Sprintf("[%s%%lo]:%d", name, port)
				addr := network + "://" + hp
				_, rerr := net.ResolveTCPAddr(network, hp)
				_, derr := (&net.Dialer{}).Dial(network, hp)
				_, nerr := eddy.New(&r2Counter{}, []string{addr}, eddy.WithEngine(kind))
				c, err := rvSettle(t, cl.Dial(context.Background(), addr), addr)
				t.Logf("%s: ResolveTCPAddr %v; net.Dial %v; New %v; Dial %v", addr, rerr, derr, nerr, err)
				if err == nil {
					t.Errorf("Dial(%s) connected to %v; New fails (%v), as package net does (%v)", addr, c.RemoteAddr(), nerr, derr)
					c.Abort(nil)
				}
				if (rerr == nil) != (nerr == nil) {
					t.Errorf("New(%s): %v; ResolveTCPAddr: %v", addr, nerr, rerr)
				}
				var de *net.DNSError
				if err != nil && !errors.As(err, &de) {
					t.Errorf("Dial(%s): %v; want the lookup's *net.DNSError, as net.Dialer's (%v)", addr, err, derr)
				}
			}
		}
	})
}

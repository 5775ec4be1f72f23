package etls_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/internal/testtls"
)

// testPKI is httptest's certificate (for 127.0.0.1, ::1 and example.com) as configurations.
type testPKI struct {
	server *tls.Config // serves the certificate
	client *tls.Config // trusts it, ServerName "example.com"
	pool   *x509.CertPool
}

// getPKI returns fresh configurations of the test certificate.
func getPKI(t testing.TB) testPKI {
	server, client := testtls.Configs()
	client.ServerName = "example.com"
	return testPKI{server: server, client: client, pool: client.RootCAs}
}

// serve starts an engine of kind k on 127.0.0.1 with h (advStart) and returns its address.
func serve(t testing.TB, k eddy.EngineKind, h eddy.Handler, opts ...eddy.Option) string {
	t.Helper()
	_, addr := advStart(t, k, h, opts...)
	return addr
}

// tlsEchoServer runs a crypto/tls echo server on package net, a goroutine per connection reading
// into 4 KiB (what net/http's bufio.Reader holds), until the test ends; it returns its address.
func tlsEchoServer(t testing.TB, cfg *tls.Config) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialTLS connects a crypto/tls client to addr.
func dialTLS(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// echo is a wrapped handler that writes back what it reads.
type echo struct{ eddy.BaseHandler }

func (echo) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// events records what a wrapped handler saw, for assertions from the test goroutine.
type events struct {
	mu      sync.Mutex
	opened  int
	closed  []error
	states  []tls.ConnectionState
	closedC chan error
}

func newEvents() *events { return &events{closedC: make(chan error, 64)} }

func (ev *events) open(c eddy.Conn) {
	st, ok := etls.ConnectionState(c)
	ev.mu.Lock()
	ev.opened++
	if ok {
		ev.states = append(ev.states, st)
	}
	ev.mu.Unlock()
}

func (ev *events) close(err error) {
	ev.mu.Lock()
	ev.closed = append(ev.closed, err)
	ev.mu.Unlock()
	ev.closedC <- err
}

func (ev *events) waitClose(t testing.TB) error {
	t.Helper()
	select {
	case err := <-ev.closedC:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
		return nil
	}
}

func (ev *events) openCount() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.opened
}

// tlsBaseline serves one connection with crypto/tls over a plain net.Listener, for a test that holds
// etls against it, and returns its address: a handshake that fails is handed to onErr, on the
// listener's goroutine (as etls hands it to OnHandshakeError). The listener is closed and the
// goroutine waited for at the test's end.
func tlsBaseline(t *testing.T, cfg *tls.Config, onErr func(error)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc, err := ln.Accept()
		if err != nil {
			return
		}
		defer sc.Close()
		if err := tls.Server(sc, cfg).Handshake(); err != nil {
			onErr(err)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

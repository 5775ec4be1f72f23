package etls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// Cancelling the future of Handler.Dial (Future.Cancel, or a combinator that gives up on it, as
// future.WithTimeout does) stops the connect and the handshake, as it does for eddy.Engine.Dial: the
// future fails with context.Canceled and the connection is closed. Dial's future was a plain
// promise's, which Cancel does not reach: the handshake went on until ctx or HandshakeTimeout ended it,
// and one that succeeded opened a connection nobody held.
func TestDialCancelStopsTheHandshake(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		// A server that accepts and never answers the ClientHello: the handshake waits for ever.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c
			}
		}()
		p := getPKI(t)
		th := etls.Client(&collector{got: make(chan []byte, 1)}, &tls.Config{RootCAs: p.pool})
		th.HandshakeTimeout = time.Minute
		e := clientEngine(t, k, th)
		f := th.Dial(context.Background(), e, "tcp://"+ln.Addr().String(), nil)
		var sc net.Conn
		select {
		case sc = <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatal("the server accepted no connection")
		}
		defer sc.Close()
		f.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := f.Await(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial after Cancel = %v, %v; want an error wrapping context.Canceled", c, err)
		}
		// The connection is closed, not left to the server.
		sc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := sc.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the connection of the cancelled dial stays open")
				}
				break
			}
		}
	})
}

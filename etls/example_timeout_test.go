package etls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// HandshakeTimeout bounds the handshake of every connection (10 s by default): a client that
// connects and says nothing, or too slowly, is reset, and OnHandshakeError hears of it with
// ErrHandshakeTimeout.
func ExampleHandler_handshakeTimeout() {
	ts := httptest.NewTLSServer(nil) // a certificate, as in ExampleServer
	ts.Close()
	h := etls.Server(upper{}, &tls.Config{Certificates: ts.TLS.Certificates})
	h.HandshakeTimeout = 100 * time.Millisecond
	failed := make(chan error, 1)
	h.OnHandshakeError = func(c eddy.Conn, err error) { failed <- err }
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_, err = io.ReadAll(c) // and never send a ClientHello
	fmt.Println("client: the connection was reset:", err != nil)
	err = <-failed
	var he *etls.HandshakeError
	fmt.Println("OnHandshakeError:", errors.As(err, &he), errors.Is(err, etls.ErrHandshakeTimeout))
	// Output:
	// client: the connection was reset: true
	// OnHandshakeError: true true
}

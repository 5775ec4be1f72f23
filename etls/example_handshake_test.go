package etls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// OnHandshakeError hears of every failed handshake with a *HandshakeError. Here a client speaks plain
// HTTP to the TLS port, and the server answers it in plain text, as net/http does: what is written
// to the Conn of the tls.RecordHeaderError goes out before the connection is closed.
func ExampleHandshakeError() {
	ts := httptest.NewTLSServer(nil) // a certificate, as in ExampleServer
	ts.Close()
	h := etls.Server(upper{}, &tls.Config{Certificates: ts.TLS.Certificates})
	h.OnHandshakeError = func(c eddy.Conn, err error) {
		var he *etls.HandshakeError
		var rh tls.RecordHeaderError
		fmt.Println("a HandshakeError:", errors.As(err, &he))
		if errors.As(err, &rh) && rh.Conn != nil {
			io.WriteString(rh.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
	}
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
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	b, _ := io.ReadAll(c)
	fmt.Printf("%q\n", b)
	// Output:
	// a HandshakeError: true
	// "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
}

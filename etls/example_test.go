package etls_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// upper answers each message with its upper case: an ordinary eddy handler, which sees plaintext.
type upper struct{ eddy.BaseHandler }

func (upper) OnOpen(c eddy.Conn) {
	st, _ := etls.ConnectionState(c)
	fmt.Println("handshake done:", strings.TrimSpace(tls.VersionName(st.Version)+" "+st.NegotiatedProtocol))
}

func (upper) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write([]byte(strings.ToUpper(string(b))))
}

// A TLS server on the event loops: the wrapped handler is the same as for a plain server.
func ExampleServer() {
	// A certificate valid for 127.0.0.1, and a client configuration that trusts it: net/http/httptest's.
	// In a program: cert, err := tls.LoadX509KeyPair("cert.pem", "key.pem"), and the system's roots.
	ts := httptest.NewTLSServer(nil)
	ts.Close()
	serverCfg := &tls.Config{Certificates: ts.TLS.Certificates}
	clientCfg := &tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}

	serverCfg.NextProtos = []string{"upper/1"}
	e, err := eddy.New(etls.Server(upper{}, serverCfg), []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	clientCfg.NextProtos = []string{"upper/1"}
	c, err := tls.Dial("tcp", e.Addrs()[0].String(), clientCfg)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write([]byte("hello over tls"))
	buf := make([]byte, 14)
	io.ReadFull(c, buf)
	fmt.Println(string(buf))
	// Output:
	// handshake done: TLS 1.3 upper/1
	// HELLO OVER TLS
}

// printer prints what a dialled connection receives.
type printer struct {
	eddy.BaseHandler
	done chan struct{}
}

func (p printer) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	fmt.Println(string(b))
	c.Close()
	close(p.done)
}

// The client side: Dial performs the handshake and resolves with the established connection.
func ExampleHandler_Dial() {
	ts := httptest.NewTLSServer(nil) // a certificate for 127.0.0.1, and its trust, as in ExampleServer
	ts.Close()
	serverCfg := &tls.Config{Certificates: ts.TLS.Certificates}
	clientCfg := &tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}

	srv, _ := eddy.New(etls.Server(upper{}, serverCfg), []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	srv.Start()
	defer srv.Stop(context.Background())

	p := printer{done: make(chan struct{})}
	h := etls.Client(p, clientCfg) // clientCfg trusts the server's certificate
	cl, _ := eddy.New(h, nil, eddy.WithLoops(1))
	cl.Start()
	defer cl.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := h.Dial(ctx, cl, srv.Addrs()[0].String(), nil).Await(ctx)
	if err != nil {
		panic(err)
	}
	c.AsyncWrite([]byte("from the loop"), nil)
	<-p.done
	// Output:
	// handshake done: TLS 1.3
	// FROM THE LOOP
}

package etls_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// exampleConfigs returns a server configuration with a certificate for 127.0.0.1 and example.com,
// and a client configuration that trusts it: net/http/httptest's, as in ExampleServer.
func exampleConfigs() (server, client *tls.Config) {
	ts := httptest.NewTLSServer(nil)
	ts.Close()
	return &tls.Config{Certificates: ts.TLS.Certificates},
		&tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
}

// greeter greets each client by the server name it asked for and the protocol it agreed on.
type greeter struct{ eddy.BaseHandler }

func (greeter) OnOpen(c eddy.Conn) {
	st := c.(*etls.Conn).ConnectionState() // the wrapped handler of a Server gets *etls.Conn values
	fmt.Fprintf(connWriter{c}, "hello %s, over %s\n", st.ServerName, st.NegotiatedProtocol)
	c.Close()
}

// connWriter adapts Conn.Write to io.Writer.
type connWriter struct{ c eddy.Conn }

func (w connWriter) Write(b []byte) (int, error) { return w.c.Write(b) }

// ConnectionState tells what the handshake settled: the version, the protocol agreed by ALPN, the
// server name the client asked for (SNI), the peer's certificates. A client reads it too, from any
// goroutine, on the *Conn its Dial resolves with.
func ExampleConn_ConnectionState() {
	serverCfg, clientCfg := exampleConfigs()
	serverCfg.NextProtos = []string{"greet/1"}
	srv, _ := eddy.New(etls.Server(greeter{}, serverCfg), []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	srv.Start()
	defer srv.Stop(context.Background())

	got := make(chan string, 1)
	h := etls.Client(gatherer{got: got}, clientCfg)
	cl, _ := eddy.New(h, nil, eddy.WithLoops(1))
	cl.Start()
	defer cl.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := clientCfg.Clone()
	cfg.ServerName = "example.com" // a name the certificate holds
	cfg.NextProtos = []string{"greet/1"}
	c, err := h.Dial(ctx, cl, srv.Addrs()[0].String(), cfg).Await(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	st := c.ConnectionState()
	fmt.Println(tls.VersionName(st.Version), st.NegotiatedProtocol, st.PeerCertificates[0].VerifyHostname("example.com"))
	fmt.Print(<-got)
	// Output:
	// TLS 1.3 greet/1 <nil>
	// hello example.com, over greet/1
}

// gatherer gathers what a connection receives until the peer closes it.
type gatherer struct {
	eddy.BaseHandler
	got chan string
}

func (h gatherer) OnOpen(c eddy.Conn) { c.SetContext([]byte(nil)) }

func (h gatherer) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.SetContext(append(c.Context().([]byte), b...))
}

func (h gatherer) OnClose(c eddy.Conn, _ error) {
	b, _ := c.Context().([]byte)
	h.got <- string(b)
}

// peerInfo tells what the TCP connection under the TLS layer says of itself.
type peerInfo struct{ eddy.BaseHandler }

func (peerInfo) OnOpen(c eddy.Conn) {
	raw := c.(*etls.Conn).NetConn()
	_, isTLS := raw.(*etls.Conn)
	fmt.Println("raw connection is TLS:", isTLS)
	fmt.Println("same peer:", raw.RemoteAddr().String() == c.RemoteAddr().String())
	fmt.Println("same loop:", raw.Loop().Index() == c.Loop().Index())
	c.Write([]byte("bye")) // through the TLS layer: writing to raw would corrupt the stream
	c.Close()
}

// NetConn is the engine's connection under the TLS layer, the one that carries the records: it has
// the same addresses and loop as the Conn, and its bytes are the encrypted ones.
func ExampleConn_NetConn() {
	serverCfg, clientCfg := exampleConfigs()
	srv, _ := eddy.New(etls.Server(peerInfo{}, serverCfg), []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	srv.Start()
	defer srv.Stop(context.Background())

	c, err := tls.Dial("tcp", srv.Addrs()[0].String(), clientCfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	b, _ := io.ReadAll(c) // to the server's close_notify
	fmt.Println(string(b))
	// Output:
	// raw connection is TLS: false
	// same peer: true
	// same loop: true
	// bye
}

// Inner finds the application's handler behind a TLS Handler: code given the engine's handler can
// see through the TLS layer to the handler it wraps.
func ExampleHandler_Inner() {
	serverCfg, _ := exampleConfigs()
	app := greeter{}
	var h eddy.Handler = etls.Server(app, serverCfg)

	if th, ok := h.(*etls.Handler); ok {
		h = th.Inner()
	}
	_, isApp := h.(greeter)
	fmt.Println(isApp)
	// Output: true
}

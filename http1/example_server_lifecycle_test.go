package http1_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/eddyio/eddy/http1"
)

// Close ends the server at once, as net/http's does: connections are closed, the response in
// progress is cut, and the contexts of the handlers still running are cancelled; Serve (and
// ListenAndServe) returns ErrServerClosed.
func ExampleServer_Close() {
	started, ended := make(chan struct{}), make(chan error, 1)
	srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // a long poll, say
		ended <- r.Context().Err()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	addr := ln.Addr()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	got := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr.String() + "/poll")
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	<-started
	fmt.Println("Close:", srv.Close())
	fmt.Println("handler's context:", <-ended)
	fmt.Println("client failed:", <-got != nil)
	fmt.Println("Serve:", <-served)
	// Output:
	// Close: <nil>
	// handler's context: context canceled
	// client failed: true
	// Serve: http: Server closed
}

// ServeTLS serves HTTPS on a listener the program opened, with the certificate and key of PEM
// files, as net/http's ServeTLS does.
func ExampleServer_ServeTLS() {
	// PEM files of a certificate valid for 127.0.0.1 (net/http/httptest's) and a pool that trusts it.
	ts := httptest.NewTLSServer(nil)
	ts.Close()
	cert, roots := ts.TLS.Certificates[0], ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	dir, _ := os.MkdirTemp("", "servetls")
	defer os.RemoveAll(dir)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello over %s", tls.VersionName(r.TLS.Version))
	})}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, certFile, keyFile) }()

	tr := &http1.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))

	srv.Shutdown(context.Background())
	fmt.Println("ServeTLS:", <-served)
	// Output:
	// 200 OK Hello over TLS 1.3
	// ServeTLS: http: Server closed
}

// SetKeepAlivesEnabled(false) makes every response close its connection, from the next response
// on: a server about to go away sheds its keep-alive clients so.
func ExampleServer_SetKeepAlivesEnabled() {
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	c, err := net.Dial("tcp", srv.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		io.ReadAll(resp.Body)
		fmt.Printf("%s, Close: %v\n", resp.Status, resp.Close) // Close: the response said "Connection: close"
	}
	get() // kept alive
	srv.SetKeepAlivesEnabled(false)
	get() // on the same connection, the last one
	_, err = br.ReadByte()
	fmt.Println("then the server closes the connection:", errors.Is(err, io.EOF))
	// Output:
	// 200 OK, Close: false
	// 200 OK, Close: true
	// then the server closes the connection: true
}

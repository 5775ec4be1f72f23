package http1_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// HTTPS on both ends: StartTLS serves with a certificate from PEM files, and the Transport fetches
// https URLs, verifying the server against TLSClientConfig.
func ExampleServer_StartTLS() {
	dir, _ := os.MkdirTemp("", "eddy-example")
	defer os.RemoveAll(dir)
	certFile, keyFile, _ := testtls.WriteFiles(dir) // a test certificate for 127.0.0.1

	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello over %s", map[bool]string{true: "TLS", false: "plain HTTP"}[r.TLS != nil])
	})}
	if err := srv.StartTLS(certFile, keyFile); err != nil { // ListenAndServeTLS without the wait
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	_, trust := testtls.Configs() // in a program: nil, the system's roots
	tr := &http1.Transport{TLSClientConfig: trust}
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + srv.Addrs()[0].String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.TLS.NegotiatedProtocol)
	fmt.Println(string(body))
	// Output:
	// 200 OK http/1.1
	// Hello over TLS
}

package http1_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/eddyio/eddy/http1"
)

// HTTPS on both ends: StartTLS serves with the certificate of TLSConfig, and the Transport fetches
// https URLs, verifying the server against TLSClientConfig.
func ExampleServer_StartTLS() {
	// A certificate valid for 127.0.0.1, and a pool that trusts it: net/http/httptest's. In a program,
	// StartTLS("cert.pem", "key.pem") loads yours from PEM files, and the client trusts the system's roots.
	ts := httptest.NewTLSServer(nil)
	ts.Close()
	cert, roots := ts.TLS.Certificates[0], ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	srv := &http1.Server{
		Addr:      "127.0.0.1:0",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello over %s", map[bool]string{true: "TLS", false: "plain HTTP"}[r.TLS != nil])
		}),
	}
	if err := srv.StartTLS("", ""); err != nil { // ListenAndServeTLS without the wait
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	tr := &http1.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
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

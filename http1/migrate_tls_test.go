package http1_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// TestRequestTLSFields: what a handler sees of r.TLS, r.Host, r.Proto and r.URL under TLS,
// with ALPN http/1.1 and without ALPN, as net/http's ServeTLS gives it with the same certificate.
func TestMigrateRequestTLSFields(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	obs := &zzObs{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := r.TLS
		obs.add("tls %v version %x complete %v proto %q server %q peercerts %d resumed %v; host %q proto %q uri %q url %q scheme %q",
			s != nil, s.Version, s.HandshakeComplete, s.NegotiatedProtocol, s.ServerName, len(s.PeerCertificates), s.DidResume,
			r.Host, r.Proto, r.RequestURI, r.URL.String(), r.URL.Scheme)
		io.WriteString(w, "ok")
	})
	check := func(t *testing.T, addr string) string {
		var out string
		for _, alpn := range [][]string{{"http/1.1"}, nil} {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{InsecureSkipVerify: true, ServerName: "example.com", NextProtos: alpn, MaxVersion: tls.VersionTLS13})
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /p?q HTTP/1.1\r\nHost: example.com\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			c.Close()
			out += fmt.Sprintf("alpn %q: client proto %q; %d %q\n%s", alpn, c.ConnectionState().NegotiatedProtocol, resp.StatusCode, b, obs.take())
		}
		return out
	}
	var ref string
	t.Run("nethttp", func(t *testing.T) {
		srv := &http.Server{Handler: h, ErrorLog: newLogger(io.Discard), TLSConfig: &tls.Config{NextProtos: []string{"http/1.1"}}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.ServeTLS(ln, certFile, keyFile)
		t.Cleanup(func() { srv.Close() })
		ref = check(t, ln.Addr().String())
		t.Logf("net/http:\n%s", ref)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
		if got := check(t, startTLS(t, engine, srv, certFile, keyFile)); got != ref {
			t.Errorf("differs from net/http:\n%s", zzLineDiff(ref, got))
		}
	})
}

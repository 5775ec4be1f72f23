package etls_test

// Handler.Dial against crypto/tls's tls.Dial with the same configuration, on the forms of address
// Dial takes (session 31): the ServerName each derives from the address, what the server sees by
// SNI, and which connections each accepts. A connection etls accepts where crypto/tls refuses it
// would be a security defect.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// tcrPKI makes a CA and a server certificate for localhost, 127.0.0.1 and ::1.
func tcrPKI(t *testing.T) (pool *x509.CertPool, cert tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tcr root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tcrServe runs a crypto/tls server on ln that records each client's SNI and closes after the
// handshake, until the test ends.
func tcrServe(t *testing.T, ln net.Listener, cert tls.Certificate) func() []string {
	var mu sync.Mutex
	var snis []string
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		snis = append(snis, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if tc.Handshake() == nil {
					tc.Read(make([]byte, 1)) // until the client closes
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := snis
		snis = nil
		return s
	}
}

// tcrClass names the outcome of a dial, for comparison.
func tcrClass(err error) string {
	var hostname x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &hostname):
		return "hostname"
	case errors.As(err, &unknown):
		return "unknown-authority"
	case strings.Contains(err.Error(), "either ServerName or InsecureSkipVerify"):
		return "no-server-name"
	}
	return "other: " + err.Error()
}

// TestDialAgainstTLSDial: for each address form, etls's Dial and tls.Dial with the same
// configuration either both succeed, sending the same SNI, or both refuse; the cases also say which.
func TestDialAgainstTLSDial(t *testing.T) {
	pool, cert := tcrPKI(t)
	ln4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	snis4 := tcrServe(t, ln4, cert)
	port := ln4.Addr().(*net.TCPAddr).Port
	p := func(s string) string { return strings.ReplaceAll(s, "PORT", itoa(port)) }
	sock := filepath.Join(t.TempDir(), "s")
	lnu, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	snisU := tcrServe(t, lnu, cert)
	type tc struct {
		name      string
		etlsAddr  string
		netw, std string // tls.Dial's network and address
		snis      func() []string
		cfg       *tls.Config
		want      string // the class both must give (for the unix socket, ok or a refusal)
	}
	cases := []tc{
		{"IP", p("127.0.0.1:PORT"), "tcp", p("127.0.0.1:PORT"), snis4, &tls.Config{RootCAs: pool}, "ok"},
		{"tcp:// IP", p("tcp://127.0.0.1:PORT"), "tcp", p("127.0.0.1:PORT"), snis4, &tls.Config{RootCAs: pool}, "ok"},
		{"tcp4:// IP", p("tcp4://127.0.0.1:PORT"), "tcp4", p("127.0.0.1:PORT"), snis4, &tls.Config{RootCAs: pool}, "ok"},
		{"name", p("localhost:PORT"), "tcp", p("localhost:PORT"), snis4, &tls.Config{RootCAs: pool}, "ok"},
		{"tcp:// name in capitals", p("tcp://LOCALHOST:PORT"), "tcp", p("LOCALHOST:PORT"), snis4, &tls.Config{RootCAs: pool}, "ok"},
		{"name, ServerName elsewhere", p("localhost:PORT"), "tcp", p("localhost:PORT"), snis4, &tls.Config{RootCAs: pool, ServerName: "evil.test"}, "hostname"},
		{"name, ServerName with a trailing dot", p("127.0.0.1:PORT"), "tcp", p("127.0.0.1:PORT"), snis4, &tls.Config{RootCAs: pool, ServerName: "localhost."}, "ok"},
		{"IP, untrusted", p("127.0.0.1:PORT"), "tcp", p("127.0.0.1:PORT"), snis4, &tls.Config{RootCAs: x509.NewCertPool()}, "unknown-authority"},
		{"no host (empty ServerName)", p(":PORT"), "tcp", p(":PORT"), snis4, &tls.Config{RootCAs: pool}, "no-server-name"},
		{"tcp:// no host (empty ServerName)", p("tcp://:PORT"), "tcp", p(":PORT"), snis4, &tls.Config{RootCAs: pool}, "no-server-name"},
		{"no host, InsecureSkipVerify", p(":PORT"), "tcp", p(":PORT"), snis4, &tls.Config{InsecureSkipVerify: true}, "ok"},
		{"no host, ServerName given", p(":PORT"), "tcp", p(":PORT"), snis4, &tls.Config{RootCAs: pool, ServerName: "localhost"}, "ok"},
		// tls.Dial takes the whole path for ServerName (no colon in it) and fails the name check;
		// Dial takes none and refuses to verify without one: both refuse.
		{"unix socket", "unix://" + sock, "unix", sock, snisU, &tls.Config{RootCAs: pool}, "refused"},
		{"unix socket, ServerName given", "unix://" + sock, "unix", sock, snisU, &tls.Config{RootCAs: pool, ServerName: "localhost"}, "ok"},
		{"unix socket, InsecureSkipVerify", "unix://" + sock, "unix", sock, snisU, &tls.Config{InsecureSkipVerify: true}, "ok"},
	}
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		snis6 := tcrServe(t, ln6, cert)
		p6 := itoa(ln6.Addr().(*net.TCPAddr).Port)
		cases = append(cases,
			tc{"IPv6 literal", "[::1]:" + p6, "tcp", "[::1]:" + p6, snis6, &tls.Config{RootCAs: pool}, "ok"},
			tc{"tcp6:// IPv6 literal", "tcp6://[::1]:" + p6, "tcp6", "[::1]:" + p6, snis6, &tls.Config{RootCAs: pool}, "ok"})
	}
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		h := etls.Client(&collector{got: make(chan []byte, 16)}, nil)
		h.OnHandshakeError = func(eddy.Conn, error) {}
		e := clientEngine(t, k, h)
		for _, c := range cases {
			cfg := c.cfg
			var res [2]string
			var snis [2][]string
			stdConn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, c.netw, c.std, cfg.Clone())
			res[0] = tcrClass(err)
			if err == nil {
				stdConn.Close()
			}
			snis[0] = c.snis()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ec, err := h.Dial(ctx, e, c.etlsAddr, cfg.Clone()).Await(ctx)
			cancel()
			res[1] = tcrClass(err)
			if err == nil {
				ec.Close()
			}
			snis[1] = c.snis()
			for i, r := range res {
				if c.want == "refused" && r == "ok" || c.want != "refused" && r != c.want {
					t.Errorf("%s: %s gave %s, want %s", c.name, []string{"tls.Dial", "etls"}[i], r, c.want)
				}
			}
			// (Over a unix socket tls.Dial sends the path by SNI, Dial none: dialHost.)
			sameSNI := c.netw == "unix" || strings.Join(snis[0], ",") == strings.Join(snis[1], ",")
			if c.want != "refused" && (res[0] != res[1] || !sameSNI) {
				t.Errorf("%s: tls.Dial %s SNI %q; etls %s SNI %q", c.name, res[0], snis[0], res[1], snis[1])
			}
			t.Logf("%-40s tls.Dial %-20s SNI %-14q | etls %-20s SNI %q", c.name, res[0], snis[0], res[1], snis[1])
		}
	})
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

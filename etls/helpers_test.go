package etls_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// testPKI is a CA and a certificate it signed for "eddy.test", 127.0.0.1 and ::1.
type testPKI struct {
	server *tls.Config // serves the leaf
	client *tls.Config // trusts the CA, ServerName "eddy.test"
	pool   *x509.CertPool
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func newCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// getPKI makes the test certificates once per process.
func getPKI(t testing.TB) testPKI {
	pkiOnce.Do(func() {
		now := time.Now()
		ca, caKey := newCert(t, &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eddy test CA"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}, nil, nil)
		leaf, leafKey := newCert(t, &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "eddy.test"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			DNSNames: []string{"eddy.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}, ca, caKey)
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		pki = testPKI{
			server: &tls.Config{Certificates: []tls.Certificate{{
				Certificate: [][]byte{leaf.Raw, ca.Raw}, PrivateKey: leafKey, Leaf: leaf,
			}}},
			client: &tls.Config{RootCAs: pool, ServerName: "eddy.test"},
			pool:   pool,
		}
	})
	return pki
}

// serve starts an engine of kind k on 127.0.0.1 with h and returns its address; the engine stops
// with the test.
func serve(t testing.TB, k eddy.EngineKind, h eddy.Handler, opts ...eddy.Option) string {
	t.Helper()
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, append([]eddy.Option{eddy.WithEngine(k), eddy.WithLoops(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return e.Addrs()[0].String()
}

// dialTLS connects a crypto/tls client to addr.
func dialTLS(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// echo is a wrapped handler that writes back what it reads.
type echo struct{ eddy.BaseHandler }

func (echo) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// events records what a wrapped handler saw, for assertions from the test goroutine.
type events struct {
	mu      sync.Mutex
	opened  int
	closed  []error
	states  []tls.ConnectionState
	closedC chan error
}

func newEvents() *events { return &events{closedC: make(chan error, 64)} }

func (ev *events) open(c eddy.Conn) {
	st, ok := etls.ConnectionState(c)
	ev.mu.Lock()
	ev.opened++
	if ok {
		ev.states = append(ev.states, st)
	}
	ev.mu.Unlock()
}

func (ev *events) close(err error) {
	ev.mu.Lock()
	ev.closed = append(ev.closed, err)
	ev.mu.Unlock()
	ev.closedC <- err
}

func (ev *events) waitClose(t testing.TB) error {
	t.Helper()
	select {
	case err := <-ev.closedC:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
		return nil
	}
}

func (ev *events) openCount() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.opened
}

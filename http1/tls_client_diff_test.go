package http1_test

// A differential test of the client side of TLS: http1.Transport's https against net/http's
// Transport, given the same tls.Config and the same crypto/tls servers on loopback (session 31).
// Every case is run by both clients and their outcomes, classified (crypto/x509's verification
// errors, the callbacks' errors, alerts, timeouts...), must be equal, and equal to what the case
// expects: a certificate or connection eddy accepts where net/http refuses it is a security defect.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// tcrCA is a certificate authority made for the test.
type tcrCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // trusts it
}

var tcrSerial atomic.Int64

func tcrKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tcrNewCA makes a self-signed CA, or one signed by parent (an intermediate) if parent is not nil.
func tcrNewCA(t *testing.T, name string, parent *tcrCA) *tcrCA {
	t.Helper()
	key := tcrKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(tcrSerial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tcrCA{cert: cert, key: key, pool: pool}
}

// leaf issues a server (and client) certificate for the names (IP literals become IP SANs), which
// mutate may change; chain is appended to what the certificate is sent with.
func (ca *tcrCA) leaf(t *testing.T, names []string, mutate func(*x509.Certificate), chain ...*tcrCA) tls.Certificate {
	t.Helper()
	key := tcrKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(tcrSerial.Add(1)),
		Subject:      pkix.Name{CommonName: "leaf"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if mutate != nil {
		mutate(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	for _, ch := range chain {
		c.Certificate = append(c.Certificate, ch.cert.Raw)
	}
	return c
}

// tcrSelfSigned is a self-signed leaf (no CA) for names.
func tcrSelfSigned(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key := tcrKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(tcrSerial.Add(1)),
		Subject:      pkix.Name{CommonName: "self-signed"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tcrSeen is what a test server saw of its clients' hellos and requests.
type tcrSeen struct {
	mu    sync.Mutex
	sni   []string
	alpn  [][]string
	certs []int // client certificates per request
}

func (s *tcrSeen) hello(h *tls.ClientHelloInfo) {
	s.mu.Lock()
	s.sni = append(s.sni, h.ServerName)
	s.alpn = append(s.alpn, h.SupportedProtos)
	s.mu.Unlock()
}

func (s *tcrSeen) reset() (sni []string, alpn [][]string, certs []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sni, alpn, certs = s.sni, s.alpn, s.certs
	s.sni, s.alpn, s.certs = nil, nil, nil
	return
}

// tcrServer serves HTTP/1.1 with crypto/tls and net/http on 127.0.0.1 (or network's loopback) with
// cfg, recording the hellos; it answers "ok" and, with ?len=N&cut=M, a head announcing N bytes of
// which M are sent before the TCP connection is closed without close_notify.
func tcrServer(t *testing.T, network string, cfg *tls.Config) (addr string, seen *tcrSeen) {
	t.Helper()
	seen = &tcrSeen{}
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		seen.hello(h)
		return nil, nil
	}
	host := "127.0.0.1:0"
	if network == "tcp6" {
		host = "[::1]:0"
	}
	ln, err := net.Listen(network, host)
	if err != nil {
		t.Skip("no listener:", err)
	}
	srv := &http.Server{
		ErrorLog: log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.mu.Lock()
			seen.certs = append(seen.certs, len(r.TLS.PeerCertificates))
			seen.mu.Unlock()
			if r.URL.Query().Get("cut") != "" {
				var n, m int
				fmt.Sscan(r.URL.Query().Get("len"), &n)
				fmt.Sscan(r.URL.Query().Get("cut"), &m)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				tc := conn.(*tls.Conn)
				if n < 0 { // delimited by the close
					fmt.Fprintf(tc, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n%s", strings.Repeat("x", m))
				} else {
					fmt.Fprintf(tc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("x", m))
				}
				tc.NetConn().Close() // no close_notify
				return
			}
			io.WriteString(w, "ok")
		}),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tls.NewListener(ln, cfg))
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String(), seen
}

// tcrClient runs one GET through a client.
type tcrClient struct {
	name string
	rt   http.RoundTripper
	stop func()
}

// tcrClients makes a net/http Transport and an http1 Transport on engine from the same configuration
// (each its own clone), with tune applied to both.
func tcrClients(engine eddy.EngineKind, cfg *tls.Config, handshakeTimeout time.Duration) (ref, got tcrClient) {
	var rc, ec *tls.Config
	if cfg != nil {
		rc, ec = cfg.Clone(), cfg.Clone()
	}
	rt := &http.Transport{TLSClientConfig: rc, TLSHandshakeTimeout: handshakeTimeout, DisableKeepAlives: true}
	et := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: ec, TLSHandshakeTimeout: handshakeTimeout, DisableKeepAlives: true}
	return tcrClient{"net/http", rt, rt.CloseIdleConnections}, tcrClient{"eddy", et, func() { et.Close() }}
}

var errTCRCallback = errors.New("tcr: the callback refused the peer")

// tcrClass names an outcome, so that the two clients' can be compared.
func tcrClass(err error) string {
	if err == nil {
		return "ok"
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var alert tls.AlertError
	var rh tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.Is(err, errTCRCallback):
		return "callback"
	case errors.As(err, &unknown):
		return "unknown-authority"
	case errors.As(err, &invalid):
		return fmt.Sprintf("invalid(%d)", invalid.Reason)
	case errors.As(err, &hostname):
		return "hostname"
	case errors.As(err, &alert):
		return "alert:" + alert.Error()
	case strings.Contains(err.Error(), "remote error: "):
		// crypto/tls's type for a peer's alert is not exported.
		msg := err.Error()
		return "alert:" + msg[strings.Index(msg, "remote error: ")+len("remote error: "):]
	case errors.Is(err, http.ErrSchemeMismatch):
		return "scheme-mismatch"
	case errors.As(err, &rh):
		return "record-header"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected-eof"
	case strings.Contains(err.Error(), "either ServerName or InsecureSkipVerify"):
		return "no-server-name"
	case strings.Contains(err.Error(), "unadvertised ALPN"):
		return "alpn"
	}
	return "other: " + err.Error()
}

// tcrGet runs a GET of url through c (under ctx), reading the body; the outcome is the class of the
// first error, the body, and the response's TLS state.
func tcrGet(ctx context.Context, c tcrClient, url string) (class, body string, st *tls.ConnectionState, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return tcrClass(err), "", nil, err
	}
	cl := &http.Client{Transport: c.rt, Timeout: 10 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return tcrClass(err), "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return tcrClass(err), string(b), resp.TLS, err
}

// TestTLSClientVerification: the certificate checks of the two clients, case by case, on every
// engine.
func TestTLSClientVerification(t *testing.T) {
	root := tcrNewCA(t, "root", nil)
	inter := tcrNewCA(t, "intermediate", root)
	other := tcrNewCA(t, "other root", nil)
	// Servers, by certificate.
	srv := func(cert tls.Certificate) string {
		addr, _ := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{cert}})
		return addr[strings.LastIndex(addr, ":")+1:]
	}
	good := srv(root.leaf(t, []string{"localhost", "127.0.0.1"}, nil))
	goodDNS := srv(root.leaf(t, []string{"localhost"}, nil))
	goodIP := srv(root.leaf(t, []string{"127.0.0.1"}, nil))
	wild := srv(root.leaf(t, []string{"*.example.com"}, nil))
	expired := srv(root.leaf(t, []string{"localhost", "127.0.0.1"}, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	}))
	notYet := srv(root.leaf(t, []string{"localhost", "127.0.0.1"}, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour)
	}))
	selfSigned := srv(tcrSelfSigned(t, "localhost", "127.0.0.1"))
	otherCA := srv(other.leaf(t, []string{"localhost", "127.0.0.1"}, nil))
	withChain := srv(inter.leaf(t, []string{"localhost", "127.0.0.1"}, nil, inter))
	chainMissing := srv(inter.leaf(t, []string{"localhost", "127.0.0.1"}, nil))
	clientOnly := srv(root.leaf(t, []string{"localhost", "127.0.0.1"}, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}))

	trusting := func(mutate func(*tls.Config)) *tls.Config {
		cfg := &tls.Config{RootCAs: root.pool}
		if mutate != nil {
			mutate(cfg)
		}
		return cfg
	}
	var vpcCalls, vcCalls atomic.Int32
	cases := []struct {
		name string
		url  string // PORT is replaced
		port string
		cfg  *tls.Config
		want string
	}{
		{"trusted by IP", "https://127.0.0.1:PORT/", good, trusting(nil), "ok"},
		{"trusted by name", "https://localhost:PORT/", good, trusting(nil), "ok"},
		// (The resolver here does not resolve "localhost.": the trailing dot is given as ServerName.)
		{"ServerName with a trailing dot", "https://127.0.0.1:PORT/", goodDNS, trusting(func(c *tls.Config) { c.ServerName = "localhost." }), "ok"},
		{"wrong ServerName with a trailing dot", "https://127.0.0.1:PORT/", goodDNS, trusting(func(c *tls.Config) { c.ServerName = "evil.test." }), "hostname"},
		{"ServerName in brackets", "https://127.0.0.1:PORT/", goodIP, trusting(func(c *tls.Config) { c.ServerName = "[127.0.0.1]" }), "ok"},
		{"trusted, name in capitals", "https://LOCALHOST:PORT/", good, trusting(nil), "ok"},
		{"IP SAN, dialled by IP", "https://127.0.0.1:PORT/", goodIP, trusting(nil), "ok"},
		{"IP SAN only, dialled by name", "https://localhost:PORT/", goodIP, trusting(nil), "hostname"},
		{"DNS SAN only, dialled by IP", "https://127.0.0.1:PORT/", goodDNS, trusting(nil), "hostname"},
		{"wrong ServerName", "https://localhost:PORT/", good, trusting(func(c *tls.Config) { c.ServerName = "evil.test" }), "hostname"},
		{"ServerName given overrides the URL's", "https://127.0.0.1:PORT/", goodDNS, trusting(func(c *tls.Config) { c.ServerName = "localhost" }), "ok"},
		{"wildcard matches one label", "https://127.0.0.1:PORT/", wild, trusting(func(c *tls.Config) { c.ServerName = "a.example.com" }), "ok"},
		{"wildcard not two labels", "https://127.0.0.1:PORT/", wild, trusting(func(c *tls.Config) { c.ServerName = "a.b.example.com" }), "hostname"},
		{"wildcard not the apex", "https://127.0.0.1:PORT/", wild, trusting(func(c *tls.Config) { c.ServerName = "example.com" }), "hostname"},
		{"expired", "https://localhost:PORT/", expired, trusting(nil), fmt.Sprintf("invalid(%d)", x509.Expired)},
		{"not yet valid", "https://localhost:PORT/", notYet, trusting(nil), fmt.Sprintf("invalid(%d)", x509.Expired)},
		{"self-signed, untrusted", "https://localhost:PORT/", selfSigned, trusting(nil), "unknown-authority"},
		{"another CA's", "https://localhost:PORT/", otherCA, trusting(nil), "unknown-authority"},
		{"system roots only", "https://localhost:PORT/", good, nil, "unknown-authority"},
		{"intermediate sent", "https://localhost:PORT/", withChain, trusting(nil), "ok"},
		{"intermediate missing", "https://localhost:PORT/", chainMissing, trusting(nil), "unknown-authority"},
		{"client-auth-only certificate", "https://localhost:PORT/", clientOnly, trusting(nil), fmt.Sprintf("invalid(%d)", x509.IncompatibleUsage)},
		{"InsecureSkipVerify, self-signed", "https://localhost:PORT/", selfSigned, &tls.Config{InsecureSkipVerify: true}, "ok"},
		{"InsecureSkipVerify, expired, wrong name", "https://127.0.0.1:PORT/", expired, &tls.Config{InsecureSkipVerify: true, ServerName: "evil.test"}, "ok"},
		{"VerifyPeerCertificate refuses", "https://localhost:PORT/", good, trusting(func(c *tls.Config) {
			c.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
				vpcCalls.Add(1)
				if len(raw) != 1 || len(chains) != 1 {
					return fmt.Errorf("raw %d chains %d", len(raw), len(chains))
				}
				return errTCRCallback
			}
		}), "callback"},
		{"VerifyPeerCertificate refuses under InsecureSkipVerify", "https://localhost:PORT/", selfSigned, &tls.Config{InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, chains [][]*x509.Certificate) error {
				vpcCalls.Add(1)
				return errTCRCallback
			}}, "callback"},
		{"VerifyConnection refuses", "https://localhost:PORT/", good, trusting(func(c *tls.Config) {
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				vcCalls.Add(1)
				if cs.ServerName != "localhost" || len(cs.VerifiedChains) != 1 {
					return fmt.Errorf("VerifyConnection saw ServerName %q, %d chains", cs.ServerName, len(cs.VerifiedChains))
				}
				return errTCRCallback
			}
		}), "callback"},
		{"VerifyConnection accepts", "https://127.0.0.1:PORT/", good, trusting(func(c *tls.Config) {
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				vcCalls.Add(1)
				if cs.ServerName != "" { // an IP is not sent by SNI, and not kept

					return fmt.Errorf("VerifyConnection saw ServerName %q", cs.ServerName)
				}
				return nil
			}
		}), "ok"},
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, tc := range cases {
			ref, got := tcrClients(engine, tc.cfg, 0)
			url := strings.Replace(tc.url, "PORT", tc.port, 1)
			ctx := context.Background()
			rc, _, _, rerr := tcrGet(ctx, ref, url)
			before := vpcCalls.Load() + vcCalls.Load()
			ec, _, _, eerr := tcrGet(ctx, got, url)
			calls := vpcCalls.Load() + vcCalls.Load() - before
			ref.stop()
			got.stop()
			if rc != tc.want {
				t.Errorf("%s: net/http: %s (%v), the case expects %s", tc.name, rc, rerr, tc.want)
			}
			if ec != rc {
				t.Errorf("%s: eddy %s (%v), net/http %s (%v)", tc.name, ec, eerr, rc, rerr)
			}
			if (strings.HasPrefix(tc.name, "VerifyPeer") || strings.HasPrefix(tc.name, "VerifyConn")) && calls != 1 {
				t.Errorf("%s: eddy called the callback %d times", tc.name, calls)
			}
		}
	})
}

// TestTLSClientServerName: the name each client sends by SNI, derived from the URL (a port, an
// IPv6 literal, a trailing dot, capitals) or taken from ServerName.
func TestTLSClientServerName(t *testing.T) {
	root := tcrNewCA(t, "root", nil)
	cert := root.leaf(t, []string{"localhost", "127.0.0.1", "::1"}, nil)
	addr4, seen4 := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{cert}})
	port4 := addr4[strings.LastIndex(addr4, ":")+1:]
	type target struct {
		url  string
		seen *tcrSeen
		cfg  *tls.Config
	}
	targets := []target{
		{"https://127.0.0.1:" + port4 + "/", seen4, nil},
		{"https://localhost:" + port4 + "/", seen4, nil},
		{"https://127.0.0.1:" + port4 + "/", seen4, &tls.Config{ServerName: "localhost."}},
		{"https://127.0.0.1:" + port4 + "/", seen4, &tls.Config{ServerName: "LOCALHOST."}},
		{"https://LocalHost:" + port4 + "/", seen4, nil},
		{"https://127.0.0.1:" + port4 + "/", seen4, &tls.Config{ServerName: "localhost"}},
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		addr6, seen6 := tcrServer(t, "tcp6", &tls.Config{Certificates: []tls.Certificate{cert}})
		port6 := addr6[strings.LastIndex(addr6, ":")+1:]
		targets = append(targets, target{"https://[::1]:" + port6 + "/", seen6, nil})
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, tg := range targets {
			cfg := &tls.Config{RootCAs: root.pool}
			if tg.cfg != nil {
				cfg.ServerName = tg.cfg.ServerName
			}
			ref, got := tcrClients(engine, cfg, 0)
			var outcomes [2]string
			var snis [2][]string
			for i, c := range []tcrClient{ref, got} {
				class, body, st, err := tcrGet(context.Background(), c, tg.url)
				c.stop()
				sni, _, _ := tg.seen.reset()
				snis[i] = sni
				outcomes[i] = class + " " + body
				if st != nil {
					outcomes[i] += " state.ServerName=" + st.ServerName
				}
				if err != nil {
					outcomes[i] += " " + err.Error()
				}
			}
			if !strings.HasPrefix(outcomes[0], "ok ok") {
				t.Errorf("%s: net/http: %s", tg.url, outcomes[0])
			}
			if outcomes[0] != outcomes[1] || fmt.Sprint(snis[0]) != fmt.Sprint(snis[1]) {
				t.Errorf("%s (ServerName %q): net/http %q SNI %q; eddy %q SNI %q", tg.url, cfg.ServerName, outcomes[0], snis[0], outcomes[1], snis[1])
			}
		}
	})
}

// TestTLSClientALPN: what each client offers by ALPN, with NextProtos unset or given, what it
// negotiates, and how it fares with servers that prefer h2 or speak only h2 or another protocol.
func TestTLSClientALPN(t *testing.T) {
	root := tcrNewCA(t, "root", nil)
	cert := root.leaf(t, []string{"127.0.0.1"}, nil)
	server := func(protos ...string) (string, *tcrSeen) {
		addr, seen := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos})
		return "https://" + addr + "/", seen
	}
	type srv struct {
		name string
		url  string
		seen *tcrSeen
	}
	var servers []srv
	for _, p := range [][]string{nil, {"h2", "http/1.1"}, {"h2"}, {"http/1.1"}, {"foo"}} {
		u, s := server(p...)
		servers = append(servers, srv{fmt.Sprint(p), u, s})
	}
	for _, protos := range [][]string{nil, {"http/1.1"}, {"h2", "http/1.1"}, {"foo"}, {"foo", "h2"}} {
		for _, s := range servers {
			cfg := &tls.Config{RootCAs: root.pool, NextProtos: protos}
			ref, got := tcrClients(eddy.EngineEpoll, cfg, 0)
			var res [2]string
			var offered [2][][]string
			for i, c := range []tcrClient{ref, got} {
				class, body, st, _ := tcrGet(context.Background(), c, s.url)
				c.stop()
				_, alpn, _ := s.seen.reset()
				offered[i] = alpn
				res[i] = class + " " + body
				if st != nil {
					res[i] += fmt.Sprintf(" negotiated=%q mutual=%v", st.NegotiatedProtocol, st.NegotiatedProtocolIsMutual)
				}
			}
			// eddy offers the user's protocols with h2 taken out and http/1.1 added (docs/client.md).
			wantOffer := []string{}
			for _, p := range protos {
				if p != "h2" {
					wantOffer = append(wantOffer, p)
				}
			}
			if !slicesContains(wantOffer, "http/1.1") {
				wantOffer = append(wantOffer, "http/1.1")
			}
			// (Against the server that closes right after the handshake, eddy may dial again: a request
			// whose fresh connection closed before it could be sent is scheduled anew, client.go.)
			for _, o := range offered[1] {
				if fmt.Sprint(o) != fmt.Sprint(wantOffer) {
					t.Errorf("client %q, server %s: eddy offered %q, want %q", protos, s.name, offered[1], wantOffer)
				}
			}
			if len(offered[1]) == 0 {
				t.Errorf("client %q, server %s: eddy offered nothing", protos, s.name)
			}
			t.Logf("client NextProtos %-16q server %-14s | net/http offers %-18q: %s | eddy offers %-18q: %s",
				protos, s.name, offered[0], res[0], offered[1], res[1])
			// eddy must never end up on h2, and must succeed with every server that speaks HTTP/1.1 (all
			// but the one that knows only "foo", whose ALPN refuses eddy's offer unless it has "foo", and
			// whose net/http then closes the connection it has no handler for). Where the outcomes
			// differ, the offers must (the documented differences).
			if strings.Contains(res[1], `negotiated="h2"`) {
				t.Errorf("client %q, server %s: eddy negotiated h2: %s", protos, s.name, res[1])
			}
			okWanted := s.name != "[foo]"
			if okWanted != strings.HasPrefix(res[1], "ok ok") {
				t.Errorf("client %q, server %s: eddy %s", protos, s.name, res[1])
			}
			if fmt.Sprint(offered[0]) == fmt.Sprint(offered[1]) && strings.HasPrefix(res[0], "ok") != strings.HasPrefix(res[1], "ok") {
				t.Errorf("client %q, server %s: the same offer, net/http %s, eddy %s", protos, s.name, res[0], res[1])
			}
		}
	}
}

// tcrCache records the keys a ClientSessionCache is asked for and given.
type tcrCache struct {
	tls.ClientSessionCache
	mu   sync.Mutex
	keys []string
}

func (c *tcrCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	c.keys = append(c.keys, "get "+key)
	c.mu.Unlock()
	return c.ClientSessionCache.Get(key)
}

func (c *tcrCache) Put(key string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	c.keys = append(c.keys, "put "+key)
	c.mu.Unlock()
	c.ClientSessionCache.Put(key, cs)
}

// String returns the keys in order, one of each in a row (TLS 1.3 servers send two tickets).
func (c *tcrCache) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.keys {
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return strings.Join(out, ", ")
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestTLSClientCertificateResumptionState: a client certificate from GetClientCertificate, session
// resumption through a ClientSessionCache, and Response.TLS, compared field by field.
func TestTLSClientCertificateResumptionState(t *testing.T) {
	root := tcrNewCA(t, "root", nil)
	clientCA := tcrNewCA(t, "client root", nil)
	clientCert := clientCA.leaf(t, []string{"client.test"}, nil)
	srvCert := root.leaf(t, []string{"127.0.0.1"}, nil)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		addr, seen := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs: clientCA.pool, MaxVersion: version})
		url := "https://" + addr + "/"
		var res [2][]string
		var gcc [2]int
		for i := range 2 {
			var calls atomic.Int32
			cache := &tcrCache{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			cfg := &tls.Config{RootCAs: root.pool, ClientSessionCache: cache,
				GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
					calls.Add(1)
					return &clientCert, nil
				}}
			ref, got := tcrClients(eddy.EngineEpoll, cfg, 0)
			c := []tcrClient{ref, got}[i]
			for range 3 { // DisableKeepAlives: three connections, the last two resumed
				class, body, st, err := tcrGet(context.Background(), c, url)
				if err != nil || st == nil {
					t.Fatalf("TLS %x, %s: %s %v", version, c.name, class, err)
				}
				res[i] = append(res[i], fmt.Sprintf("%s v=%x suite=%x sn=%q proto=%q resumed=%v complete=%v peers=%d chains=%d",
					body, st.Version, st.CipherSuite, st.ServerName, st.NegotiatedProtocol, st.DidResume, st.HandshakeComplete,
					len(st.PeerCertificates), len(st.VerifiedChains)))
			}
			c.stop()
			ref.stop()
			got.stop()
			gcc[i] = int(calls.Load())
			res[i] = append(res[i], "cache keys "+cache.String())
			_, _, certs := seen.reset()
			if fmt.Sprint(certs) != "[1 1 1]" {
				t.Errorf("TLS %x, %s: the server saw client certificates %v", version, c.name, certs)
			}
		}
		if fmt.Sprint(res[0]) != fmt.Sprint(res[1]) || gcc[0] != gcc[1] {
			t.Errorf("TLS %x:\nnet/http %q (GetClientCertificate %d calls)\neddy     %q (%d calls)", version, res[0], gcc[0], res[1], gcc[1])
		}
		if !strings.Contains(res[1][2], "resumed=true") {
			t.Errorf("TLS %x: eddy did not resume: %q", version, res[1])
		}
	}
}

// TestTLSClientFailures: servers that stall in the handshake (TLSHandshakeTimeout, a context
// deadline), speak plain HTTP, send an alert, refuse the client's (missing) certificate, or cut a
// body without close_notify: the class of each client's error.
func TestTLSClientFailures(t *testing.T) {
	root := tcrNewCA(t, "root", nil)
	cert := root.leaf(t, []string{"127.0.0.1"}, nil)
	// Holds the connection without a byte: the ClientHello is never answered.
	stall := testtls.SilentPeer(t)
	plain := compatServer(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	})
	// A handshake_failure alert as the first record.
	alert := compatServer(t, func(c net.Conn) {
		defer c.Close()
		c.Read(make([]byte, 4096))
		c.Write([]byte{21, 3, 3, 0, 2, 2, 40})
	})
	needsCert, _ := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert})
	needsCert12, _ := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MaxVersion: tls.VersionTLS12})
	cut, _ := tcrServer(t, "tcp", &tls.Config{Certificates: []tls.Certificate{cert}})

	cases := []struct {
		name    string
		url     string
		timeout time.Duration // TLSHandshakeTimeout
		ctx     time.Duration // the request's context deadline
		want    string
	}{
		{"stalled handshake, TLSHandshakeTimeout", "https://" + stall + "/", 300 * time.Millisecond, 0, "timeout"},
		{"stalled handshake, context deadline", "https://" + stall + "/", 0, 300 * time.Millisecond, "deadline"},
		{"plain HTTP server", "https://" + plain + "/", 0, 0, "scheme-mismatch"},
		{"alert from the server", "https://" + alert + "/", 0, 0, "alert:tls: handshake failure"},
		{"client certificate required, TLS 1.3", "https://" + needsCert + "/", 0, 0, "alert:tls: certificate required"},
		{"client certificate required, TLS 1.2", "https://" + needsCert12 + "/", 0, 0, "alert:tls: handshake failure"},
		{"cut without close_notify in a body with a length", "https://" + cut + "/?len=100&cut=10", 0, 0, "unexpected-eof"},
		{"cut without close_notify, body whole", "https://" + cut + "/?len=10&cut=10", 0, 0, "ok"},
		// A body delimited by the close: a FIN at a record boundary ends it as close_notify would,
		// for crypto/tls and so for both (docs/tls.md).
		{"cut without close_notify, body delimited by the close", "https://" + cut + "/?len=-1&cut=10", 0, 0, "ok"},
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, tc := range cases {
			ref, got := tcrClients(engine, &tls.Config{RootCAs: root.pool}, tc.timeout)
			var class [2]string
			var errs [2]error
			var timeouts [2]bool
			for i, c := range []tcrClient{ref, got} {
				ctx := context.Background()
				if tc.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctx)
					defer cancel()
				}
				class[i], _, _, errs[i] = tcrGet(ctx, c, tc.url)
				var ne net.Error
				timeouts[i] = errors.As(errs[i], &ne) && ne.Timeout()
				c.stop()
			}
			if class[0] != tc.want {
				t.Errorf("%s: net/http %s (%v), the case expects %s", tc.name, class[0], errs[0], tc.want)
			}
			if class[0] != class[1] || timeouts[0] != timeouts[1] {
				t.Errorf("%s:\nnet/http %s timeout=%v (%v)\neddy     %s timeout=%v (%v)", tc.name, class[0], timeouts[0], errs[0], class[1], timeouts[1], errs[1])
			}
			t.Logf("%s:\n  net/http: %v\n  eddy:     %v", tc.name, errs[0], errs[1])
		}
	})
}

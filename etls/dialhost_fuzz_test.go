package etls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzDialHost checks the ServerName Dial takes from its address (dialHost), for every form of
// address: Dial's address is one of eddy.New's, a scheme of tcp, tcp4, tcp6 or unix before "://"
// (tcp without one), and Dial takes ServerName "as tls.Dial does" from the host. So:
//   - for a tcp address (any of the three schemes, or none), the host net.SplitHostPort finds after
//     the scheme (IPv6 literals without their brackets, zones kept, any port: eddy's dial refuses a
//     bad one), "" when the address is not host:port;
//   - for a unix address, or a scheme eddy does not dial (whose dial fails), "";
//   - and, held against crypto/tls itself (a real ClientHello, x509's VerifyHostname): that
//     ServerName is sent by SNI as the name (no SNI for an IP literal, zoned or not), an IP literal
//     is verified against a certificate's IP addresses; and where tls.Dial, which takes everything
//     before the last colon, would take the same IP literal in brackets, crypto/tls treats both alike.
func FuzzDialHost(f *testing.F) {
	for _, s := range []string{"example.com:443", "tcp://example.com:443", "tcp4://127.0.0.1:1", "tcp6://[::1]:443",
		"unix:///tmp/s", "unix://h:1", "h", "[::1]", "tcp://", ":443", "tcp://[fe80::1%eth0]:1", "udp://h:1",
		"tcp4://h:0", "tcp6://h:65535", "tcp://h:65536", "tcp://h:-1", "tcp://h:http", "tcp://:0", "tcp6://[::]:1",
		"[fe80::1%25en0]:8443", "tcp://[::ffff:127.0.0.1]:1", "tcp://h.:1", "tcp://H.Example.COM:1", "tcp://[h]:1",
		"tcp://1.2.3.4%eth0:1", "tcp://a:b:1", "tcp4:/h:1", "TCP://h:1", "tcpx://h:1", "unixgram://h:1", "://h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got := dialHost(addr)
		network, rest, ok := strings.Cut(addr, "://")
		if !ok {
			network, rest = "tcp", addr
		}
		switch network {
		case "tcp", "tcp4", "tcp6":
		default:
			if got != "" {
				t.Fatalf("dialHost(%q) = %q; want none for a %q address", addr, got, network)
			}
			return
		}
		host, _, err := net.SplitHostPort(rest)
		if err != nil {
			if got != "" {
				t.Fatalf("dialHost(%q) = %q; want none for an address that is not host:port (%v)", addr, got, err)
			}
			return
		}
		if got != host {
			t.Fatalf("dialHost(%q) = %q; want the host %q", addr, got, host)
		}
		if got == "" {
			return // no ServerName: tls.Dial's "" too (":443"), and the handshake asks for one
		}
		// crypto/tls's rule for an IP literal (hostnameInSNI, RFC 6066 section 3): none is sent by
		// SNI, with a zone or not; a name is sent as it is, but for trailing dots.
		literal := host
		if i := strings.LastIndex(literal, "%"); i > 0 {
			literal = literal[:i]
		}
		wantSNI := "no SNI"
		if name := strings.TrimRight(host, "."); net.ParseIP(literal) == nil && name != "" {
			wantSNI = "SNI " + strconv.Quote(name)
		}
		if g := sentSNI(t, got); g != wantSNI {
			t.Fatalf("dialHost(%q) = %q, from which crypto/tls sends %s; want %s", addr, got, g, wantSNI)
		}
		// x509's: an IP literal (a zone makes it none) is verified against the certificate's IP
		// addresses, never its DNS names.
		if ip := net.ParseIP(host); ip != nil {
			if err := (&x509.Certificate{IPAddresses: []net.IP{ip}}).VerifyHostname(got); err != nil {
				t.Fatalf("dialHost(%q) = %q: a certificate for the IP address %v refused: %v", addr, got, ip, err)
			}
			if err := (&x509.Certificate{DNSNames: []string{host}}).VerifyHostname(got); err == nil {
				t.Fatalf("dialHost(%q) = %q: a certificate naming %q as a DNS name taken for an IP address", addr, got, host)
			}
		}
		// Where tls.Dial would take the same host otherwise spelled (everything before the last
		// colon: an IPv6 literal in its brackets), crypto/tls treats both alike. (For "[name]:port"
		// tls.Dial's "[name]" is no name a certificate holds; Dial takes the name it dials.)
		tlsName := rest[:strings.LastIndex(rest, ":")]
		if tlsName != got && net.ParseIP(literal) != nil {
			if g, w := sentSNI(t, got), sentSNI(t, tlsName); g != w {
				t.Fatalf("dialHost(%q) = %q, from which crypto/tls sends %s; from tls.Dial's %q, %s", addr, got, g, tlsName, w)
			}
			cert := &x509.Certificate{IPAddresses: []net.IP{net.ParseIP(literal)}}
			if g, w := cert.VerifyHostname(got), cert.VerifyHostname(tlsName); (g == nil) != (w == nil) {
				t.Fatalf("dialHost(%q) = %q; a certificate for %s: verified %v for it, %v for tls.Dial's %q", addr, got, literal, g, w, tlsName)
			}
		}
	})
}

var errSeen = errors.New("ClientHello seen")

// sentSNI returns what crypto/tls's client, given serverName as its Config.ServerName, sends in the
// server_name extension of its ClientHello ("SNI \"name\"", or "no SNI"), as a crypto/tls server
// reads it, or the error that stops the client before it sends one.
func sentSNI(t *testing.T, serverName string) string {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		done <- tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
		c.Close()
	}()
	var sni *string
	err := tls.Server(s, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni = &h.ServerName
		return nil, errSeen
	}}).Handshake()
	s.Close()
	cerr := <-done
	switch {
	case sni == nil:
		return "client error: " + cerr.Error() + "; server error: " + err.Error()
	case *sni == "":
		return "no SNI"
	}
	return "SNI " + strconv.Quote(*sni)
}

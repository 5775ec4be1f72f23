package http1

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// ListenAndServeTLS is ListenAndServe for HTTPS, as in net/http: it listens on Addr (":https" when
// empty) and serves TLS with TLSConfig, to which certFile and keyFile (PEM files of a certificate,
// followed by its chain, and its private key) add a certificate unless both are empty, in which
// case TLSConfig must carry one. The handshakes run on goroutines and the established connections
// on the event loops (see package etls); handlers see Request.TLS.
func (s *Server) ListenAndServeTLS(certFile, keyFile string) error {
	if err := s.StartTLS(certFile, keyFile); err != nil {
		return err
	}
	<-s.done
	return ErrServerClosed
}

// StartTLS is ListenAndServeTLS without the wait, as Start is for ListenAndServe: it returns once
// the server accepts connections.
func (s *Server) StartTLS(certFile, keyFile string) error {
	if err := s.closedErr(); err != nil {
		return err // before the certificate is loaded, as net/http's ListenAndServeTLS
	}
	addr := s.Addr
	if addr == "" {
		addr = ":https"
	}
	cfg, err := s.tlsConfig(certFile, keyFile)
	if err != nil {
		return err
	}
	return s.startTLS(addr, cfg)
}

// ServeTLS is Serve for HTTPS: it serves TLS on ln, a *net.TCPListener or *net.UnixListener (not a
// listener from tls.NewListener), with TLSConfig and the certificate in certFile and keyFile, as
// ListenAndServeTLS does. It closes ln in every case.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	cfg, err := s.tlsConfig(certFile, keyFile)
	if err == nil {
		err = s.closedErr() // after the certificate, as net/http's ServeTLS, and before the listener's type
	}
	if err == nil {
		err = checkListener(ln)
	}
	if err == nil {
		err = s.startTLS("", cfg, ln)
	}
	if err != nil {
		ln.Close()
		return err
	}
	<-s.done
	return ErrServerClosed
}

// tlsConfig is the configuration the server's TLS runs with: a clone of TLSConfig with the
// certificate from the files, offering HTTP/1.1 by ALPN (and not h2, which this server does not
// speak).
func (s *Server) tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("http1: TLS needs a certificate: certFile and keyFile, or one in TLSConfig")
	}
	cfg.NextProtos = http11Protos(cfg.NextProtos)
	if get := cfg.GetConfigForClient; get != nil {
		// A configuration chosen per client must not offer h2 either.
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if c != nil && slices.Contains(c.NextProtos, "h2") {
				c = c.Clone()
				c.NextProtos = http11Protos(c.NextProtos)
			}
			return c, err
		}
	}
	return cfg, nil
}

// http11Protos returns protos without "h2", which eddy does not speak, and with "http/1.1": a new
// slice (a cloned tls.Config shares its NextProtos with the original, which must stay as it is).
func http11Protos(protos []string) []string {
	out := make([]string, 0, len(protos)+1)
	for _, p := range protos {
		if p != "h2" {
			out = append(out, p)
		}
	}
	if !slices.Contains(out, "http/1.1") {
		out = append(out, "http/1.1")
	}
	return out
}

// looksLikeHTTP reports whether the first five bytes a client sent to the TLS port, which crypto/tls
// found are no TLS record header, begin an HTTP request (net/http's test).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// startTLS starts the engine with the server behind etls.
func (s *Server) startTLS(addr string, cfg *tls.Config, lns ...net.Listener) error {
	s.init()
	h := etls.Server(s, cfg)
	h.OnHandshakeError = func(c eddy.Conn, err error) {
		// As net/http: a client that speaks plain HTTP to the TLS port is told so (etls sends what
		// is written to the record header error's Conn, then closes the connection).
		var reason any = errors.Unwrap(err)
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			re.Conn.Close()
			reason = "client sent an HTTP request to an HTTPS server"
		}
		s.logf("http: TLS handshake error from %v: %v", c.RemoteAddr(), reason) // as net/http logs it
	}
	if t := s.handshakeTimeout(); t > 0 {
		h.HandshakeTimeout = t
	}
	return s.startWith(h, addr, lns...)
}

// handshakeTimeout is net/http's bound on a TLS handshake (its Server.tlsHandshakeTimeout): the
// smallest of ReadHeaderTimeout, ReadTimeout and WriteTimeout that is set, 0 if none is.
func (s *Server) handshakeTimeout() time.Duration {
	var d time.Duration
	for _, t := range []time.Duration{s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout} {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	return d
}

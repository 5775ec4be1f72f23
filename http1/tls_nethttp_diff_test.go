package http1_test

// A differential test of HTTPS (session 31): the same *tls.Config and handler on a net/http server (ServeTLS,
// HTTP/1 only unless said otherwise) and on http1's TLS server (package etls), on every engine;
// what clients observe is compared. Differences that docs/tls.md or http1's doc describe are
// listed as such; everything else must be equal.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// tlsdPair is a net/http server and an http1 server with the same TLS configuration and handler.
type tlsdPair struct {
	ref, eddy       string // addresses
	refSrv          *http.Server
	eddySrv         *http1.Server
	refLog, eddyLog *syncLog
}

// tlsdStart starts both servers on loopback with cfg (cloned for each) and h. tune, if not nil,
// adjusts them before they start. http2 leaves net/http's HTTP/2 on (its default); otherwise it
// serves HTTP/1 only, as http1 does.
func tlsdStart(t *testing.T, engine eddy.EngineKind, cfg *tls.Config, h http.Handler, http2 bool, tune func(*http.Server, *http1.Server)) *tlsdPair {
	t.Helper()
	p := &tlsdPair{refLog: new(syncLog), eddyLog: new(syncLog)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.refSrv = &http.Server{Handler: h, TLSConfig: cfg.Clone(), ErrorLog: log.New(p.refLog, "", 0)}
	if !http2 {
		p.refSrv.Protocols = new(http.Protocols)
		p.refSrv.Protocols.SetHTTP1(true)
	}
	p.eddySrv = &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, Handler: h, TLSConfig: cfg.Clone(),
		ErrorLog: log.New(p.eddyLog, "", 0)}
	if tune != nil {
		tune(p.refSrv, p.eddySrv)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		p.refSrv.ServeTLS(ln, "", "")
	}()
	if err := p.eddySrv.StartTLS("", ""); err != nil {
		p.refSrv.Close()
		t.Fatal(err)
	}
	p.ref, p.eddy = ln.Addr().String(), p.eddySrv.Addrs()[0].String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.eddySrv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			p.eddySrv.Close()
		}
		p.refSrv.Close()
		<-served
	})
	return p
}

var tlsdAddrRE = regexp.MustCompile(`(127\.0\.0\.1|\[::1\]):\d+`)

// tlsdNorm takes the addresses out of an observation.
func tlsdNorm(s string) string { return tlsdAddrRE.ReplaceAllString(s, "ADDR") }

// tlsdState is a handler that answers with the TLS state it sees, and counts its requests.
type tlsdState struct{ calls atomic.Int32 }

func (h *tlsdState) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	if r.TLS == nil {
		io.WriteString(w, "no TLS")
		return
	}
	st := r.TLS
	cn := ""
	if len(st.PeerCertificates) > 0 {
		cn = st.PeerCertificates[0].Subject.CommonName
	}
	fmt.Fprintf(w, "%s vers=%x suite=%s sni=%q alpn=%q complete=%v resumed=%v peers=%d cn=%q chains=%d",
		r.Proto, st.Version, tls.CipherSuiteName(st.CipherSuite), st.ServerName, st.NegotiatedProtocol,
		st.HandshakeComplete, st.DidResume, len(st.PeerCertificates), cn, len(st.VerifiedChains))
}

// tlsdGet dials addr with cfg, sends one GET and returns what the client saw: the handshake's
// error, or the ALPN protocol it negotiated and the response (or the error reading it).
func tlsdGet(addr string, cfg *tls.Config) string {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tlsdNorm("handshake: " + err.Error())
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	st := c.ConnectionState()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return tlsdNorm("write: " + err.Error())
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return tlsdNorm(fmt.Sprintf("client alpn=%q; response: %v", st.NegotiatedProtocol, err))
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return tlsdNorm(fmt.Sprintf("client alpn=%q; %d %s %v", st.NegotiatedProtocol, resp.StatusCode, b, err))
}

// tlsdCompare fails unless both servers gave the same observation, and logs the row.
func tlsdCompare(t *testing.T, what, ref, got string) {
	t.Helper()
	if ref != got {
		t.Errorf("%s:\n  net/http: %s\n  eddy:     %s", what, ref, got)
		return
	}
	t.Logf("%s: both: %s", what, got)
}

// tlsdBoth runs f for the two servers at once (for the probes that wait on timeouts) and returns
// what each saw.
func tlsdBoth(f func(addr string) string, ref, eddy string) (string, string) {
	ch := make(chan string, 1)
	go func() { ch <- f(ref) }()
	got := f(eddy)
	return <-ch, got
}

func tlsdClientConfig(mutate func(*tls.Config)) *tls.Config {
	_, cfg := testtls.Configs()
	cfg.ServerName = "127.0.0.1"
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

// TestTLSDiffALPNSNIState: ALPN offers, SNI (plain, GetCertificate, GetConfigForClient, none, a
// wrong name) and the r.TLS fields the handler sees, TLS 1.2 and 1.3.
func TestTLSDiffALPNSNIState(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	cert := serverCfg.Certificates[0]
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		h := new(tlsdState)
		var hellos sync.Map // ServerName seen by GetCertificate
		variants := map[string]*tls.Config{
			"Certificates": serverCfg,
			"GetCertificate": {GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
				hellos.Store(hi.ServerName, true)
				return &cert, nil
			}},
			"GetConfigForClient": {GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
				return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}, nil
			}},
		}
		for _, vname := range []string{"Certificates", "GetCertificate", "GetConfigForClient"} {
			p := tlsdStart(t, engine, variants[vname], h, false, nil)
			for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				cases := []struct {
					name   string
					mutate func(*tls.Config)
				}{
					{"alpn h2,http/1.1", func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} }},
					{"alpn h2", func(c *tls.Config) { c.NextProtos = []string{"h2"} }},
					{"alpn none", nil},
					{"alpn spdy/3", func(c *tls.Config) { c.NextProtos = []string{"spdy/3"} }},
					{"sni example.com", func(c *tls.Config) { c.ServerName = "example.com" }},
					{"no sni (IP)", func(c *tls.Config) { c.ServerName = "" }},
					{"wrong name", func(c *tls.Config) { c.ServerName = "wrong.example" }},
				}
				for _, tc := range cases {
					cfg := tlsdClientConfig(tc.mutate)
					cfg.MaxVersion = vers
					ref := tlsdGet(p.ref, cfg)
					got := tlsdGet(p.eddy, cfg)
					tlsdCompare(t, fmt.Sprintf("%s TLS %x %s", vname, vers, tc.name), ref, got)
				}
			}
		}
		if _, ok := hellos.Load("example.com"); !ok {
			t.Error("GetCertificate never saw the SNI name")
		}

		// net/http with HTTP/2 on (its default) negotiates h2 with a client that offers it, and
		// answers an h2-only client; http1 speaks HTTP/1.1 only (documented: "ALPN offers
		// http/1.1 only", "Not supported: HTTP/2").
		p := tlsdStart(t, engine, serverCfg, h, true, nil)
		for _, offer := range [][]string{{"h2", "http/1.1"}, {"h2"}} {
			cfg := tlsdClientConfig(func(c *tls.Config) { c.NextProtos = offer })
			c, err := tls.Dial("tcp", p.ref, cfg)
			if err != nil {
				t.Fatalf("net/http with h2, offer %q: %v", offer, err)
			}
			t.Logf("documented difference: net/http (HTTP/2 on), offer %q: negotiates %q; http1 offers http/1.1 only", offer, c.ConnectionState().NegotiatedProtocol)
			c.Close()
		}
	})
}

// TestTLSDiffClientCertificates: RequireAndVerifyClientCert: the certificate the handler sees, a
// client without one, a VerifyPeerCertificate that refuses; the handler must never run without the
// verified certificate, even for a request the client sent right behind its Finished.
func TestTLSDiffClientCertificates(t *testing.T) {
	pool, clientCert := advCA(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		h := new(tlsdState)
		serverCfg, _ := testtls.Configs()
		serverCfg.ClientAuth = tls.RequireAndVerifyClientCert
		serverCfg.ClientCAs = pool
		refusing := serverCfg.Clone()
		refusing.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error {
			return errors.New("refused by VerifyPeerCertificate")
		}
		verify := tlsdStart(t, engine, serverCfg, h, false, nil)
		refuse := tlsdStart(t, engine, refusing, h, false, nil)
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			withCert := tlsdClientConfig(func(c *tls.Config) {
				c.MaxVersion = vers
				c.Certificates = []tls.Certificate{clientCert}
			})
			without := tlsdClientConfig(func(c *tls.Config) { c.MaxVersion = vers })

			tlsdCompare(t, fmt.Sprintf("TLS %x with a certificate", vers), tlsdGet(verify.ref, withCert), tlsdGet(verify.eddy, withCert))
			before := h.calls.Load()
			tlsdCompare(t, fmt.Sprintf("TLS %x without a certificate", vers), tlsdGet(verify.ref, without), tlsdGet(verify.eddy, without))
			tlsdCompare(t, fmt.Sprintf("TLS %x VerifyPeerCertificate refuses", vers), tlsdGet(refuse.ref, withCert), tlsdGet(refuse.eddy, withCert))
			if n := h.calls.Load() - before; n != 0 {
				t.Errorf("TLS %x: the handler ran %d times for clients that failed client authentication", vers, n)
			}
		}
	})
}

// tlsdEnd classifies how a read ended: "EOF", "reset", "timeout" or the error.
func tlsdEnd(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "open"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return tlsdNorm(err.Error())
}

// tlsdRaw sends raw bytes to addr over TCP and returns what came back and how the connection ended,
// waiting up to within.
func tlsdRaw(t *testing.T, addr, raw string, within time.Duration) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	c.SetReadDeadline(time.Now().Add(within))
	var buf bytes.Buffer
	_, err = io.Copy(&buf, c)
	if err == nil {
		err = io.EOF
	}
	return fmt.Sprintf("%q then %s", buf.String(), tlsdEnd(err))
}

// tlsdGetRoot sets c's deadline within from now, sends a GET of / and reads the response to its
// end; it returns the reader for what follows, or "response: " and the error reading the response.
func tlsdGetRoot(c *tls.Conn, within time.Duration) (br *bufio.Reader, failed string) {
	c.SetDeadline(time.Now().Add(within))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br = bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "response: " + err.Error()
	}
	io.ReadAll(resp.Body)
	return br, ""
}

// TestTLSDiffPlainAndBroken: plain HTTP to the TLS port, garbage after the handshake, a handshake
// that stalls half-way (ReadHeaderTimeout bounds it in both), a client gone without close_notify
// (idle and in the middle of a body).
func TestTLSDiffPlainAndBroken(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		bodyErr := make(chan string, 2)
		var states sync.Map // remote address -> last ConnState
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/upload" {
				_, err := io.ReadAll(r.Body)
				bodyErr <- fmt.Sprint(err)
				return
			}
			io.WriteString(w, "ok")
		})
		p := tlsdStart(t, engine, serverCfg, h, false, func(rs *http.Server, es *http1.Server) {
			rs.ReadHeaderTimeout, es.ReadHeaderTimeout = time.Second, time.Second
			rs.ConnState = func(c net.Conn, s http.ConnState) { states.Store(c.RemoteAddr().String(), s) }
			es.ConnState = rs.ConnState
		})

		for _, raw := range []string{
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
			"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n",
		} {
			ref, got := tlsdRaw(t, p.ref, raw, 5*time.Second), tlsdRaw(t, p.eddy, raw, 5*time.Second)
			tlsdCompare(t, "plain "+strings.Fields(raw)[0], ref, got)
		}

		// Garbage after the handshake: an application-data record that fails authentication.
		garbage := func(addr string) string {
			c, err := tls.Dial("tcp", addr, tlsdClientConfig(nil))
			if err != nil {
				return "handshake: " + err.Error()
			}
			defer c.Close()
			br, failed := tlsdGetRoot(c, 5*time.Second)
			if failed != "" {
				return failed
			}
			c.NetConn().Write(append([]byte{0x17, 0x03, 0x03, 0x00, 40}, bytes.Repeat([]byte{0xa5}, 40)...))
			_, err1 := br.ReadByte()
			rest, err2 := io.ReadAll(c.NetConn())
			if err2 == nil {
				err2 = io.EOF
			}
			// net/http sometimes sends one more record after its fatal alert (its Close's
			// close_notify, racing its reader: crypto/tls's sendAlert does not look at the error
			// the alert left); etls sends nothing after the alert (docs/tls.md, "close_notify sent
			// after a TLS error" was fixed). Only what the client can use is compared.
			if len(rest) > 24 {
				return fmt.Sprintf("tls read: %v; then %d more bytes", err1, len(rest))
			}
			return fmt.Sprintf("tls read: %v; then %s", err1, tlsdEnd(err2))
		}
		tlsdCompare(t, "garbage record after the handshake", garbage(p.ref), garbage(p.eddy))

		// A handshake that stalls half-way: the connection ends within ReadHeaderTimeout (net/http
		// closes it, etls resets it: documented in docs/tls.md).
		stall := func(addr string) string {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
			c.SetReadDeadline(time.Now().Add(6 * time.Second))
			n, err := c.Read(make([]byte, 1))
			return fmt.Sprintf("%d bytes, %s", n, tlsdEnd(err))
		}
		ref, got := tlsdBoth(stall, p.ref, p.eddy)
		if ref != "0 bytes, EOF" || got != "0 bytes, reset" {
			t.Errorf("stalled handshake: net/http %s, eddy %s; want EOF and reset (documented)", ref, got)
		} else {
			t.Logf("documented difference: stalled handshake: net/http %s, eddy %s", ref, got)
		}
		lastLine := func(l *syncLog) string {
			lines := strings.Split(strings.TrimSpace(l.String()), "\n")
			return tlsdNorm(lines[len(lines)-1])
		}
		t.Logf("stalled handshake's log:\n  net/http: %s\n  eddy:     %s", lastLine(p.refLog), lastLine(p.eddyLog))

		// A client gone without close_notify, idle between requests: both servers close the
		// connection (ConnState reaches StateClosed).
		idleGone := func(addr string) string {
			c, err := tls.Dial("tcp", addr, tlsdClientConfig(nil))
			if err != nil {
				return "handshake: " + err.Error()
			}
			if _, failed := tlsdGetRoot(c, 5*time.Second); failed != "" {
				c.Close()
				return failed
			}
			local := c.LocalAddr().String()
			c.NetConn().Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				s, _ := states.Load(local)
				if s == http.StateClosed || time.Now().After(deadline) {
					return fmt.Sprint(s)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		tlsdCompare(t, "idle client gone without close_notify: last ConnState", idleGone(p.ref), idleGone(p.eddy))

		// In the middle of a body: the handler's read fails.
		bodyGone := func(addr string) string {
			c, err := tls.Dial("tcp", addr, tlsdClientConfig(nil))
			if err != nil {
				return "handshake: " + err.Error()
			}
			io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
			time.Sleep(50 * time.Millisecond) // not needed for the outcome; lets the handler start reading
			c.NetConn().Close()
			select {
			case s := <-bodyErr:
				return "handler's body read: " + s
			case <-time.After(5 * time.Second):
				return "handler's body read did not end"
			}
		}
		tlsdCompare(t, "client gone without close_notify mid-body", bodyGone(p.ref), bodyGone(p.eddy))
	})
}

// tlsdRecConn records the types of the TLS records a client receives.
type tlsdRecConn struct {
	net.Conn
	mu    sync.Mutex
	buf   []byte
	types []byte
}

func (c *tlsdRecConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.buf = append(c.buf, b[:n]...)
	for len(c.buf) >= 5 {
		l := 5 + (int(c.buf[3])<<8 | int(c.buf[4]))
		if len(c.buf) < l {
			break
		}
		c.types = append(c.types, c.buf[0])
		c.buf = c.buf[l:]
	}
	c.mu.Unlock()
	return n, err
}

func (c *tlsdRecConn) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.types) }

// TestTLSDiffShutdownIdle: Shutdown with an idle keep-alive TLS connection: what the client receives
// after its response (close_notify, then the end), TLS 1.2 (the alert's record type is visible)
// and 1.3.
func TestTLSDiffShutdownIdle(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			p := tlsdStart(t, engine, serverCfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}), false, nil)
			observe := func(addr string, shutdown func(context.Context) error) string {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				rc := &tlsdRecConn{Conn: raw}
				c := tls.Client(rc, tlsdClientConfig(func(c *tls.Config) { c.MaxVersion = vers }))
				defer c.Close()
				br, failed := tlsdGetRoot(c, 10*time.Second)
				if failed != "" {
					return failed
				}
				n := rc.count()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := shutdown(ctx); err != nil {
					return "Shutdown: " + err.Error()
				}
				_, err = br.ReadByte()
				rc.mu.Lock()
				after := append([]byte(nil), rc.types[n:]...)
				rc.mu.Unlock()
				if vers == tls.VersionTLS13 {
					// Encrypted: every record is application data (0x17); count them.
					return fmt.Sprintf("%d record(s) %x, then %s", len(after), after, tlsdEnd(err))
				}
				return fmt.Sprintf("records %x, then %s", after, tlsdEnd(err))
			}
			ref := observe(p.ref, p.refSrv.Shutdown)
			got := observe(p.eddy, p.eddySrv.Shutdown)
			tlsdCompare(t, fmt.Sprintf("TLS %x Shutdown with an idle connection", vers), ref, got)
		}
	})
}

// TestTLSDiffLargeBodiesAndResumption: 4 MiB both ways on one kept-alive connection, and a second
// connection that resumes the first one's session (r.TLS.DidResume).
func TestTLSDiffLargeBodiesAndResumption(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	big := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 4<<20/32)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Write(b)
		case "/big":
			w.Write(big)
		case "/resumed":
			fmt.Fprint(w, r.TLS.DidResume)
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		p := tlsdStart(t, engine, serverCfg, h, false, nil)
		bodies := func(addr string) string {
			tr := &http.Transport{TLSClientConfig: tlsdClientConfig(nil)}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			var out []string
			{
				for _, path := range []string{"/echo", "/big"} {
					var reused bool
					ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
						GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
					var body io.Reader
					method := "GET"
					if path == "/echo" {
						method, body = "POST", bytes.NewReader(big)
					}
					req, _ := http.NewRequestWithContext(ctx, method, "https://"+addr+path, body)
					resp, err := cl.Do(req)
					if err != nil {
						out = append(out, tlsdNorm(err.Error()))
						continue
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					out = append(out, fmt.Sprintf("%s %d equal=%v err=%v reused=%v", path, resp.StatusCode, bytes.Equal(b, big), err, reused))
				}
			}
			return strings.Join(out, "; ")
		}
		tlsdCompare(t, "4 MiB both ways, kept alive", bodies(p.ref), bodies(p.eddy))

		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			resume := func(addr string) string {
				cfg := tlsdClientConfig(func(c *tls.Config) {
					c.MaxVersion = vers
					c.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				})
				tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
				defer tr.CloseIdleConnections()
				cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				var out []string
				for range 3 {
					resp, err := cl.Get("https://" + addr + "/resumed")
					if err != nil {
						out = append(out, tlsdNorm(err.Error()))
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					out = append(out, fmt.Sprintf("handler %s client %v", b, resp.TLS.DidResume))
				}
				return strings.Join(out, "; ")
			}
			tlsdCompare(t, fmt.Sprintf("TLS %x session resumption", vers), resume(p.ref), resume(p.eddy))
		}
	})
}

// tlsdWaitLog waits until the log has n lines and returns them, addresses taken out.
func tlsdWaitLog(l *syncLog, n int) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := strings.TrimSpace(l.String())
		if (s != "" && strings.Count(s, "\n")+1 >= n) || time.Now().After(deadline) {
			return tlsdNorm(s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTLSDiffHandshakeErrorLogs: what each server logs for a failed handshake.
func TestTLSDiffHandshakeErrorLogs(t *testing.T) {
	pool, _ := advCA(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		serverCfg, _ := testtls.Configs()
		mtls := serverCfg.Clone()
		mtls.ClientAuth = tls.RequireAndVerifyClientCert
		mtls.ClientCAs = pool
		probes := []struct {
			name string
			cfg  *tls.Config
			run  func(addr string)
		}{
			{"wrong name", serverCfg, func(addr string) {
				tlsdGet(addr, tlsdClientConfig(func(c *tls.Config) { c.ServerName = "wrong.example" }))
			}},
			{"no client certificate, TLS 1.2", mtls, func(addr string) {
				tlsdGet(addr, tlsdClientConfig(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }))
			}},
			{"no client certificate, TLS 1.3", mtls, func(addr string) { tlsdGet(addr, tlsdClientConfig(nil)) }},
			{"plain HTTP", serverCfg, func(addr string) { tlsdRaw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second) }},
			{"not TLS", serverCfg, func(addr string) { tlsdRaw(t, addr, "hello there\r\n", 5*time.Second) }},
			{"h2 only", serverCfg, func(addr string) {
				tlsdGet(addr, tlsdClientConfig(func(c *tls.Config) { c.NextProtos = []string{"h2"} }))
			}},
		}
		for _, pr := range probes {
			p := tlsdStart(t, engine, pr.cfg, http.NotFoundHandler(), false, nil)
			pr.run(p.ref)
			pr.run(p.eddy)
			tlsdCompare(t, "log: "+pr.name, tlsdWaitLog(p.refLog, 1), tlsdWaitLog(p.eddyLog, 1))
		}
	})
}

// TestTLSDiffMoreResumption: a resumed session keeps the client's certificate (r.TLS.PeerCertificates);
// a GetConfigForClient configuration offering h2 (which http1 clones per handshake to take h2 out)
// still resumes sessions.
func TestTLSDiffMoreResumption(t *testing.T) {
	pool, clientCert := advCA(t)
	serverCfg, _ := testtls.Configs()
	inner := serverCfg.Clone()
	inner.NextProtos = []string{"h2", "http/1.1"}
	mtls := serverCfg.Clone()
	mtls.ClientAuth = tls.RequireAndVerifyClientCert
	mtls.ClientCAs = pool
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		h := new(tlsdState)
		for _, v := range []struct {
			name string
			cfg  *tls.Config
		}{
			{"client certificate", mtls},
			{"GetConfigForClient with h2", &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return inner, nil }}},
		} {
			p := tlsdStart(t, engine, v.cfg, h, false, nil)
			for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				run := func(addr string) string {
					cfg := tlsdClientConfig(func(c *tls.Config) {
						c.MaxVersion = vers
						c.Certificates = []tls.Certificate{clientCert}
						c.ClientSessionCache = tls.NewLRUClientSessionCache(4)
						c.NextProtos = []string{"http/1.1"}
					})
					var out []string
					for range 2 {
						out = append(out, tlsdGet(addr, cfg))
					}
					return strings.Join(out, " | ")
				}
				// net/http (HTTP/1 only) leaves GetConfigForClient's NextProtos alone; with an
				// http/1.1-only client both negotiate http/1.1.
				tlsdCompare(t, fmt.Sprintf("%s TLS %x resumption", v.name, vers), run(p.ref), run(p.eddy))
			}
		}
	})
}

// TestTLSDiffClientGoneDuringDownload: a client that vanishes (no close_notify, unread data: a
// reset) while the handler writes a large response: the handler's writes fail and it returns, and
// the connection is closed, in both.
func TestTLSDiffClientGoneDuringDownload(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		res := make(chan string, 1)
		var states sync.Map
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var err error
			for i := 0; i < 2048 && err == nil; i++ { // 64 MiB at most
				_, err = w.Write(chunk)
			}
			res <- fmt.Sprintf("handler's write failed: %v", err != nil)
		})
		p := tlsdStart(t, engine, serverCfg, h, false, func(rs *http.Server, es *http1.Server) {
			rs.ConnState = func(c net.Conn, s http.ConnState) { states.Store(c.RemoteAddr().String(), s) }
			es.ConnState = rs.ConnState
		})
		run := func(addr string) string {
			c, err := tls.Dial("tcp", addr, tlsdClientConfig(nil))
			if err != nil {
				return "handshake: " + err.Error()
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, err := io.ReadFull(c, make([]byte, 100<<10)); err != nil {
				c.Close()
				return "read: " + err.Error()
			}
			local := c.LocalAddr().String()
			c.NetConn().Close()
			var out string
			select {
			case out = <-res:
			case <-time.After(10 * time.Second):
				return "the handler did not return"
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				s, _ := states.Load(local)
				if s == http.StateClosed || time.Now().After(deadline) {
					return fmt.Sprintf("%s; last ConnState %v", out, s)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		tlsdCompare(t, "client gone during a download", run(p.ref), run(p.eddy))
	})
}

// TestTLSDiffCloseNotifyAfterRequests: requests (a 4 MiB answer among them) followed at once by the
// client's close_notify: every answer, then what ends the connection (TLS 1.2: the records' types
// are visible).
func TestTLSDiffCloseNotifyAfterRequests(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(big)
			return
		}
		io.WriteString(w, "small")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		p := tlsdStart(t, engine, serverCfg, h, false, nil)
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			run := func(addr string) string {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				rc := &tlsdRecConn{Conn: raw}
				c := tls.Client(rc, tlsdClientConfig(func(c *tls.Config) { c.MaxVersion = vers }))
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
				c.CloseWrite()
				br := bufio.NewReader(c)
				var out []string
				for range 3 {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						out = append(out, "response: "+err.Error())
						break
					}
					b, err := io.ReadAll(resp.Body)
					out = append(out, fmt.Sprintf("%d bytes %v", len(b), err))
				}
				_, err = br.ReadByte()
				rc.mu.Lock()
				last := rc.types[len(rc.types)-1] // 0x15 (TLS 1.2): an alert, close_notify
				rc.mu.Unlock()
				out = append(out, fmt.Sprintf("last record %x, then %s", last, tlsdEnd(err)))
				return strings.Join(out, "; ")
			}
			tlsdCompare(t, fmt.Sprintf("TLS %x close_notify after 3 requests", vers), run(p.ref), run(p.eddy))
		}
	})
}

// tlsdGateConn holds the client's second write (its Finished) until gate closes.
type tlsdGateConn struct {
	net.Conn
	writes  int
	blocked chan struct{}
	gate    chan struct{}
}

func (c *tlsdGateConn) Write(b []byte) (int, error) {
	c.writes++
	if c.writes == 2 {
		close(c.blocked)
		<-c.gate
	}
	return c.Conn.Write(b)
}

// TestTLSDiffShutdownDuringHandshake: Shutdown while a client is in the middle of its handshake
// (its Finished held back), the client then finishes and sends a request.
func TestTLSDiffShutdownDuringHandshake(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		p := tlsdStart(t, engine, serverCfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}), false, nil)
		run := func(addr string, shutdown func(context.Context) error) string {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			gc := &tlsdGateConn{Conn: raw, blocked: make(chan struct{}), gate: make(chan struct{})}
			c := tls.Client(gc, tlsdClientConfig(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }))
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			hs := make(chan error, 1)
			go func() { hs <- c.Handshake() }()
			<-gc.blocked
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
				defer cancel()
				done <- shutdown(ctx)
			}()
			time.Sleep(300 * time.Millisecond)
			close(gc.gate)
			var out string
			if err := <-hs; err != nil {
				out = "handshake: " + tlsdEnd(err)
			} else if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				out = "write: " + tlsdEnd(err)
			} else if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
				out = "response: " + tlsdEnd(err)
			} else {
				b, _ := io.ReadAll(resp.Body)
				out = fmt.Sprintf("%d %s close=%v", resp.StatusCode, b, resp.Close)
			}
			return fmt.Sprintf("%s; Shutdown: %v", out, <-done)
		}
		// net/http finishes the handshake and closes before the request (the connection never
		// became active); etls cuts the handshake. Neither serves the request.
		refc := make(chan string, 1)
		go func() { refc <- run(p.ref, p.refSrv.Shutdown) }()
		got := run(p.eddy, p.eddySrv.Shutdown)
		ref := <-refc
		t.Logf("net/http: %s\neddy:     %s", ref, got)
		if !strings.HasSuffix(got, "Shutdown: <nil>") || strings.HasPrefix(got, "200") {
			t.Errorf("eddy: %s; want the request unserved and Shutdown nil, as net/http: %s", got, ref)
		}
	})
}

// TestTLSDiffTimeoutCloses: the server's own closes on a timeout (IdleTimeout on a kept-alive
// connection, ReadHeaderTimeout on half a head): close_notify first (TLS 1.2: an alert record),
// then the end.
func TestTLSDiffTimeoutCloses(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		p := tlsdStart(t, engine, serverCfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}), false, func(rs *http.Server, es *http1.Server) {
			rs.IdleTimeout, es.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
			rs.ReadHeaderTimeout, es.ReadHeaderTimeout = 500*time.Millisecond, 500*time.Millisecond
		})
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, half := range []bool{false, true} {
			run := func(addr string) string {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				rc := &tlsdRecConn{Conn: raw}
				c := tls.Client(rc, tlsdClientConfig(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }))
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				if half {
					io.WriteString(c, "GET / HTTP/1.1\r\nHo")
				} else {
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						return "response: " + err.Error()
					}
					io.ReadAll(resp.Body)
				}
				b, err := io.ReadAll(br)
				if err == nil {
					err = io.EOF
				}
				rc.mu.Lock()
				last := rc.types[len(rc.types)-1]
				rc.mu.Unlock()
				answer := "no answer"
				if half && strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
					// Documented (http1's doc): a head cut short by ReadHeaderTimeout closes the
					// connection without an answer; net/http answers 400 first.
					answer = "no answer" // (net/http: its 400)
				} else if len(b) > 0 {
					answer = fmt.Sprintf("%q", b)
				}
				return fmt.Sprintf("%s, last record %x, then %s", answer, last, tlsdEnd(err))
			}
			what := "IdleTimeout after a response"
			if half {
				what = "ReadHeaderTimeout on half a head"
			}
			wg.Go(func() {
				ref, got := tlsdBoth(run, p.ref, p.eddy)
				tlsdCompare(t, what, ref, got)
			})
		}
	})
}

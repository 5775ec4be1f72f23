package etls_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// Differential test of etls as a byte stream against crypto/tls's tls.Server and tls.Client over
// package net: the same scripted peer, the same configurations, every engine; what the handler (or
// the application's reads) sees and what the peer receives are compared, case by case.

// sdEnd classifies how a stream ended (an error of a read, or of OnClose).
func sdEnd(err error) string {
	switch {
	case err == nil:
		return "none"
	case err == io.EOF:
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no end"
	}
	return err.Error()
}

// sdWire is the peer's raw connection: it records what the peer reads, and can corrupt the next
// record the peer writes (a byte of its ciphertext flipped).
type sdWire struct {
	net.Conn
	mu   sync.Mutex
	got  []byte
	flip atomic.Bool
}

func (w *sdWire) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	w.mu.Lock()
	w.got = append(w.got, b[:n]...)
	w.mu.Unlock()
	return n, err
}

func (w *sdWire) Write(b []byte) (int, error) {
	if len(b) > 8 && w.flip.CompareAndSwap(true, false) {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 0x40 // the last byte of the AEAD tag
	}
	return w.Conn.Write(b)
}

// recordTypes lists the content types of the whole records in b.
func recordTypes(b []byte) []byte {
	var ts []byte
	for len(b) >= 5 {
		l := int(b[3])<<8 | int(b[4])
		if len(b) < 5+l {
			break
		}
		ts = append(ts, b[0])
		b = b[5+l:]
	}
	return ts
}

// sdPeerView is what a scripted peer observed: the plaintext it read, how its TLS reads ended, the
// type of the last record on the wire (alerts are visible under TLS 1.2) and how the TCP stream
// ended behind the TLS one.
type sdPeerView struct {
	data    []byte
	end     string
	last    byte
	rawEnd  string
	hsError string
}

func (v sdPeerView) String() string {
	return fmt.Sprintf("%d bytes (%x), end %q, last record %d, TCP %s, handshake %q", len(v.data), sha256.Sum256(v.data), v.end, v.last, v.rawEnd, v.hsError)
}

// readPeer reads tc to its end and then the raw connection to its end.
func readPeer(tc *tls.Conn, w *sdWire) sdPeerView {
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var v sdPeerView
	buf := make([]byte, 32<<10)
	for {
		n, err := tc.Read(buf)
		v.data = append(v.data, buf[:n]...)
		if err != nil {
			v.end = sdEnd(err)
			break
		}
	}
	w.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, w)
	if err == nil {
		err = io.EOF
	}
	v.rawEnd = sdEnd(err)
	w.mu.Lock()
	if ts := recordTypes(w.got); len(ts) > 0 {
		v.last = ts[len(ts)-1]
	}
	w.mu.Unlock()
	return v
}

// sdServerView is what the server's application saw of one connection.
type sdServerView struct {
	data  []byte
	end   string
	state tls.ConnectionState
}

func (v sdServerView) String() string {
	return fmt.Sprintf("%d bytes (%x), end %q", len(v.data), sha256.Sum256(v.data), v.end)
}

// Server modes: what the application does with its connections.
const (
	sdEcho = iota // writes back what it reads; closes at the input's end
	sdBye         // echo; at the input's end (EOF), writes "bye" and closes
	sdBulk        // at its first input, writes sdBulkSize bytes and closes
)

const sdBulkSize = 1 << 20

func sdBulkBytes() []byte {
	b := make([]byte, sdBulkSize)
	fillPattern(b, 0)
	return b
}

// sdEtlsServer serves cfg with etls on an engine of kind k, in mode; each connection's view goes to
// views, each failed handshake's reason (HandshakeError.Err) to hsErrs.
func sdEtlsServer(t *testing.T, k eddy.EngineKind, cfg *tls.Config, mode int, views chan<- sdServerView, hsErrs chan<- error) string {
	type connState struct {
		view      sdServerView
		closedByU bool
		peerEOF   bool // OnPeerClosed ran: the handler saw the input's end (io.EOF for crypto/tls)
	}
	bulk := sdBulkBytes()
	h := &advHC{}
	h.open = func(c eddy.Conn) {
		st, _ := etls.ConnectionState(c)
		c.SetContext(&connState{view: sdServerView{state: st}})
	}
	h.data = func(c eddy.Conn) {
		s := c.Context().(*connState)
		b, _ := c.Next(-1)
		first := len(s.view.data) == 0
		s.view.data = append(s.view.data, b...)
		switch mode {
		case sdEcho, sdBye:
			c.Write(b)
		case sdBulk:
			if first {
				c.Write(bulk)
				s.closedByU = true
				c.Close()
			}
		}
	}
	h.peer = func(c eddy.Conn) bool {
		if mode != sdBye {
			return false
		}
		c.Write([]byte("bye"))
		c.Context().(*connState).closedByU = true
		c.Context().(*connState).peerEOF = true
		c.Close()
		return true
	}
	h.closed = func(c eddy.Conn, err error) {
		s := c.Context().(*connState)
		s.view.end = sdEnd(err)
		if s.peerEOF && err == nil {
			s.view.end = "EOF" // the handler closed after OnPeerClosed: OnClose reports nil
		}
		if s.closedByU && mode == sdBulk {
			s.view.end = "closed: " + sdEnd(err)
		}
		views <- s.view
	}
	eh := etls.Server(h, cfg)
	eh.HandshakeTimeout = 5 * time.Second
	eh.OnHandshakeError = func(_ eddy.Conn, err error) {
		var he *etls.HandshakeError
		if errors.As(err, &he) {
			err = he.Err
		}
		hsErrs <- err
	}
	return serve(t, k, eh)
}

// sdStdServer is the same application on crypto/tls over a net.Listener, a goroutine per
// connection: the handshake, then reads of 4 KiB; at the end it closes the tls.Conn (as a deferred
// Close does).
func sdStdServer(t *testing.T, cfg *tls.Config, mode int, views chan<- sdServerView, hsErrs chan<- error) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bulk := sdBulkBytes()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := tls.Server(nc, cfg)
				defer tc.Close()
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil {
					hsErrs <- err
					return
				}
				v := sdServerView{state: tc.ConnectionState()}
				buf := make([]byte, 4096)
				for {
					n, err := tc.Read(buf)
					v.data = append(v.data, buf[:n]...)
					if n > 0 && (mode == sdEcho || mode == sdBye) {
						tc.Write(buf[:n])
					}
					if n > 0 && mode == sdBulk {
						tc.Write(bulk)
						v.end = "closed: none"
						views <- v
						return
					}
					if err != nil {
						if err == io.EOF && mode == sdBye {
							tc.Write([]byte("bye"))
						}
						v.end = sdEnd(err)
						views <- v
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// sdPeerDial connects a crypto/tls client with cfg to addr through an sdWire.
func sdPeerDial(addr string, cfg *tls.Config) (*tls.Conn, *sdWire, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	w := &sdWire{Conn: nc}
	tc := tls.Client(w, cfg)
	return tc, w, tc.Handshake()
}

// roundTrip writes msg and reads it back (the echo), failing the test otherwise.
func roundTrip(t *testing.T, tc *tls.Conn, msg string) {
	t.Helper()
	if _, err := tc.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(tc, got); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// sdStreamCase is a peer's script against a server in mode.
type sdStreamCase struct {
	name   string
	mode   int
	script func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView
}

func sdStreamCases() []sdStreamCase {
	return []sdStreamCase{
		{"close_notify and close", sdEcho, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			tc.Close()
			return sdPeerView{}
		}},
		{"close_notify, TCP open", sdBye, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			tc.CloseWrite()
			return readPeer(tc, w)
		}},
		{"close_notify, then half-close", sdBye, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			tc.CloseWrite()
			w.Conn.(*net.TCPConn).CloseWrite()
			return readPeer(tc, w)
		}},
		{"FIN without close_notify", sdBye, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			w.Conn.(*net.TCPConn).CloseWrite()
			return readPeer(tc, w)
		}},
		{"FIN inside a record", sdBye, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			w.Conn.Write([]byte{23, 3, 3, 0, 40, 1, 2, 3})
			w.Conn.(*net.TCPConn).CloseWrite()
			return readPeer(tc, w)
		}},
		{"server closes with pending output", sdBulk, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			tc.Write([]byte("go"))
			return readPeer(tc, w)
		}},
		{"corrupted record", sdEcho, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			w.flip.Store(true)
			tc.Write([]byte("forged"))
			return readPeer(tc, w)
		}},
		{"oversized record", sdEcho, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			w.Conn.Write([]byte{23, 3, 3, 0x48, 0x01, 1, 2, 3}) // 18433 bytes: over both versions' bound
			return readPeer(tc, w)
		}},
		{"plain text after the handshake", sdEcho, func(t *testing.T, tc *tls.Conn, w *sdWire) sdPeerView {
			roundTrip(t, tc, "hello")
			w.Conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			return readPeer(tc, w)
		}},
	}
}

// sdDocumented lists the differences etls documents (package doc), by case name: after an error of
// the input etls closes without close_notify, where a crypto/tls application's Close after the
// failed Read sends one.
var sdDocumented = map[string]string{
	"FIN inside a record":         "no close_notify after io.ErrUnexpectedEOF",
	"client: FIN inside a record": "no close_notify after io.ErrUnexpectedEOF",
	"client: HelloRequest":        "no close_notify behind the no_renegotiation alert",
}

func sdWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		var zero T
		return zero
	}
}

// TestStreamServerAgainstCryptoTLS holds an etls server, as a stream, against tls.Server on package
// net: echo of 1 B to 1 MiB in random chunks, the peer's close_notify (with and without a FIN, and
// with the TCP stream left open), a FIN without close_notify at a record boundary and inside a
// record, a close with 1 MiB of output pending, a corrupted record, an oversized record and plain
// text after the handshake; each under TLS 1.2 (whose alerts are visible on the wire) and TLS 1.3.
// The application's view (plaintext, and how the stream ended) and the peer's (plaintext, how its
// reads ended, the last record, the TCP end) must be equal.
func TestStreamServerAgainstCryptoTLS(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			ccfg := p.client.Clone()
			ccfg.MaxVersion = vers
			t.Run(fmt.Sprintf("echo/%x", vers), func(t *testing.T) {
				views := make(chan sdServerView, 4)
				hsErrs := make(chan error, 4)
				addrs := []string{
					sdEtlsServer(t, k, p.server, sdEcho, views, hsErrs),
					sdStdServer(t, p.server, sdEcho, views, hsErrs),
				}
				for i, addr := range addrs {
					tc, w, err := sdPeerDial(addr, ccfg)
					if err != nil {
						t.Fatal(err)
					}
					rng := rand.New(rand.NewPCG(7, uint64(vers)))
					var all []byte
					for _, size := range []int{1, 100, 16<<10 + 1, 1 << 20} {
						msg := randBytes(rng, size)
						all = append(all, msg...)
						errc := make(chan error, 1)
						go func() {
							for rest := msg; len(rest) > 0; {
								n := min(len(rest), 1+rng.IntN(40000))
								if _, err := tc.Write(rest[:n]); err != nil {
									errc <- err
									return
								}
								rest = rest[n:]
							}
							errc <- nil
						}()
						got := make([]byte, size)
						if _, err := io.ReadFull(tc, got); err != nil {
							t.Fatalf("server %d, size %d: %v", i, size, err)
						}
						if err := <-errc; err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, msg) {
							t.Fatalf("server %d, size %d: the echo differs", i, size)
						}
					}
					tc.Close()
					w.Close()
					v := sdWait(t, views, "server view")
					if !bytes.Equal(v.data, all) || v.end != "EOF" {
						t.Errorf("server %d saw %v, want %d bytes and EOF", i, v, len(all))
					}
				}
			})
			for _, sc := range sdStreamCases() {
				t.Run(fmt.Sprintf("%s/%x", sc.name, vers), func(t *testing.T) {
					views := make(chan sdServerView, 4)
					hsErrs := make(chan error, 4)
					addrs := []string{
						sdEtlsServer(t, k, p.server, sc.mode, views, hsErrs),
						sdStdServer(t, p.server, sc.mode, views, hsErrs),
					}
					var pv [2]sdPeerView
					var sv [2]sdServerView
					for i, addr := range addrs {
						tc, w, err := sdPeerDial(addr, ccfg)
						if err != nil {
							t.Fatal(err)
						}
						pv[i] = sc.script(t, tc, w)
						sv[i] = sdWait(t, views, fmt.Sprintf("view of server %d (0: etls)", i))
						w.Close()
					}
					t.Logf("etls: server %v; peer %v", sv[0], pv[0])
					t.Logf("crypto/tls: server %v; peer %v", sv[1], pv[1])
					diff := ""
					if !bytes.Equal(sv[0].data, sv[1].data) || sv[0].end != sv[1].end {
						diff += fmt.Sprintf("server's view: etls %v, crypto/tls %v; ", sv[0], sv[1])
					}
					if !bytes.Equal(pv[0].data, pv[1].data) || pv[0].end != pv[1].end || pv[0].rawEnd != pv[1].rawEnd ||
						(vers == tls.VersionTLS12 && pv[0].last != pv[1].last) {
						diff += fmt.Sprintf("peer's view: etls %v, crypto/tls %v", pv[0], pv[1])
					}
					if diff != "" {
						if why, ok := sdDocumented[sc.name]; ok {
							t.Logf("documented difference (%s): %s", why, diff)
						} else {
							t.Error(diff)
						}
					}
				})
			}
		}
	})
}

// sdNamedConfig serves p's certificate with a configuration chosen by the client's server name, so
// that one listener of each kind covers the handshake cases.
func sdNamedConfig(p testPKI) *tls.Config {
	base := p.server.Clone()
	alpn := base.Clone()
	alpn.NextProtos = []string{"h2"}
	v13 := base.Clone()
	v13.MinVersion = tls.VersionTLS13
	auth := base.Clone()
	auth.ClientAuth = tls.RequireAnyClientCert
	state := base.Clone()
	state.NextProtos = []string{"h2", "http/1.1"}
	state.ClientAuth = tls.RequireAnyClientCert
	byName := map[string]*tls.Config{"alpn.test": alpn, "v13.test": v13, "auth.test": auth, "state.test": state}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		return byName[hi.ServerName], nil // nil: cfg itself
	}
	return cfg
}

// TestStreamHandshakeAgainstCryptoTLS: handshake failures (an untrusted certificate, no common ALPN
// protocol, no common version, a missing client certificate) and a successful handshake's
// ConnectionState, with session resumption, against tls.Server on package net: the server's error,
// and the client's error, records and end, must be equal.
func TestStreamHandshakeAgainstCryptoTLS(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		scfg := sdNamedConfig(p)
		views := make(chan sdServerView, 8)
		hsErrs := make(chan error, 8)
		addrs := []string{
			sdEtlsServer(t, k, scfg, sdEcho, views, hsErrs),
			sdStdServer(t, scfg, sdEcho, views, hsErrs),
		}
		insecure := func(name string) *tls.Config {
			return &tls.Config{ServerName: name, InsecureSkipVerify: true}
		}
		untrusted := &tls.Config{ServerName: "example.com"}
		noALPN := insecure("alpn.test")
		noALPN.NextProtos = []string{"foo"}
		old := insecure("v13.test")
		old.MaxVersion = tls.VersionTLS12
		for _, fc := range []struct {
			name string
			cfg  *tls.Config
		}{
			{"untrusted certificate", untrusted},
			{"no common ALPN", noALPN},
			{"no common version", old},
			{"no client certificate", insecure("auth.test")},
		} {
			var pv [2]sdPeerView
			var se [2]string
			var types [2][]byte
			for i, addr := range addrs {
				tc, w, err := sdPeerDial(addr, fc.cfg)
				if err != nil {
					pv[i].hsError = err.Error()
				} else {
					tc.Write([]byte("x"))
					pv[i] = readPeer(tc, w)
				}
				tc.SetReadDeadline(time.Now().Add(5 * time.Second))
				w.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, rerr := io.Copy(io.Discard, w)
				if rerr == nil {
					rerr = io.EOF
				}
				pv[i].rawEnd = sdEnd(rerr)
				w.mu.Lock()
				types[i] = recordTypes(w.got)
				w.mu.Unlock()
				se[i] = sdEnd(sdWait(t, hsErrs, "handshake error"))
				w.Close()
			}
			t.Logf("%s: etls: server %q, client %v, records %v", fc.name, se[0], pv[0], types[0])
			t.Logf("%s: crypto/tls: server %q, client %v, records %v", fc.name, se[1], pv[1], types[1])
			if se[0] != se[1] || pv[0].String() != pv[1].String() || !bytes.Equal(types[0], types[1]) {
				t.Errorf("%s: etls and crypto/tls differ", fc.name)
			}
		}

		// A successful handshake: ALPN, a client certificate, the server name; then a resumption.
		cert := p.server.Certificates[0]
		var states [2][2]tls.ConnectionState // [server][first, resumed], the server's view
		var cstates [2][2]tls.ConnectionState
		for i, addr := range addrs {
			ccfg := insecure("state.test")
			ccfg.NextProtos = []string{"http/1.1"}
			ccfg.Certificates = []tls.Certificate{cert}
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for j := range 2 {
				tc, w, err := sdPeerDial(addr, ccfg)
				if err != nil {
					t.Fatal(err)
				}
				roundTrip(t, tc, "state") // takes the session tickets too
				cstates[i][j] = tc.ConnectionState()
				tc.Close()
				w.Close()
				states[i][j] = sdWait(t, views, "server view").state
			}
		}
		show := func(st tls.ConnectionState) string {
			var certs []string
			for _, c := range st.PeerCertificates {
				certs = append(certs, hex.EncodeToString(c.Raw[:16]))
			}
			return fmt.Sprintf("version %x suite %x name %q alpn %q resumed %v complete %v peer certs %v",
				st.Version, st.CipherSuite, st.ServerName, st.NegotiatedProtocol, st.DidResume, st.HandshakeComplete, certs)
		}
		for j := range 2 {
			a, b := show(states[0][j]), show(states[1][j])
			t.Logf("server state %d: etls %s; crypto/tls %s", j, a, b)
			if a != b || show(cstates[0][j]) != show(cstates[1][j]) {
				t.Errorf("connection %d: server states differ: etls %s, crypto/tls %s (clients: %s / %s)",
					j, a, b, show(cstates[0][j]), show(cstates[1][j]))
			}
		}
		if !states[0][1].DidResume || !cstates[0][1].DidResume {
			t.Errorf("the second connection to etls was not resumed")
		}
		if states[0][0].NegotiatedProtocol != "http/1.1" || len(states[0][0].PeerCertificates) != 1 || states[0][0].ServerName != "state.test" {
			t.Errorf("etls's state: %s", show(states[0][0]))
		}
	})
}

// ---- the client side ----

// sdClientView is what a client application saw: the plaintext read and how the stream ended.
type sdClientView struct {
	data []byte
	end  string
}

// sdClient is a client under test: etls's (on an engine) or crypto/tls's (a goroutine reading).
type sdClient interface {
	write(b []byte)
	close()
	closeWrite() // close_notify and a FIN, behind the writes
	state() tls.ConnectionState
	received() int                  // plaintext bytes read so far
	view(t *testing.T) sdClientView // waits for the stream's end
}

type sdEtlsClient struct {
	c    *etls.Conn
	mu   sync.Mutex
	data []byte
	done chan string
}

func (c *sdEtlsClient) write(b []byte) { c.c.AsyncWrite(bytes.Clone(b), nil) }
func (c *sdEtlsClient) close()         { c.c.Close() }
func (c *sdEtlsClient) closeWrite() {
	c.c.Execute(func(ec eddy.Conn) { ec.CloseWrite() })
}
func (c *sdEtlsClient) state() tls.ConnectionState { return c.c.ConnectionState() }
func (c *sdEtlsClient) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data)
}

func (c *sdEtlsClient) view(t *testing.T) sdClientView {
	end := sdWait(t, c.done, "OnClose")
	c.mu.Lock()
	defer c.mu.Unlock()
	return sdClientView{data: c.data, end: end}
}

// sdEtlsDialer is an etls client engine of kind k whose connections are sdEtlsClients.
func sdEtlsDialer(t *testing.T, k eddy.EngineKind) func(addr string, cfg *tls.Config) (sdClient, error) {
	h := &advH{}
	h.data = func(c eddy.Conn) {
		b, _ := c.Next(-1)
		if sc, ok := c.Context().(*sdEtlsClient); ok {
			sc.mu.Lock()
			sc.data = append(sc.data, b...)
			sc.mu.Unlock()
		}
	}
	h.open = func(c eddy.Conn) { c.SetContext(&sdEtlsClient{c: c.(*etls.Conn), done: make(chan string, 1)}) }
	h.closed = func(c eddy.Conn, err error) { c.Context().(*sdEtlsClient).done <- sdEnd(err) }
	eh := etls.Client(h, nil)
	e := startClientEngine(t, k, eh)
	return func(addr string, cfg *tls.Config) (sdClient, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := eh.Dial(ctx, e, addr, cfg).Await(ctx)
		if err != nil {
			return nil, err
		}
		return c.Context().(*sdEtlsClient), nil
	}
}

type sdStdClient struct {
	tc   *tls.Conn
	n    atomic.Int64
	done chan sdClientView
}

func (c *sdStdClient) received() int { return int(c.n.Load()) }

func (c *sdStdClient) write(b []byte) { c.tc.Write(b) }
func (c *sdStdClient) close()         { c.tc.Close() }
func (c *sdStdClient) closeWrite() {
	c.tc.CloseWrite()
	c.tc.NetConn().(*net.TCPConn).CloseWrite()
}
func (c *sdStdClient) state() tls.ConnectionState { return c.tc.ConnectionState() }
func (c *sdStdClient) view(t *testing.T) sdClientView {
	return sdWait(t, c.done, "end of the reads")
}

// sdStdDial dials addr with tls.Client over package net; a goroutine reads to the end and then
// closes the tls.Conn, as an application's deferred Close does (etls closes at the input's end).
func sdStdDial(addr string, cfg *tls.Config) (sdClient, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	cfg = cfg.Clone()
	cfg.Renegotiation = tls.RenegotiateNever // as etls forces it
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	c := &sdStdClient{tc: tc, done: make(chan sdClientView, 1)}
	go func() {
		defer tc.Close()
		var v sdClientView
		buf := make([]byte, 4096)
		for {
			n, err := tc.Read(buf)
			v.data = append(v.data, buf[:n]...)
			c.n.Add(int64(n))
			if err != nil {
				v.end = sdEnd(err)
				c.done <- v
				return
			}
		}
	}()
	return c, nil
}

// sdPeerServer accepts one connection at a time on a listener and runs script on it as a crypto/tls
// server (cfg) over an sdWire, returning the script's view through the channel.
func sdPeerServer(t *testing.T, cfg *tls.Config, script func(tc *tls.Conn, w *sdWire) sdPeerView) (string, <-chan sdPeerView) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan sdPeerView, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.SetDeadline(time.Now().Add(15 * time.Second))
			w := &sdWire{Conn: nc}
			tc := tls.Server(w, cfg)
			if err := tc.Handshake(); err != nil {
				out <- sdPeerView{hsError: err.Error()}
			} else {
				out <- script(tc, w)
			}
			nc.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), out
}

// sdHelloRequest injects, behind a TLS 1.2 handshake, a HelloRequest sealed with the server's keys
// (AES-128-GCM, from the key log's master secret and the randoms the wire carried), as the server's
// first record after its Finished.
func sdHelloRequest(keylog *bytes.Buffer, in, out []byte) ([]byte, error) {
	// out: what the server wrote (its ServerHello first); in: what it read (the ClientHello first).
	if len(in) < 43 || len(out) < 43 || in[5] != 1 || out[5] != 2 {
		return nil, fmt.Errorf("unexpected first records %x / %x", in[:min(6, len(in))], out[:min(6, len(out))])
	}
	clientRandom, serverRandom := in[11:43], out[11:43]
	var master []byte
	for _, line := range strings.Split(keylog.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "CLIENT_RANDOM" {
			master, _ = hex.DecodeString(f[2])
		}
	}
	if master == nil {
		return nil, errors.New("no master secret in the key log")
	}
	kb := prf12(master, "key expansion", append(append([]byte(nil), serverRandom...), clientRandom...), 40)
	block, _ := aes.NewCipher(kb[16:32])
	aead, _ := cipher.NewGCM(block)
	var s8 [8]byte
	binary.BigEndian.PutUint64(s8[:], 1) // 0 was the server's Finished
	content := []byte{0, 0, 0, 0}
	nonce := append(append([]byte(nil), kb[36:40]...), s8[:]...)
	aad := append(append([]byte(nil), s8[:]...), 22, 3, 3, 0, byte(len(content)))
	ct := aead.Seal(nil, nonce, content, aad)
	n := 8 + len(ct)
	return append(append([]byte{22, 3, 3, byte(n >> 8), byte(n)}, s8[:]...), ct...), nil
}

// sdRecWire records both directions of a server's raw connection until stopped.
type sdRecWire struct {
	sdWire
	wmu sync.Mutex
	put []byte
	rec atomic.Bool
}

func (r *sdRecWire) Write(b []byte) (int, error) {
	if r.rec.Load() {
		r.wmu.Lock()
		r.put = append(r.put, b...)
		r.wmu.Unlock()
	}
	return r.sdWire.Write(b)
}

// TestStreamClientAgainstCryptoTLS holds an etls client, as a stream, against tls.Client on package
// net, both facing the same scripted crypto/tls server: an echo of 1 B to 1 MiB in random chunks;
// the server's close_notify (with and without closing TCP), a FIN without close_notify at a record
// boundary and inside a record, a corrupted record, an oversized record, a TLS 1.2 HelloRequest;
// then ConnectionState and session resumption. What the client application reads and how its
// stream ends, and what the server then reads from it, must be equal.
func TestStreamClientAgainstCryptoTLS(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		dialers := []func(string, *tls.Config) (sdClient, error){sdEtlsDialer(t, k), sdStdDial}

		// Echo: the client writes every message, then close_notify and a FIN (CloseWrite), and reads
		// to the end: the echo server closes once it has read the close_notify.
		echoAddr := tlsEchoServer(t, p.server)
		for i, dial := range dialers {
			c, err := dial(echoAddr, p.client)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 9))
			var all []byte
			for _, size := range []int{1, 100, 16<<10 + 1, 1 << 20} {
				msg := randBytes(rng, size)
				all = append(all, msg...)
				for rest := msg; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(40000))
					c.write(rest[:n])
					rest = rest[n:]
				}
			}
			c.closeWrite()
			v := c.view(t)
			if !bytes.Equal(v.data, all) || v.end != "EOF" {
				t.Errorf("client %d: read %d of %d bytes (equal: %v), end %s; want all, EOF", i, len(v.data), len(all), bytes.Equal(v.data, all), v.end)
			}
		}

		type clientCase struct {
			name   string
			vers   uint16
			script func(tc *tls.Conn, w *sdWire) sdPeerView
		}
		cases := []clientCase{
			{"close_notify and close", 0, func(tc *tls.Conn, w *sdWire) sdPeerView {
				tc.Write([]byte("hello"))
				tc.Close()
				return sdPeerView{}
			}},
			{"close_notify, TCP open", 0, func(tc *tls.Conn, w *sdWire) sdPeerView {
				tc.Write([]byte("hello"))
				tc.CloseWrite()
				return readPeer(tc, w)
			}},
			{"FIN without close_notify", 0, func(tc *tls.Conn, w *sdWire) sdPeerView {
				tc.Write([]byte("hello"))
				w.Conn.(*net.TCPConn).CloseWrite()
				return readPeer(tc, w)
			}},
			{"FIN inside a record", 0, func(tc *tls.Conn, w *sdWire) sdPeerView {
				tc.Write([]byte("hello"))
				w.Conn.Write([]byte{23, 3, 3, 0, 40, 1, 2, 3})
				w.Conn.(*net.TCPConn).CloseWrite()
				return readPeer(tc, w)
			}},
			{"corrupted record", 0, func(tc *tls.Conn, w *sdWire) sdPeerView {
				tc.Write([]byte("hello"))
				w.flip.Store(true)
				tc.Write([]byte("forged"))
				return readPeer(tc, w)
			}},
			{"oversized record", 0, func(tc *tls.Conn, w *sdWire) sdPeerView {
				tc.Write([]byte("hello"))
				w.Conn.Write([]byte{23, 3, 3, 0x48, 0x01, 1, 2, 3})
				return readPeer(tc, w)
			}},
		}
		for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			for _, cc := range cases {
				t.Run(fmt.Sprintf("%s/%x", cc.name, vers), func(t *testing.T) {
					scfg := p.server.Clone()
					scfg.MaxVersion = vers
					addr, peer := sdPeerServer(t, scfg, cc.script)
					var cv [2]sdClientView
					var pv [2]sdPeerView
					for i, dial := range dialers {
						c, err := dial(addr, p.client)
						if err != nil {
							t.Fatal(err)
						}
						cv[i] = c.view(t)
						pv[i] = sdWait(t, peer, "peer's view")
					}
					t.Logf("etls: client %q %s; server %v", cv[0].data, cv[0].end, pv[0])
					t.Logf("crypto/tls: client %q %s; server %v", cv[1].data, cv[1].end, pv[1])
					if !bytes.Equal(cv[0].data, cv[1].data) || cv[0].end != cv[1].end {
						t.Errorf("client's view: etls %q %s, crypto/tls %q %s", cv[0].data, cv[0].end, cv[1].data, cv[1].end)
					}
					if pv[0].String() != pv[1].String() && (vers == tls.VersionTLS12 || pv[0].end != pv[1].end || pv[0].rawEnd != pv[1].rawEnd) {
						if why, ok := sdDocumented["client: "+cc.name]; ok {
							t.Logf("documented difference (%s)", why)
						} else {
							t.Errorf("server's view: etls %v, crypto/tls %v", pv[0], pv[1])
						}
					}
				})
			}
		}

		// TLS 1.2: a HelloRequest from the server, refused by both (RenegotiateNever: etls forces it).
		t.Run("HelloRequest", func(t *testing.T) {
			var keylog bytes.Buffer
			scfg := p.server.Clone()
			scfg.MaxVersion = tls.VersionTLS12
			scfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			scfg.SessionTicketsDisabled = true
			scfg.KeyLogWriter = &keylog
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			peer := make(chan sdPeerView, 1)
			go func() {
				for {
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					nc.SetDeadline(time.Now().Add(10 * time.Second))
					w := &sdRecWire{sdWire: sdWire{Conn: nc}}
					w.rec.Store(true)
					tc := tls.Server(w, scfg)
					if err := tc.Handshake(); err != nil {
						peer <- sdPeerView{hsError: err.Error()}
						nc.Close()
						continue
					}
					w.rec.Store(false)
					w.mu.Lock()
					in := bytes.Clone(w.got)
					w.got = nil
					w.mu.Unlock()
					w.wmu.Lock()
					out := w.put
					w.wmu.Unlock()
					rec, err := sdHelloRequest(&keylog, in, out)
					if err != nil {
						peer <- sdPeerView{hsError: err.Error()}
						nc.Close()
						continue
					}
					keylog.Reset()
					nc.Write(rec)
					// What the client answers: records until its end (the alerts are encrypted with
					// the client's keys; their type, size and the end are compared).
					nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					got, rerr := io.ReadAll(w)
					if rerr == nil {
						rerr = io.EOF
					}
					peer <- sdPeerView{data: []byte(fmt.Sprint(recordTypes(got), len(got))), rawEnd: sdEnd(rerr)}
					nc.Close()
				}
			}()
			var cv [2]sdClientView
			var pv [2]sdPeerView
			for i, dial := range dialers {
				c, err := dial(ln.Addr().String(), p.client)
				if err != nil {
					t.Fatal(err)
				}
				cv[i] = c.view(t)
				pv[i] = sdWait(t, peer, "peer's view")
			}
			t.Logf("etls: client %q %s; server read %s, %s", cv[0].data, cv[0].end, pv[0].data, pv[0].rawEnd)
			t.Logf("crypto/tls: client %q %s; server read %s, %s", cv[1].data, cv[1].end, pv[1].data, pv[1].rawEnd)
			if cv[0].end != cv[1].end || pv[0].rawEnd != pv[1].rawEnd {
				t.Errorf("etls and crypto/tls differ")
			}
			// etls sends the no_renegotiation alert alone; crypto/tls's Close adds close_notify.
			if string(pv[0].data) != "[21] 31" {
				t.Errorf("etls's client sent %s, want the no_renegotiation alert alone ([21] 31)", pv[0].data)
			} else if pv[0].String() != pv[1].String() {
				t.Logf("documented difference (%s)", sdDocumented["client: HelloRequest"])
			}
			if !strings.Contains(cv[0].end, "no renegotiation") {
				t.Errorf("etls client: %s, want the no_renegotiation error", cv[0].end)
			}
		})

		// ConnectionState and session resumption, client side.
		t.Run("state", func(t *testing.T) {
			scfg := p.server.Clone()
			scfg.NextProtos = []string{"h2", "http/1.1"}
			addr := tlsEchoServer(t, scfg)
			var st [2][2]tls.ConnectionState
			for i, dial := range dialers {
				ccfg := p.client.Clone()
				ccfg.NextProtos = []string{"http/1.1"}
				ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				for j := range 2 {
					c, err := dial(addr, ccfg)
					if err != nil {
						t.Fatal(err)
					}
					// One round trip: the session tickets come with it.
					c.write([]byte("ping"))
					for deadline := time.Now().Add(5 * time.Second); c.received() < 4 && time.Now().Before(deadline); {
						time.Sleep(2 * time.Millisecond)
					}
					st[i][j] = c.state()
					c.close()
					c.view(t)
				}
			}
			show := func(s tls.ConnectionState) string {
				var certs []string
				for _, c := range s.PeerCertificates {
					certs = append(certs, hex.EncodeToString(c.Raw[:16]))
				}
				return fmt.Sprintf("version %x suite %x name %q alpn %q resumed %v complete %v peer certs %v chains %d",
					s.Version, s.CipherSuite, s.ServerName, s.NegotiatedProtocol, s.DidResume, s.HandshakeComplete, certs, len(s.VerifiedChains))
			}
			for j := range 2 {
				a, b := show(st[0][j]), show(st[1][j])
				t.Logf("client state %d: etls %s; crypto/tls %s", j, a, b)
				if a != b {
					t.Errorf("connection %d: etls %s, crypto/tls %s", j, a, b)
				}
			}
		})
	})
}

package etls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// hj13 is a TLS 1.3 connection whose sending side the test took over after crypto/tls's handshake
// (the keys come from the key log); tc is still good for reading.
type hj13 struct {
	nc     net.Conn
	tc     *tls.Conn
	secret []byte
	w      *rec13
}

func (h *hj13) data(b []byte) []byte { return h.w.seal(23, b) }

// keyUpdate seals a KeyUpdate and switches to the next secret.
func (h *hj13) keyUpdate(requested bool) []byte {
	req := byte(0)
	if requested {
		req = 1
	}
	rec := h.w.seal(22, []byte{24, 0, 0, 1, req})
	h.secret = expandLabel(h.secret, "traffic upd", 32)
	h.w = newRec13(h.secret)
	return rec
}

func (h *hj13) send(t testing.TB, recs ...[]byte) {
	t.Helper()
	if _, err := h.nc.Write(bytes.Join(recs, nil)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func dialHJ13(t *testing.T, addr string, p testPKI) *hj13 {
	t.Helper()
	var keylog bytes.Buffer
	cfg := p.client.Clone()
	cfg.MinVersion = tls.VersionTLS13
	cfg.KeyLogWriter = &keylog
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if cs := tc.ConnectionState().CipherSuite; cs != tls.TLS_AES_128_GCM_SHA256 {
		t.Skipf("cipher suite %s: the test seals AES-128-GCM only", tls.CipherSuiteName(cs))
	}
	secret := keyLogSecret(t, keylog.String(), "CLIENT_TRAFFIC_SECRET_0")
	return &hj13{nc: nc, tc: tc, secret: secret, w: newRec13(secret)}
}

// probeSrv records what a wrapped handler (newProbeSrv) read, and its OnClose.
type probeSrv struct {
	cl   *closeLog
	mu   sync.Mutex
	got  bytes.Buffer
	conn chan eddy.Conn
}

func newProbeSrv(echo bool) (*probeSrv, *advH) {
	s := &probeSrv{cl: newCloseLog(), conn: make(chan eddy.Conn, 4)}
	h := &advH{closed: s.cl.onClose, open: func(c eddy.Conn) { s.conn <- c }}
	h.data = func(c eddy.Conn) {
		s.cl.after(c, "OnData")
		b, _ := c.Next(-1)
		s.mu.Lock()
		s.got.Write(b)
		s.mu.Unlock()
		if echo {
			c.Write(b)
		}
	}
	return s, h
}

func (s *probeSrv) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.got.String() }

// TestTLSProbeTinyAndEmptyRecords: 2,000 one-byte records in one segment, then records that carry
// no plaintext (empty application data, a TLS 1.3 ChangeCipherSpec, a user_canceled warning),
// at most 16 in a row: all echoed, the connection open. Then 17 empty records in a row, over two
// segments: refused by crypto/tls's bound ("too many ignored records"), as over package net; the
// client reads the unexpected_message alert.
func TestTLSProbeTinyAndEmptyRecords(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		s, h := newProbeSrv(true)
		addr := serve(t, k, etls.Server(h, p.server))
		c := dialHJ13(t, addr, p)
		var recs [][]byte
		want := make([]byte, 2000)
		for i := range want {
			want[i] = byte('a' + i%26)
			recs = append(recs, c.data(want[i:i+1]))
		}
		// non-advancing records, at most 16 in a row
		for range 5 {
			recs = append(recs, c.data(nil))
		}
		recs = append(recs, []byte{20, 3, 3, 0, 1, 1})
		recs = append(recs, c.w.seal(21, []byte{1, 90})) // user_canceled
		for range 9 {
			recs = append(recs, c.data(nil))
		}
		recs = append(recs, c.data([]byte("Z")))
		want = append(want, 'Z')
		c.send(t, recs...)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c.tc, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("echo: %v", err)
		}
		// 17 empty records in a row, in two segments: crypto/tls refuses.
		recs = nil
		for range 9 {
			recs = append(recs, c.data(nil))
		}
		c.send(t, recs...)
		time.Sleep(20 * time.Millisecond)
		recs = nil
		for range 8 {
			recs = append(recs, c.data(nil))
		}
		c.send(t, recs...)
		err := s.cl.wait(t, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "too many ignored") {
			t.Errorf("OnClose: %v", err)
		}
		if _, rerr := c.tc.Read(make([]byte, 10)); rerr == nil || !strings.Contains(rerr.Error(), "unexpected message") {
			t.Errorf("client read: %v, want the unexpected_message alert", rerr)
		}
		s.cl.check(t)
	})
}

// close_notify with the TCP connection left open: the server answers with its own close_notify and
// FIN (no HalfCloseHandler), or keeps writing (one that keeps the connection).
// TestTLSProbeCloseNotifyNoFIN: close_notify (twice) with the TCP connection left open: the data
// before it is delivered, the server answers with its own close_notify, OnClose reports io.EOF; a
// HalfCloseHandler keeps writing after it, and its Close ends with close_notify; a fatal alert after
// data: the data is delivered, OnClose reports the alert.
func TestTLSProbeCloseNotifyNoFIN(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		t.Run("close", func(t *testing.T) {
			s, h := newProbeSrv(false)
			addr := serve(t, k, etls.Server(h, p.server))
			c := dialHJ13(t, addr, p)
			c.send(t, c.data([]byte("hello")), c.w.seal(21, []byte{1, 0}), c.w.seal(21, []byte{1, 0}))
			if err := s.cl.wait(t, 5*time.Second); err != io.EOF {
				t.Errorf("OnClose: %v", err)
			}
			b, err := io.ReadAll(c.tc)
			if err != nil || len(b) != 0 {
				t.Errorf("client: %q %v", b, err)
			}
			if s.String() != "hello" {
				t.Errorf("got %q", s.String())
			}
		})
		t.Run("keep", func(t *testing.T) {
			cl := newCloseLog()
			conns := make(chan eddy.Conn, 1)
			h := &advHC{advH: advH{closed: cl.onClose}}
			h.data = func(c eddy.Conn) { c.Discard(-1) }
			h.peer = func(c eddy.Conn) bool {
				c.Write([]byte("bye"))
				conns <- c
				return true
			}
			addr := serve(t, k, etls.Server(h, p.server))
			c := dialHJ13(t, addr, p)
			c.send(t, c.data([]byte("hello")), c.w.seal(21, []byte{1, 0}))
			sc := waitConn(t, conns)
			buf := make([]byte, 3)
			if _, err := io.ReadFull(c.tc, buf); err != nil || string(buf) != "bye" {
				t.Fatalf("read %q %v", buf, err)
			}
			done := make(chan struct{})
			sc.AsyncWrite([]byte("more"), func(c eddy.Conn, err error) { c.Close(); close(done) })
			b, err := io.ReadAll(c.tc)
			if err != nil || string(b) != "more" {
				t.Errorf("client: %q %v", b, err)
			}
			if err := cl.wait(t, 5*time.Second); err != nil {
				t.Errorf("OnClose: %v", err)
			}
		})
		t.Run("fatal alert", func(t *testing.T) {
			s, h := newProbeSrv(false)
			addr := serve(t, k, etls.Server(h, p.server))
			c := dialHJ13(t, addr, p)
			c.send(t, c.data([]byte("hello")), c.w.seal(21, []byte{2, 80}))
			err := s.cl.wait(t, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), "internal error") {
				t.Errorf("OnClose: %v", err)
			}
			if s.String() != "hello" {
				t.Errorf("got %q", s.String())
			}
		})
	})
}

// TestTLSProbeResumption: etls clients with a ClientSessionCache resume against an etls server
// (the ticket arrives after the handshake and is read on the loop), and crypto/tls clients too, with
// TLS 1.2 and 1.3.
func TestTLSProbeResumption(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(fmt.Sprint(v), func(t *testing.T) {
				addr := serve(t, k, etls.Server(echo{}, p.server))
				cfg := p.client.Clone()
				cfg.MaxVersion = v
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				states := make(chan tls.ConnectionState, 4)
				h := &advH{}
				h.open = func(c eddy.Conn) { c.Write([]byte("ping")) }
				h.data = func(c eddy.Conn) {
					if c.Buffered() >= 4 {
						c.Discard(-1)
						st, _ := etls.ConnectionState(c)
						states <- st
						c.Close()
					}
				}
				eh := etls.Client(h, cfg)
				e := startClientEngine(t, k, eh)
				for i := range 3 {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := eh.Dial(ctx, e, addr, nil).Await(ctx)
					cancel()
					if err != nil {
						t.Fatal(err)
					}
					st := <-states
					if i > 0 && !st.DidResume {
						t.Errorf("dial %d: did not resume", i)
					}
				}
				// crypto/tls client against the eddy server
				ccfg := p.client.Clone()
				ccfg.MaxVersion = v
				ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				for i := range 2 {
					c := dialTLS(t, addr, ccfg)
					c.Write([]byte("x"))
					io.ReadFull(c, make([]byte, 1))
					if i > 0 && !c.ConnectionState().DidResume {
						t.Errorf("crypto/tls client %d: no resumption", i)
					}
					c.Close()
				}
			})
		}
	})
}

// TestTLSProbeHandshakeRefusals: ALPN without overlap, a client certificate required and missing
// (TLS 1.3: the etls client's Dial succeeds and the server's alert then closes the connection with
// the error, as crypto/tls's client sees it on its first Read), SNI refused by GetConfigForClient.
func TestTLSProbeHandshakeRefusals(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		t.Run("alpn", func(t *testing.T) {
			scfg := p.server.Clone()
			scfg.NextProtos = []string{"h2"}
			ev := newEvents()
			eh := etls.Server(&lifecycle{ev: ev}, scfg)
			errs := make(handshakeErrs, 4)
			eh.OnHandshakeError = errs.record
			addr := serve(t, k, eh)
			ccfg := p.client.Clone()
			ccfg.NextProtos = []string{"x"}
			_, err := tls.Dial("tcp", addr, ccfg)
			t.Logf("client: %v; server: %v", err, errs.wait(t))
			if err == nil {
				t.Error("handshake succeeded")
			}
			// etls client against a crypto/tls server with no overlap
			saddr := tlsEchoServer(t, scfg)
			ch := etls.Client(&advH{}, ccfg)
			cerrs := make(handshakeErrs, 4)
			ch.OnHandshakeError = cerrs.record
			e := startClientEngine(t, k, ch)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, derr := ch.Dial(ctx, e, saddr, nil).Await(ctx)
			t.Logf("etls Dial: %v; OnHandshakeError %v", derr, cerrs.wait(t))
			if derr == nil {
				t.Error("Dial succeeded")
			}
		})
		t.Run("client cert missing", func(t *testing.T) {
			scfg := p.server.Clone()
			scfg.ClientAuth = tls.RequireAnyClientCert
			ev := newEvents()
			eh := etls.Server(&lifecycle{ev: ev}, scfg)
			errs := make(handshakeErrs, 4)
			eh.OnHandshakeError = errs.record
			addr := serve(t, k, eh)
			c, err := tls.Dial("tcp", addr, p.client)
			if err == nil {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			t.Logf("client: %v; server: %v", err, errs.wait(t))
			// etls client without cert against crypto/tls server requiring one
			saddr := tlsEchoServer(t, scfg)
			cl := newCloseLog()
			opened := make(chan struct{}, 1)
			ch := etls.Client(&advH{closed: cl.onClose, open: func(c eddy.Conn) { opened <- struct{}{} }}, p.client)
			e := startClientEngine(t, k, ch)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, derr := ch.Dial(ctx, e, saddr, nil).Await(ctx)
			t.Logf("etls Dial: %v", derr)
			if derr == nil {
				err := cl.wait(t, 5*time.Second)
				t.Logf("etls OnClose: %v", err)
				if err == nil || err == io.EOF {
					t.Errorf("OnClose %v", err)
				}
			}
		})
		t.Run("sni", func(t *testing.T) {
			scfg := &tls.Config{GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
				if hi.ServerName != "example.com" {
					return nil, errors.New("unknown name")
				}
				return p.server, nil
			}}
			eh := etls.Server(echo{}, scfg)
			errs := make(handshakeErrs, 4)
			eh.OnHandshakeError = errs.record
			addr := serve(t, k, eh)
			c := dialTLS(t, addr, p.client)
			c.Write([]byte("a"))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			cfg := p.client.Clone()
			cfg.ServerName = "other.test"
			cfg.InsecureSkipVerify = true
			_, err := tls.Dial("tcp", addr, cfg)
			t.Logf("other: %v; server %v", err, errs.wait(t))
		})
	})
}

// listenHJ13 accepts one connection on a crypto/tls server over package net, completes a TLS 1.3
// handshake and hands back a hijacked sending side (the server's).
func listenHJ13(t *testing.T, p testPKI, mod func(*tls.Config)) (string, chan *hj13) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan *hj13, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(out)
			return
		}
		t.Cleanup(func() { nc.Close() })
		var keylog bytes.Buffer
		cfg := p.server.Clone()
		cfg.MinVersion = tls.VersionTLS13
		cfg.SessionTicketsDisabled = true
		cfg.KeyLogWriter = &keylog
		if mod != nil {
			mod(cfg)
		}
		nc.SetDeadline(time.Now().Add(15 * time.Second))
		tc := tls.Server(nc, cfg)
		if err := tc.Handshake(); err != nil {
			t.Errorf("server handshake: %v", err)
			close(out)
			return
		}
		if cs := tc.ConnectionState().CipherSuite; cs != tls.TLS_AES_128_GCM_SHA256 {
			t.Errorf("cipher suite %s", tls.CipherSuiteName(cs))
			close(out)
			return
		}
		var secret []byte
		for _, line := range strings.Split(keylog.String(), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "SERVER_TRAFFIC_SECRET_0" {
				secret, _ = hex.DecodeString(f[2])
			}
		}
		out <- &hj13{nc: nc, tc: tc, secret: secret, w: newRec13(secret)}
	}()
	return ln.Addr().String(), out
}

// TestTLSProbeClientMisbehavingServer: a TLS 1.3 server (crypto/tls's handshake, then records built
// by the test) sends an etls client one-byte records among KeyUpdates (some asking for an update),
// ChangeCipherSpecs and empty records: the echo is intact and the server's crypto/tls reads the
// client's KeyUpdates; then close_notify without FIN: the client answers with its own and closes.
// And data, close_notify and FIN right behind the server's handshake flight.
func TestTLSProbeClientMisbehavingServer(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		t.Run("keyupdates and tiny records", func(t *testing.T) {
			addr, srvs := listenHJ13(t, p, nil)
			cl := newCloseLog()
			h := &advH{closed: cl.onClose}
			h.data = func(c eddy.Conn) { b, _ := c.Next(-1); c.Write(b) }
			eh := etls.Client(h, p.client)
			e := startClientEngine(t, k, eh)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := eh.Dial(ctx, e, addr, nil).Await(ctx); err != nil {
				t.Fatal(err)
			}
			s := <-srvs
			if s == nil {
				t.Fatal("no server")
			}
			var recs [][]byte
			want := []byte("hello, world")
			for i := range want {
				if i%3 == 0 {
					recs = append(recs, s.keyUpdate(i%2 == 0))
				}
				recs = append(recs, []byte{20, 3, 3, 0, 1, 1}, s.data(nil), s.data(want[i:i+1]))
			}
			s.send(t, recs...)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(s.tc, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("echo %q %v", got, err)
			}
			// close_notify, TCP left open: the client answers with its own and closes.
			s.send(t, s.data([]byte("!")), s.w.seal(21, []byte{1, 0}))
			b, err := io.ReadAll(s.tc)
			if string(b) != "!" || err != nil {
				t.Errorf("server read %q %v", b, err)
			}
			if err := cl.wait(t, 5*time.Second); err != io.EOF {
				t.Errorf("OnClose %v", err)
			}
		})
		t.Run("data behind finished then close", func(t *testing.T) {
			// The server's data, close_notify and FIN come right behind its handshake.
			addr, srvs := listenHJ13(t, p, nil)
			cl := newCloseLog()
			var got bytes.Buffer
			h := &advH{closed: cl.onClose}
			h.data = func(c eddy.Conn) { b, _ := c.Next(-1); got.Write(b) }
			eh := etls.Client(h, p.client)
			e := startClientEngine(t, k, eh)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			f := eh.Dial(ctx, e, addr, nil)
			s := <-srvs
			if s == nil {
				t.Fatal("no server")
			}
			s.send(t, s.data([]byte("early")), s.w.seal(21, []byte{1, 0}))
			s.nc.(*net.TCPConn).CloseWrite()
			_, derr := f.Await(ctx)
			err := cl.wait(t, 5*time.Second)
			t.Logf("Dial %v; OnClose %v; got %q", derr, err, got.String())
			if err != io.EOF || got.String() != "early" {
				t.Errorf("OnClose %v, got %q", err, got.String())
			}
		})
	})
}

// bigChain returns cfg with its certificate's chain padded with copies of the leaf to about n bytes.
func bigChain(cfg *tls.Config, n int) *tls.Config {
	cfg = cfg.Clone()
	c := cfg.Certificates[0]
	leaf := c.Certificate[0]
	chain := [][]byte{leaf}
	for size := len(leaf); size < n; size += len(leaf) {
		chain = append(chain, leaf)
	}
	c.Certificate = chain
	cfg.Certificates = []tls.Certificate{c}
	return cfg
}

// TestTLSProbeBigHandshakes: handshake messages larger than the 64 KiB at which the loop pauses the
// handshake's input: a 250 KiB certificate chain to an etls client, and a 250 KiB client
// certificate chain with a 64 KiB ClientHello (ALPN) to an etls server.
func TestTLSProbeBigHandshakes(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(fmt.Sprint("server chain ", v), func(t *testing.T) {
				scfg := bigChain(p.server, 250<<10)
				scfg.MaxVersion = v
				addr := tlsEchoServer(t, scfg)
				done := make(chan string, 1)
				h := &advH{}
				h.open = func(c eddy.Conn) { c.Write([]byte("ping")) }
				h.data = func(c eddy.Conn) {
					if c.Buffered() >= 4 {
						b, _ := c.Next(-1)
						done <- string(b)
						c.Close()
					}
				}
				eh := etls.Client(h, p.client)
				e := startClientEngine(t, k, eh)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := eh.Dial(ctx, e, addr, nil).Await(ctx); err != nil {
					t.Fatal(err)
				}
				select {
				case s := <-done:
					if s != "ping" {
						t.Fatal(s)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no echo")
				}
			})
			t.Run(fmt.Sprint("client chain and alpn ", v), func(t *testing.T) {
				scfg := p.server.Clone()
				scfg.ClientAuth = tls.RequireAnyClientCert
				scfg.NextProtos = []string{"zz"}
				addr := serve(t, k, etls.Server(echo{}, scfg))
				ccfg := bigChain(p.server, 250<<10)
				ccfg.RootCAs = p.client.RootCAs
				ccfg.ServerName = "example.com"
				ccfg.MaxVersion = v
				for i := range 250 {
					ccfg.NextProtos = append(ccfg.NextProtos, fmt.Sprintf("%03d%s", i, strings.Repeat("p", 250)))
				}
				ccfg.NextProtos = append(ccfg.NextProtos, "zz")
				c := dialTLS(t, addr, ccfg)
				msg := bytes.Repeat([]byte("m"), 300<<10)
				go c.Write(msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo %v", err)
				}
				if c.ConnectionState().NegotiatedProtocol != "zz" {
					t.Error("alpn")
				}
			})
		}
	})
}

// sealPadded seals a TLS 1.3 record of content type ctype with pad zero bytes of padding.
func (r *rec13) sealPadded(ctype byte, content []byte, pad int) []byte {
	inner := append(append([]byte(nil), content...), ctype)
	inner = append(inner, make([]byte, pad)...)
	nonce := append([]byte(nil), r.iv...)
	for i := range 8 {
		nonce[4+i] ^= byte(r.seq >> (56 - 8*i))
	}
	r.seq++
	n := len(inner) + r.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
	return r.aead.Seal(hdr, nonce, inner, hdr)
}

// TestTLSProbeRecordLimits: a TLS 1.3 record of 2^14 bytes of plaintext in two segments is echoed;
// a header announcing one byte more than 2^14+256 is refused on the header; 2^14+1 bytes of plaintext
// are refused (record_overflow).
func TestTLSProbeRecordLimits(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		t.Run("max", func(t *testing.T) {
			s, h := newProbeSrv(true)
			addr := serve(t, k, etls.Server(h, p.server))
			c := dialHJ13(t, addr, p)
			msg := bytes.Repeat([]byte("q"), 16384)
			rec := c.w.sealPadded(23, msg, 0)
			c.send(t, rec[:9000])
			time.Sleep(30 * time.Millisecond)
			c.send(t, rec[9000:])
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c.tc, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo %v", err)
			}
			// one byte of padding more: record_overflow on the header
			rec = c.w.sealPadded(23, msg, 16640-16-16385+1)
			if len(rec) != 5+16641 {
				t.Fatal(len(rec))
			}
			c.send(t, rec[:100])
			err := s.cl.wait(t, 5*time.Second)
			t.Logf("OnClose %v", err)
			if err == nil || !strings.Contains(err.Error(), "oversized") {
				t.Errorf("OnClose %v", err)
			}
			// plaintext over 2^14
			s2, h2 := newProbeSrv(true)
			addr2 := serve(t, k, etls.Server(h2, p.server))
			c2 := dialHJ13(t, addr2, p)
			c2.send(t, c2.w.sealPadded(23, append(msg, 'x'), 0))
			err = s2.cl.wait(t, 5*time.Second)
			t.Logf("OnClose %v", err)
			if err == nil || !strings.Contains(err.Error(), "overflow") {
				t.Errorf("OnClose %v", err)
			}
		})
	})
}

// halfCloseWriter writes big and then CloseWrites in OnOpen (the handshake is done by then), and
// sends what it reads afterwards to got.
type halfCloseWriter struct {
	eddy.BaseHandler
	big []byte
	got chan []byte
}

func (h *halfCloseWriter) OnOpen(c eddy.Conn) {
	c.Write(h.big)
	c.CloseWrite()
}

func (h *halfCloseWriter) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	h.got <- append([]byte(nil), b...)
}

// TestProbeCloseWrite: the handler writes 1 MiB and CloseWrites; the client reads all and a clean
// EOF, then sends more, which the server still reads.
func TestProbeCloseWrite(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		h := &halfCloseWriter{big: big, got: make(chan []byte, 16)}
		addr := serve(t, k, etls.Server(h, p.server))
		c := dialTLS(t, addr, p.client)
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read %d bytes, then %v; want 1 MiB and a clean EOF", len(got), err)
		}
		if !bytes.Equal(got, big) {
			t.Fatalf("read %d bytes, not the 1 MiB written", len(got))
		}
		if _, err := c.Write([]byte("more")); err != nil {
			t.Fatalf("write after the server's close_notify: %v", err)
		}
		var after []byte
		deadline := time.After(10 * time.Second)
		for string(after) != "more" {
			select {
			case b := <-h.got:
				after = append(after, b...)
			case <-deadline:
				t.Fatalf("the server read %q after its CloseWrite; want \"more\"", after)
			}
		}
	})
}

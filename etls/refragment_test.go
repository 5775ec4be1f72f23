package etls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// refragConn re-frames the plaintext handshake records it writes (those before the first
// ChangeCipherSpec or application-data record: a ClientHello, a ServerHello, TLS 1.2's whole first
// flights) as records of one byte of body each, every record in a Write of its own, and writes what
// follows one byte per Write: the receiver sees handshake messages spread over hundreds of records
// and records spread over many reads.
type refragConn struct {
	net.Conn
	mu     sync.Mutex
	pend   []byte
	clear  bool // a record other than a handshake one went out: no more re-framing
	writes int
}

func (r *refragConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pend = append(r.pend, b...)
	for len(r.pend) >= 5 {
		n := int(r.pend[3])<<8 | int(r.pend[4])
		if len(r.pend) < 5+n {
			break
		}
		rec := r.pend[:5+n]
		if rec[0] != 22 {
			r.clear = true
		}
		if !r.clear {
			for _, x := range rec[5:] {
				if _, err := r.Conn.Write([]byte{22, rec[1], rec[2], 0, 1, x}); err != nil {
					return 0, err
				}
				r.writes++
			}
		} else {
			for i := range rec {
				if _, err := r.Conn.Write(rec[i : i+1]); err != nil {
					return 0, err
				}
				r.writes++
			}
		}
		r.pend = r.pend[5+n:]
	}
	return len(b), nil
}

// A handshake whose plaintext messages come one byte per record, and one record per write, and then
// records one byte per write: an etls server and an etls client complete it and echo, as crypto/tls
// over package net does (the baseline, checked first).
func TestRefragmentedHandshake(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("%x/baseline", v), func(t *testing.T) {
			p := getPKI(t)
			addr := tlsEchoServer(t, p.server)
			refragEcho(t, addr, p, v)
		})
		t.Run(fmt.Sprintf("%x", v), func(t *testing.T) {
			forEngines(t, func(t *testing.T, k eddy.EngineKind) {
				t.Run("server", func(t *testing.T) {
					p := getPKI(t)
					addr := serve(t, k, etls.Server(echo{}, p.server))
					refragEcho(t, addr, p, v)
				})
				t.Run("client", func(t *testing.T) {
					p := getPKI(t)
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					defer ln.Close()
					done := make(chan error, 1)
					go func() {
						nc, err := ln.Accept()
						if err != nil {
							done <- err
							return
						}
						defer nc.Close()
						nc.SetDeadline(time.Now().Add(20 * time.Second))
						cfg := p.server.Clone()
						cfg.MaxVersion = v
						tc := tls.Server(&refragConn{Conn: nc}, cfg)
						_, err = io.Copy(tc, tc)
						done <- err
					}()
					h := &collector{got: make(chan []byte, 64)}
					cc := p.client.Clone()
					cc.MaxVersion = v
					th := etls.Client(h, cc)
					e := clientEngine(t, k, th)
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					c, err := th.Dial(ctx, e, ln.Addr().String(), nil).Await(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if got := c.ConnectionState().Version; got != v {
						t.Fatalf("version %x, want %x", got, v)
					}
					msg := bytes.Repeat([]byte("refragmented "), 300)
					if err := c.AsyncWrite(msg, nil); err != nil {
						t.Fatal(err)
					}
					if got := h.read(t, len(msg)); !bytes.Equal(got, msg) {
						t.Fatalf("echo differs: %d bytes", len(got))
					}
					c.Close()
					select {
					case err := <-done:
						if err != nil {
							t.Errorf("server: %v", err)
						}
					case <-time.After(20 * time.Second):
						t.Fatal("the server did not see the client's close")
					}
				})
			})
		})
	}
}

// refragEcho runs a crypto/tls client of version v over a refragConn against addr, and checks an echo.
func refragEcho(t *testing.T, addr string, p testPKI, v uint16) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &refragConn{Conn: nc}
	cfg := p.client.Clone()
	cfg.MaxVersion = v
	tc := tls.Client(rc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	msg := bytes.Repeat([]byte("0123456789"), 50)
	if _, err := tc.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(tc, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	rc.mu.Lock()
	w := rc.writes
	rc.mu.Unlock()
	if w < 100 {
		t.Fatalf("only %d writes: the re-framing did not happen", w)
	}
}

// closeRecorder is a wrapped client handler that collects the plaintext and hands OnClose's error to
// the test.
type closeRecorder struct {
	eddy.BaseHandler
	mu     sync.Mutex
	got    []byte
	closed chan error
}

func (h *closeRecorder) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.got = append(h.got, b...)
	h.mu.Unlock()
}

func (h *closeRecorder) OnClose(_ eddy.Conn, err error) { h.closed <- err }

// The ends of a server's stream as an etls client reports them (OnClose), against what a crypto/tls
// client's Read returns for the same bytes: close_notify and FIN, a FIN at a record boundary (both
// io.EOF, after all the data), a FIN inside a record (io.ErrUnexpectedEOF).
func TestClientStreamEndsAgainstCryptoTLS(t *testing.T) {
	ends := []struct {
		name string
		end  func(tc *tls.Conn, nc net.Conn, rc *cutWriter)
		want error
	}{
		{"close_notify", func(tc *tls.Conn, nc net.Conn, _ *cutWriter) { tc.CloseWrite(); nc.(*net.TCPConn).CloseWrite() }, io.EOF},
		{"FIN at a record boundary", func(_ *tls.Conn, nc net.Conn, _ *cutWriter) { nc.(*net.TCPConn).CloseWrite() }, io.EOF},
		{"FIN inside a record", func(tc *tls.Conn, nc net.Conn, rc *cutWriter) {
			rc.cut.Store(true)
			tc.Write([]byte("the last words, cut"))
			nc.(*net.TCPConn).CloseWrite()
		}, io.ErrUnexpectedEOF},
	}
	msg := bytes.Repeat([]byte("data before the end "), 1000)
	for _, end := range ends {
		// server serves one connection: a handshake, msg, then the end.
		server := func(t *testing.T, p testPKI) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				rc := &cutWriter{Conn: nc}
				tc := tls.Server(rc, p.server)
				if _, err := tc.Write(msg); err != nil {
					return
				}
				end.end(tc, nc, rc)
				io.Copy(io.Discard, nc) // until the client is done
			}()
			t.Cleanup(func() { ln.Close(); <-done })
			return ln.Addr().String()
		}
		t.Run("baseline/"+end.name, func(t *testing.T) {
			p := getPKI(t)
			c := dialTLS(t, server(t, p), p.client)
			got, err := io.ReadAll(c)
			if err == nil {
				err = io.EOF // ReadAll's clean end
			}
			if err != end.want || !bytes.Equal(got, msg) {
				t.Fatalf("crypto/tls: read %d bytes, %v; want %d, %v", len(got), err, len(msg), end.want)
			}
		})
		forEngines(t, func(t *testing.T, k eddy.EngineKind) {
			t.Run(end.name, func(t *testing.T) {
				p := getPKI(t)
				addr := server(t, p)
				h := &closeRecorder{closed: make(chan error, 1)}
				th := etls.Client(h, p.client)
				e := clientEngine(t, k, th)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if _, err := th.Dial(ctx, e, addr, nil).Await(ctx); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-h.closed:
					h.mu.Lock()
					got := h.got
					h.mu.Unlock()
					if err != end.want || !bytes.Equal(got, msg) {
						t.Fatalf("etls: read %d bytes, OnClose %v; want %d, %v", len(got), err, len(msg), end.want)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no OnClose")
				}
			})
		})
	}
}

// cutWriter writes only the first 10 bytes of each Write once cut is set: a record cut short.
type cutWriter struct {
	net.Conn
	cut atomic.Bool
}

func (w *cutWriter) Write(b []byte) (int, error) {
	if w.cut.Load() && len(b) > 10 {
		if _, err := w.Conn.Write(b[:10]); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return w.Conn.Write(b)
}

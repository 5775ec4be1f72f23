package etls_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

func forEngines(t *testing.T, f func(t *testing.T, k eddy.EngineKind)) {
	for _, k := range testEngines() {
		t.Run(string(k), func(t *testing.T) { f(t, k) })
	}
	skipMissingUring(t)
}

// TestEcho sends messages from 1 byte to 1 MiB in random chunks through TLS and checks every byte
// that comes back.
func TestEcho(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := serve(t, k, etls.Server(echo{}, p.server))
		c := dialTLS(t, addr, p.client)
		rng := rand.New(rand.NewPCG(1, uint64(len(k))))
		for _, size := range []int{1, 5, 100, 1000, 16 << 10, 16<<10 + 1, 100 << 10, 1 << 20} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(rng.Uint32())
			}
			errc := make(chan error, 1)
			go func() {
				for rest := msg; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(40000))
					if _, err := c.Write(rest[:n]); err != nil {
						errc <- err
						return
					}
					rest = rest[n:]
				}
				errc <- nil
			}()
			got := make([]byte, size)
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("size %d: read: %v", size, err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("size %d: write: %v", size, err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("size %d: echo differs", size)
			}
		}
	})
}

// TestManyConnections echoes on 200 TLS connections at once.
func TestManyConnections(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := serve(t, k, etls.Server(echo{}, p.server))
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, p.client)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				msg := []byte(fmt.Sprintf("connection %d says hello", i))
				for range 3 {
					if _, err := c.Write(msg); err != nil {
						errs <- err
						return
					}
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, msg) {
						errs <- fmt.Errorf("got %q, want %q", got, msg)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// lifecycle is a wrapped handler that records its callbacks and answers "close" by closing and
// "bye" from OnPeerClosed.
type lifecycle struct {
	ev        *events
	halfClose bool
}

func (h *lifecycle) OnOpen(c eddy.Conn) { h.ev.open(c) }
func (h *lifecycle) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	if string(b) == "close" {
		c.Write([]byte("closing"))
		c.Close()
		return
	}
	c.Write(b)
}
func (h *lifecycle) OnClose(c eddy.Conn, err error) { h.ev.close(err) }

type halfCloser struct{ lifecycle }

func (h *halfCloser) OnPeerClosed(c eddy.Conn) bool {
	c.Write([]byte("bye"))
	c.Close()
	return true
}

// TestServerClose: output written before Close arrives, then close_notify, which the client reads as
// a clean io.EOF; OnClose reports nil.
func TestServerClose(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p, ev := getPKI(t), newEvents()
		addr := serve(t, k, etls.Server(&lifecycle{ev: ev}, p.server))
		c := dialTLS(t, addr, p.client)
		c.Write([]byte("close"))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "closing" {
			t.Fatalf("read %q, %v; want \"closing\" and a clean EOF (close_notify)", got, err)
		}
		if err := ev.waitClose(t); err != nil {
			t.Fatalf("OnClose: %v, want nil", err)
		}
	})
}

// TestPeerCloseNotify: the client's close_notify (CloseWrite) reaches OnPeerClosed after the data
// before it, and the server can still answer; without OnPeerClosed the server closes and OnClose
// reports io.EOF.
func TestPeerCloseNotify(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		t.Run("half-close", func(t *testing.T) {
			ev := newEvents()
			addr := serve(t, k, etls.Server(&halfCloser{lifecycle{ev: ev}}, p.server))
			c := dialTLS(t, addr, p.client)
			c.Write([]byte("ping"))
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "pingbye" {
				t.Fatalf("read %q, %v; want \"pingbye\" and a clean EOF", got, err)
			}
			if err := ev.waitClose(t); err != nil {
				t.Fatalf("OnClose: %v, want nil", err)
			}
		})
		t.Run("close", func(t *testing.T) {
			ev := newEvents()
			addr := serve(t, k, etls.Server(&lifecycle{ev: ev}, p.server))
			c := dialTLS(t, addr, p.client)
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			c.Close() // close_notify, then FIN
			if err := ev.waitClose(t); err != io.EOF {
				t.Fatalf("OnClose: %v, want io.EOF", err)
			}
		})
		t.Run("fin without close_notify", func(t *testing.T) {
			ev := newEvents()
			addr := serve(t, k, etls.Server(&lifecycle{ev: ev}, p.server))
			c := dialTLS(t, addr, p.client)
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			c.NetConn().Close()
			if err := ev.waitClose(t); err != io.EOF {
				t.Fatalf("OnClose: %v, want io.EOF", err)
			}
		})
		t.Run("fin mid-record", func(t *testing.T) {
			ev := newEvents()
			addr := serve(t, k, etls.Server(&lifecycle{ev: ev}, p.server))
			c := dialTLS(t, addr, p.client)
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			// Half a record: its header says 100 bytes follow, 10 do.
			c.NetConn().Write([]byte{23, 3, 3, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
			c.NetConn().(*net.TCPConn).CloseWrite()
			err := ev.waitClose(t)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("OnClose: %v, want io.ErrUnexpectedEOF", err)
			}
		})
	})
}

// TestBadRecord: a record that fails authentication closes the connection; the client gets the
// alert, and OnClose reports the TLS error.
func TestBadRecord(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p, ev := getPKI(t), newEvents()
		addr := serve(t, k, etls.Server(&lifecycle{ev: ev}, p.server))
		c := dialTLS(t, addr, p.client)
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		forged := append([]byte{23, 3, 3, 0, 40}, bytes.Repeat([]byte{0xAB}, 40)...)
		c.NetConn().Write(forged)
		err := ev.waitClose(t)
		if err == nil || err == io.EOF || !strings.Contains(err.Error(), "tls") {
			t.Fatalf("OnClose: %v, want a TLS error", err)
		}
		_, rerr := c.Read(buf)
		if rerr == nil || !strings.Contains(rerr.Error(), "bad record MAC") {
			t.Fatalf("client read: %v, want the server's bad_record_mac alert", rerr)
		}
	})
}

// handshakeErrs collects what OnHandshakeError hears.
type handshakeErrs chan error

func (h handshakeErrs) record(c eddy.Conn, err error) { h <- err }

func (h handshakeErrs) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no OnHandshakeError")
		return nil
	}
}

// TestHandshakeFailures: a client that does not trust the certificate, a client that speaks plain
// HTTP, one that sends nothing (the timeout) and one that hangs up: each reaches OnHandshakeError,
// none reaches the wrapped handler, and the connection is closed.
func TestHandshakeFailures(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p, ev := getPKI(t), newEvents()
		errs := make(handshakeErrs, 8)
		h := etls.Server(&lifecycle{ev: ev}, p.server)
		h.OnHandshakeError = errs.record
		h.HandshakeTimeout = 300 * time.Millisecond
		addr := serve(t, k, h)

		t.Run("untrusted", func(t *testing.T) {
			_, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: "eddy.test"})
			if err == nil {
				t.Fatal("handshake with an unknown CA succeeded")
			}
			if err := errs.wait(t); err == nil || !strings.Contains(err.Error(), "tls") {
				t.Fatalf("OnHandshakeError: %v, want the client's alert", err)
			}
		})
		t.Run("plain http", func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			if err := errs.wait(t); err == nil || !strings.Contains(err.Error(), "does not look like a TLS handshake") {
				t.Fatalf("OnHandshakeError: %v", err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(c); err != nil {
				t.Fatalf("connection not closed: %v", err)
			}
		})
		t.Run("silent", func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := errs.wait(t); !errors.Is(err, etls.ErrHandshakeTimeout) {
				t.Fatalf("OnHandshakeError: %v, want ErrHandshakeTimeout", err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
				t.Fatalf("read after the timeout: %v, want EOF or a reset", err)
			}
		})
		t.Run("hang up", func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte{22, 3, 1, 0, 200, 1}) // the start of a ClientHello
			time.Sleep(20 * time.Millisecond)
			c.Close()
			if err := errs.wait(t); err == nil {
				t.Fatal("OnHandshakeError: nil")
			}
		})
		if n := ev.openCount(); n != 0 {
			t.Fatalf("the wrapped handler saw %d connections", n)
		}
	})
}

// TestConnectionState: ALPN and the version are visible from OnOpen on.
func TestConnectionState(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p, ev := getPKI(t), newEvents()
		scfg := p.server.Clone()
		scfg.NextProtos = []string{"eddy/1"}
		addr := serve(t, k, etls.Server(&lifecycle{ev: ev}, scfg))
		ccfg := p.client.Clone()
		ccfg.NextProtos = []string{"eddy/1"}
		c := dialTLS(t, addr, ccfg)
		c.Write([]byte("close"))
		io.ReadAll(c)
		ev.waitClose(t)
		ev.mu.Lock()
		defer ev.mu.Unlock()
		if len(ev.states) != 1 || ev.states[0].NegotiatedProtocol != "eddy/1" || ev.states[0].Version != tls.VersionTLS13 || !ev.states[0].HandshakeComplete {
			t.Fatalf("states: %+v", ev.states)
		}
	})
}

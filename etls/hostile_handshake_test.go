package etls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// endOf is how a raw client's read of the server ended.
func endOf(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no end"
	}
	return err.Error()
}

// readToEnd reads nc to its end (at most 5 s) and returns the bytes and how it ended.
func readToEnd(nc net.Conn) ([]byte, string) {
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if err == nil {
		err = io.EOF
	}
	return got, endOf(err)
}

// stdTLSServer is crypto/tls on a net.Listener, a goroutine per connection, the handshake bounded
// by a deadline of hsTimeout (as net/http bounds it), then an echo; it reports each handshake's error.
func stdTLSServer(t *testing.T, cfg *tls.Config, hsTimeout time.Duration, hsErr chan<- error) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
				defer nc.Close()
				tc := tls.Server(nc, cfg)
				nc.SetDeadline(time.Now().Add(hsTimeout))
				err := tc.Handshake()
				hsErr <- err
				if err != nil {
					return
				}
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(tc, tc)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// openFDs counts the process's open descriptors.
func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// Hostile and broken clients before the handshake's end, each held against crypto/tls on a
// net.Listener with the same certificate: garbage instead of a ClientHello (plain HTTP), an SSLv2
// hello, a record header announcing 64 KiB, an alert first, a FIN at once, half a ClientHello and a
// FIN, a client that never speaks and one that trickles a ClientHello a byte at a time. The client
// gets the same bytes (crypto/tls's alert, or nothing) and the same end (a FIN) from both, but for
// the handshakes cut by their bound, which etls resets (by design: docs/tls.md) where crypto/tls's
// deadline closes; the handshake fails with crypto/tls's reason (a timeout for the bound), the wrapped
// handler sees nothing, and no goroutine or descriptor is left.
func TestHostileHandshakesAgainstCryptoTLS(t *testing.T) {
	const bound = 300 * time.Millisecond
	var resetSeen atomic.Bool // a script's write saw the connection reset
	cases := []struct {
		name   string
		script func(nc net.Conn)
		cut    bool // the handshake's bound ends it
	}{
		{"plain HTTP", func(nc net.Conn) { nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) }, false},
		{"SSLv2 hello", func(nc net.Conn) { nc.Write([]byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0, 0, 0}) }, false},
		{"64 KiB record header", func(nc net.Conn) { nc.Write([]byte{0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3}) }, false},
		{"alert first", func(nc net.Conn) { nc.Write([]byte{0x15, 0x03, 0x01, 0x00, 0x02, 2, 40}) }, false},
		{"FIN at once", func(nc net.Conn) { nc.(*net.TCPConn).CloseWrite() }, false},
		{"half a hello, FIN", func(nc net.Conn) {
			nc.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 1, 0, 0, 0xfc, 3, 3})
			nc.(*net.TCPConn).CloseWrite()
		}, false},
		{"silent", func(nc net.Conn) {}, true},
		{"trickled hello", func(nc net.Conn) {
			b := []byte{0x16, 0x03, 0x01, 0x01, 0x00, 1, 0, 0, 0xfc, 3, 3}
			for i := 0; i < 200; i++ {
				if _, err := nc.Write([]byte{b[i%len(b)]}); err != nil {
					if errors.Is(err, syscall.ECONNRESET) {
						// The write took the reset's error, and the read finds the end: it was a reset.
						resetSeen.Store(true)
					}
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}, true},
	}
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		var opens atomic.Int64
		etlsErr := make(chan error, len(cases))
		h := etls.Server(&advH{open: func(eddy.Conn) { opens.Add(1) }}, p.server)
		h.HandshakeTimeout = bound
		h.OnHandshakeError = func(_ eddy.Conn, err error) { etlsErr <- err }
		eaddr := serve(t, k, h)
		stdErr := make(chan error, len(cases))
		saddr := stdTLSServer(t, p.server, bound, stdErr)
		fds, hs := openFDs(), handshakeGoroutines()

		for _, tc := range cases {
			var got [2][]byte
			var end [2]string
			var errs [2]error
			for i, addr := range []string{eaddr, saddr} {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				resetSeen.Store(false)
				done := make(chan struct{})
				go func() { defer close(done); tc.script(nc) }()
				got[i], end[i] = readToEnd(nc)
				nc.Close()
				<-done
				if end[i] == "EOF" && resetSeen.Load() {
					end[i] = "reset"
				}
				select {
				case errs[i] = <-[]chan error{etlsErr, stdErr}[i]:
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: no handshake error (server %d)", tc.name, i)
				}
			}
			t.Logf("%s: etls %q %s (%v); crypto/tls %q %s (%v)", tc.name, got[0], end[0], errs[0], got[1], end[1], errs[1])
			if string(got[0]) != string(got[1]) {
				t.Errorf("%s: the client read %q from etls, %q from crypto/tls", tc.name, got[0], got[1])
			}
			wantEnd := end[1]
			if tc.cut {
				wantEnd = "reset"
			}
			if end[0] != wantEnd {
				t.Errorf("%s: etls's end %s, want %s (crypto/tls: %s)", tc.name, end[0], wantEnd, end[1])
			}
			var he *etls.HandshakeError
			if !errors.As(errs[0], &he) || errs[1] == nil {
				t.Fatalf("%s: handshake errors %v, %v", tc.name, errs[0], errs[1])
			}
			var ne net.Error
			if tc.cut {
				if !errors.Is(errs[0], etls.ErrHandshakeTimeout) || !errors.As(errs[1], &ne) || !ne.Timeout() {
					t.Errorf("%s: %v, %v: want timeouts", tc.name, errs[0], errs[1])
				}
			} else if he.Err.Error() != errs[1].Error() {
				t.Errorf("%s: etls's reason %q, crypto/tls's %q", tc.name, he.Err, errs[1])
			}
		}
		if n := opens.Load(); n != 0 {
			t.Errorf("OnOpen ran %d times for handshakes that failed", n)
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && (openFDs() > fds || handshakeGoroutines() > hs) {
			time.Sleep(20 * time.Millisecond)
		}
		if n, g := openFDs(), handshakeGoroutines(); n > fds || g > hs {
			t.Errorf("left: %d descriptors (from %d), %d handshake goroutines (from %d)", n, fds, g, hs)
		}
	})
}

// Engine.Stop with MiBs of output queued to a client that reads: the client gets every byte, then
// close_notify (the last record on the wire), then the end, and OnClose reports ErrEngineStopped.
func TestStopFlushesThenCloseNotify(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		const total = 4 << 20
		opened := make(chan struct{}, 1)
		closed := make(chan error, 1)
		h := &advH{
			open: func(c eddy.Conn) {
				b := make([]byte, total)
				fillPattern(b, 0)
				c.Write(b)
				opened <- struct{}{}
			},
			closed: func(_ eddy.Conn, err error) { closed <- err },
		}
		e, addr := advStart(t, k, etls.Server(h, p.server))
		conn, rc := dialTLS12(t, addr, p)
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		if err := conn.Handshake(); err != nil {
			t.Fatal(err)
		}
		<-opened
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stopped <- e.Stop(ctx)
		}()
		got, err := io.ReadAll(conn)
		if err != nil || len(got) != total {
			t.Fatalf("read %d of %d bytes, %v", len(got), total, err)
		}
		if err := checkPattern(got, 0); err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		typ, _ := lastRecordType(rc.got)
		rc.mu.Unlock()
		if typ != 21 {
			t.Errorf("the last record on the wire is of type %d, want an alert (close_notify)", typ)
		}
		if err := <-stopped; err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := <-closed; !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("OnClose: %v, want ErrEngineStopped", err)
		}
	})
}

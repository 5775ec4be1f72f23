package http1_test

// Found by a review of HTTPS (http1 over etls), session 20: timeouts a TLS client could slip past.

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// trickleRecord writes, straight onto the socket under an established TLS connection, the
// header of an application-data record of 16 KiB and then one byte of its body every interval, until
// stop is closed or a write fails: the record is never whole, so nothing reaches the HTTP layer.
func trickleRecord(raw net.Conn, interval time.Duration, stop <-chan struct{}) {
	if _, err := raw.Write([]byte{0x17, 0x03, 0x03, 0x40, 0x00}); err != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(interval):
			if _, err := raw.Write([]byte{0x42}); err != nil {
				return
			}
		}
	}
}

// TestTLSPartialRecordSlowloris: ReadHeaderTimeout and IdleTimeout are absolute bounds in
// net/http (read deadlines on the socket), and eddy keeps them so over plain TCP by re-arming the
// idle timeout from the time left at each arrival. Over TLS, bytes of a record that is not yet whole
// reached the raw connection (resetting its idle timeout) but never the HTTP layer, which re-arms
// nothing: a client that trickled one byte of a record per interval shorter than the timeout kept
// the connection open far past ReadHeaderTimeout / IdleTimeout (a 16 KiB record lasts hours). etls's
// idle timeout counts plaintext traffic now (etls.Conn.SetIdleTimeout).
func TestTLSPartialRecordSlowloris(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// The timeouts are 2 s: they bound the handshake too, which a loaded machine may take long over.
	var cases sync.WaitGroup
	for _, tc := range []struct {
		name string
		srv  func() *http1.Server
		// before is what the client sends after the handshake, before the record it never ends;
		// answered says whether a response to it comes first.
		before   string
		answered bool
	}{
		// No request yet: the first request's head is due within ReadHeaderTimeout.
		{"ReadHeaderTimeout", func() *http1.Server { return &http1.Server{ReadHeaderTimeout: 2 * time.Second, Handler: ok} },
			"", false},
		// Half a head, then the rest in a record that never ends.
		{"ReadHeaderTimeoutPartialHead", func() *http1.Server { return &http1.Server{ReadHeaderTimeout: 2 * time.Second, Handler: ok} },
			"GET / HTTP/1.1\r\nHost: x\r\n", false},
		// A request served: the connection waits for the next one for IdleTimeout.
		{"IdleTimeout", func() *http1.Server { return &http1.Server{IdleTimeout: 2 * time.Second, Handler: ok} },
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		// A body the handler left unread is dropped within ReadTimeout (net/http: under the read deadline).
		{"ReadTimeoutDrain", func() *http1.Server { return &http1.Server{ReadTimeout: 2 * time.Second, Handler: ok} },
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc", true},
		// A native request's body must arrive within ReadTimeout.
		{"ReadTimeoutNativeBody", func() *http1.Server {
			return &http1.Server{ReadTimeout: 2 * time.Second,
				Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) { w.WriteString("ok") })}
		}, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc", false},
	} {
		// Every case on every engine at once: each waits out its 2 s timeout on a server and a
		// client of its own.
		cases.Go(func() {
			t.Run(tc.name, func(t *testing.T) {
				forEachEngineAtOnce(t, func(t *testing.T, engine eddy.EngineKind) {
					srv := tc.srv()
					srv.ErrorLog = log.New(io.Discard, "", 0)
					addr := startTLS(t, engine, srv, certFile, keyFile)
					c := advDial(t, addr)
					if tc.before != "" {
						io.WriteString(c, tc.before)
					}
					if tc.answered {
						c.SetDeadline(time.Now().Add(10 * time.Second))
						if got := readResponses(t, bufio.NewReader(c), 1, "GET"); got[0] != "ok" {
							t.Fatalf("%q", got)
						}
						c.SetDeadline(time.Time{})
					}
					raw := c.NetConn()
					stop := make(chan struct{})
					var wg sync.WaitGroup
					wg.Add(1)
					go func() {
						defer wg.Done()
						trickleRecord(raw, 200*time.Millisecond, stop)
					}()
					defer func() { close(stop); wg.Wait() }()
					// net/http closes it after 2 s; 8 s is only against a connection that stays open.
					advWaitClosed(t, raw, 8*time.Second)
				})
			})
		})
	}
	cases.Wait()
}

// TestTLSHandshakeTimeoutIsTheSmallest: net/http bounds the TLS handshake by the smallest of
// ReadHeaderTimeout, ReadTimeout and WriteTimeout that is set (Server.tlsHandshakeTimeout); eddy
// took ReadHeaderTimeout alone when it was set (ReadTimeout only in its absence, WriteTimeout
// never): with ReadHeaderTimeout 60 s and WriteTimeout or ReadTimeout 1 s, a client that connected
// and sent no ClientHello held its connection (and a handshake goroutine) 60 s instead of 1 s.
func TestTLSHandshakeTimeoutIsTheSmallest(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	var cases sync.WaitGroup
	for _, tc := range []struct {
		name string
		srv  func() *http1.Server
	}{
		{"WriteTimeout", func() *http1.Server {
			return &http1.Server{ReadHeaderTimeout: time.Minute, WriteTimeout: time.Second}
		}},
		{"ReadTimeout", func() *http1.Server {
			return &http1.Server{ReadHeaderTimeout: time.Minute, ReadTimeout: time.Second}
		}},
	} {
		// Every case on every engine at once: each waits out its 1 s timeout on a server and a
		// client of its own.
		cases.Go(func() {
			t.Run(tc.name, func(t *testing.T) {
				forEachEngineAtOnce(t, func(t *testing.T, engine eddy.EngineKind) {
					srv := tc.srv()
					srv.Handler = http.NotFoundHandler()
					srv.ErrorLog = log.New(io.Discard, "", 0)
					addr := startTLS(t, engine, srv, certFile, keyFile)
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					// net/http closes it after 1 s; 8 s is only against the 60 s bound.
					advWaitClosed(t, c, 8*time.Second)
				})
			})
		})
	}
	cases.Wait()
}

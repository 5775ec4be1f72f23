package http1_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDeadlineFromAWatchdog: a handler whose Write or Body.Read is blocked (a client that
// stopped reading, or stopped sending) is freed by another goroutine of its own that sets a
// deadline in the past with http.ResponseController, as net/http's connection deadlines allow (a
// watchdog that bounds a stall without knowing when the handler writes). The blocked call fails
// with os.ErrDeadlineExceeded.
func TestDeadlineFromAWatchdog(t *testing.T) {
	// A file larger than the sockets hold, for a handler blocked in sendfile (io.Copy from an
	// *os.File).
	name := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(name, make([]byte, 16<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		stuck := make(chan struct{})
		watchdog := make(chan struct{})
		go func() {
			defer close(watchdog)
			select {
			case <-stuck: // the handler is done
			case <-time.After(300 * time.Millisecond):
				if r.URL.Path != "/read" {
					rc.SetWriteDeadline(time.Now())
				} else {
					rc.SetReadDeadline(time.Now())
				}
			}
		}()
		var err error
		switch r.URL.Path {
		case "/write":
			chunk := []byte(strings.Repeat("w", 32<<10))
			for err == nil {
				_, err = w.Write(chunk)
			}
		case "/sendfile":
			var f *os.File
			if f, err = os.Open(name); err == nil {
				w.Header().Set("Content-Length", strconv.Itoa(16<<20))
				_, err = io.Copy(w, f)
				f.Close()
			}
		default:
			_, err = io.Copy(io.Discard, r.Body)
		}
		close(stuck)
		<-watchdog
		results <- err
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		for _, path := range []string{"/write", "/sendfile", "/read"} {
			c := dial(t, addr)
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			if path != "/read" {
				io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			} else {
				io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
			}
			select {
			case err := <-results:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("%s: the blocked call failed with %v; want os.ErrDeadlineExceeded", path, err)
				}
			case <-time.After(10 * time.Second):
				c.Close() // frees the handler
				<-results
				t.Errorf("%s: the handler stayed blocked 10 s after its watchdog set a deadline in the past", path)
			}
			c.Close()
		}
	})
}

// TestDeadlineExtendedByAWatchdog: the other way round, a watchdog that pushes the write
// deadline back while the handler's Write waits for a client that pauses: the wait goes on to the
// new deadline, as a net/http connection's blocked write does, and the response arrives whole.
func TestDeadlineExtendedByAWatchdog(t *testing.T) {
	const size = 8 << 20
	results := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(time.Second))
		done := make(chan struct{})
		watchdog := make(chan struct{})
		go func() {
			defer close(watchdog)
			select {
			case <-done:
			case <-time.After(100 * time.Millisecond):
				rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			}
		}()
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := make([]byte, 32<<10)
		var err error
		for off := 0; off < size && err == nil; off += len(chunk) {
			_, err = w.Write(chunk)
		}
		close(done)
		<-watchdog
		results <- err
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		c := dial(t, addr)
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(1500 * time.Millisecond) // past the first deadline, not reading
		resp, err := readResponse(bufio.NewReader(c), "GET")
		if err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		if len(resp.body) != size {
			t.Errorf("got %d bytes of %d", len(resp.body), size)
		}
		if err := <-results; err != nil {
			t.Errorf("the handler's write failed: %v", err)
		}
	})
}

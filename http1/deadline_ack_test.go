package http1_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// ackGate holds back, on the loop, the n-th acknowledgement of a response's write on the
// server's connection to client, until release is closed: the bytes are in the kernel, and the
// handler has not heard so yet.
type ackGate struct {
	client  string // the client's local address: the server connection's remote one
	n       int
	release chan struct{}
	once    sync.Once

	mu   sync.Mutex
	seen int
}

func (g *ackGate) hook(c eddy.Conn) {
	if c.RemoteAddr().String() != g.client {
		return
	}
	g.mu.Lock()
	g.seen++
	hold := g.seen == g.n
	g.mu.Unlock()
	if hold {
		<-g.release
	}
}

func (g *ackGate) open() { g.once.Do(func() { close(g.release) }) }

// TestDeadlineWithAckInTransitClosesGracefully: a write deadline that passes while a batch of
// the response (or a file region) that has reached the kernel waits for its acknowledgement to
// come back from the loop. The handler's write fails with os.ErrDeadlineExceeded, but what has
// reached the kernel is the client's: as with net/http, whose write returned, the client reads
// everything that was sent and then EOF. http1 took the timed-out wait for a client that does not
// read and reset the connection, so the client got ECONNRESET (and may lose bytes it had not read).
func TestDeadlineWithAckInTransitClosesGracefully(t *testing.T) {
	const flushed = 8 << 10
	const fileSize = 16 << 10 // http1's smallest region for SendFile
	dir := t.TempDir()
	fileBytes := bytes.Repeat([]byte("0123456789abcdef"), fileSize/16)
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, fileBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	var gate atomic.Pointer[ackGate] // set before each request; read by the handler
	results := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		var err error
		switch r.URL.Path {
		case "/flush":
			io.WriteString(w, strings.Repeat("x", flushed)) // past the buffer: head and body go as a batch
			rc.SetWriteDeadline(time.Now().Add(150 * time.Millisecond))
			err = rc.Flush() // waits for the batch's acknowledgement, held until the deadline has passed
		case "/sendfile":
			f, ferr := os.Open(path)
			if ferr != nil {
				t.Error(ferr)
				break
			}
			defer f.Close()
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(fileSize))
			rc.SetWriteDeadline(time.Now().Add(150 * time.Millisecond))
			_, err = io.Copy(w, f) // the head (acknowledged), then the region (held)
		}
		gate.Load().open()
		results <- err
	})
	cases := []struct {
		path string
		hold int // which acknowledgement to hold
		want func(t *testing.T, br *bufio.Reader)
	}{
		{"/flush", 1, func(t *testing.T, br *bufio.Reader) {
			wh, err := readWireHead(br)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			chunk, err := readWireChunk(br)
			if wh.status != 200 || err != nil || chunk != strings.Repeat("x", flushed) {
				t.Fatalf("got status %d and a chunk of %d bytes (%v); want 200 and the %d bytes flushed", wh.status, len(chunk), err, flushed)
			}
		}},
		{"/sendfile", 2, func(t *testing.T, br *bufio.Reader) {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			body := make([]byte, fileSize)
			if _, err := io.ReadFull(resp.Body, body); err != nil || !bytes.Equal(body, fileBytes) {
				t.Fatalf("body: %v (equal %v); want the file's %d bytes", err, bytes.Equal(body, fileBytes), fileSize)
			}
		}},
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
		addr := start(t, engine, srv)
		for _, tc := range cases {
			t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
				c := dial(t, addr)
				defer c.Close()
				g := &ackGate{client: c.LocalAddr().String(), n: tc.hold, release: make(chan struct{})}
				gate.Store(g)
				t.Cleanup(g.open) // never leave the loop held
				restore := http1.SetAckHook(g.hook)
				defer restore()
				io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				// The client reads nothing until the handler is done, and the connection's end
				// decided: a reset would then find the bytes unread in its socket.
				var herr error
				select {
				case herr = <-results:
				case <-time.After(10 * time.Second):
					g.open()
					t.Fatal("the handler did not return")
				}
				if !errors.Is(herr, os.ErrDeadlineExceeded) {
					t.Errorf("the handler's write returned %v; want os.ErrDeadlineExceeded", herr)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				tc.want(t, br)
				rest, err := io.ReadAll(br)
				if err != nil || len(rest) != 0 {
					t.Errorf("after the bytes sent: %q then %v; want a clean EOF (the connection closed gracefully)", rest, err)
				}
			})
		}
	})
}

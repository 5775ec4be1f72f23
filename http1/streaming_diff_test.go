package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// Streaming handlers as users write them (Server-Sent Events, http.ResponseController, full-duplex
// echo, large responses to slow readers), each run on net/http's server and on http1's on every
// engine, comparing what a raw client sees on the wire and what the handler sees.

// onEveryServer runs check as a subtest against net/http's server serving h, then against http1's
// on every engine.
func onEveryServer(t *testing.T, h http.Handler, check func(t *testing.T, addr string)) {
	t.Run("nethttp", func(t *testing.T) { check(t, netHTTPRef(t, h, nil)) })
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}))
	})
}

// wireHead is a response head as it came off the wire.
type wireHead struct {
	status int
	header textproto.MIMEHeader
}

// readWireHead reads a response head without decoding the body that follows.
func readWireHead(br *bufio.Reader) (*wireHead, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	_, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		return nil, fmt.Errorf("status line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	return &wireHead{status: status, header: h}, nil
}

// readWireChunk reads one chunk of a chunked body as framed: its data, "" for the last chunk
// (whose empty trailer section it reads too).
func readWireChunk(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("chunk size line %q", line)
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line, "\r\n"), 16, 64)
	if err != nil {
		return "", fmt.Errorf("chunk size line %q", line)
	}
	data := make([]byte, n+2)
	if _, err := io.ReadFull(br, data); err != nil {
		return "", err
	}
	if string(data[n:]) != "\r\n" {
		return "", fmt.Errorf("chunk of %d not followed by CRLF: %q", n, data[n:])
	}
	if n == 0 {
		return "", nil
	}
	return string(data[:n]), nil
}

// headerKeys lists the fields of a head, with the value of those whose value is the same on every
// server (all but Date).
func headerKeys(h textproto.MIMEHeader) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if k == "Date" {
			b.WriteString(k + "; ")
			continue
		}
		fmt.Fprintf(&b, "%s=%q; ", k, h[k])
	}
	return b.String()
}

// TestSSEEventsArriveAsFlushed: an SSE handler that writes an event and flushes it every few
// milliseconds, then waits for the client to have read them all before it returns. Each flush is one
// chunk on the wire, the client reads each before the handler returns, and the head and framing are
// net/http's.
func TestSSEEventsArriveAsFlushed(t *testing.T) {
	const events = 40
	got := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for i := range events {
			<-tick.C
			if _, err := fmt.Fprintf(w, "id: %d\ndata: tick %d\n\n", i, i); err != nil {
				t.Errorf("Write %d: %v", i, err)
				return
			}
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush %d: %v", i, err)
				return
			}
		}
		// Batched until the handler returns, the events would never reach the client.
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Errorf("the client did not get the %d flushed events while the handler waited", events)
		}
	})
	var ref string
	onEveryServer(t, h, func(t *testing.T, addr string) {
		c := dial(t, addr)
		io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		head, err := readWireHead(br)
		if err != nil {
			t.Fatal(err)
		}
		for i := range events {
			chunk, err := readWireChunk(br)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if want := fmt.Sprintf("id: %d\ndata: tick %d\n\n", i, i); chunk != want {
				t.Fatalf("chunk %d is %q; want the event %q alone", i, chunk, want)
			}
		}
		got <- struct{}{}
		if last, err := readWireChunk(br); err != nil || last != "" {
			t.Fatalf("after the events: %q %v; want the last chunk", last, err)
		}
		keys := fmt.Sprintf("%d %s", head.status, headerKeys(head.header))
		if ref == "" {
			ref = keys
		} else if keys != ref {
			t.Errorf("head\n%s\nnet/http's\n%s", keys, ref)
		}
		// The connection stays for the next request.
		io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if _, err := readWireHead(br); err != nil {
			t.Fatalf("second request: %v", err)
		}
		for range events {
			readWireChunk(br)
		}
		got <- struct{}{}
		waitClosed(t, c, 10*time.Second)
	})
}

// sseOutcome is what an SSE handler saw of a client that went away.
type sseOutcome struct {
	sent     int   // events written and flushed without error
	ctxErr   error // r.Context().Err() once done, or nil if it was never cancelled
	writeErr error // the error of the Write or Flush that failed; nil if none did
}

// TestSSEClientGoesMidStream: the client of an SSE stream goes away after a few events, by
// closing (FIN), by a reset, or by shutting down its sending side only. The handler, which writes
// and flushes an event every few milliseconds, sees its context cancelled, and, once the connection
// is gone (not for the half-close, whose reading side stays), its next Write or Flush fails; it
// returns, leaving no goroutine and no descriptor behind.
func TestSSEClientGoesMidStream(t *testing.T) {
	outcome := make(chan sseOutcome, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		var o sseOutcome
		giveUp := time.After(10 * time.Second)
		halfClose := r.URL.Path == "/half"
	loop:
		for {
			select {
			case <-giveUp:
				break loop
			case <-time.After(2 * time.Millisecond):
			}
			if halfClose && r.Context().Err() != nil {
				break // what a handler that watches its context does
			}
			if _, err := fmt.Fprintf(w, "data: %d\n\n", o.sent); err != nil {
				o.writeErr = err
				break
			}
			if err := rc.Flush(); err != nil {
				o.writeErr = err
				break
			}
			o.sent++
		}
		// net/http cancels the context of a request whose client went away, when it notices.
		select {
		case <-r.Context().Done():
			o.ctxErr = r.Context().Err()
		case <-time.After(10 * time.Second):
		}
		outcome <- o
	})
	for _, how := range []string{"close", "reset", "half"} {
		t.Run(how, func(t *testing.T) {
			onEveryServer(t, h, func(t *testing.T, addr string) {
				before := countFDs(t)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET /"+how+" HTTP/1.1\r\nHost: x\r\n\r\n")
				br := bufio.NewReader(c)
				if _, err := readWireHead(br); err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					if chunk, err := readWireChunk(br); err != nil || chunk != fmt.Sprintf("data: %d\n\n", i) {
						t.Fatalf("event %d: %q %v", i, chunk, err)
					}
				}
				switch how {
				case "reset":
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				case "close":
					c.Close()
				case "half":
					c.(*net.TCPConn).CloseWrite()
				}
				o := <-outcome
				t.Logf("sent %d events; context %v; write %v", o.sent, o.ctxErr, o.writeErr)
				if !errors.Is(o.ctxErr, context.Canceled) {
					t.Errorf("the request's context was not cancelled within 10 s of the client's %s", how)
				}
				if how == "half" {
					// The client still reads: the stream ends with the handler.
					for {
						chunk, err := readWireChunk(br)
						if err != nil {
							t.Fatalf("reading the rest after the half-close: %v", err)
						}
						if chunk == "" {
							break
						}
					}
					c.Close()
				} else if o.writeErr == nil {
					t.Errorf("the handler's writes did not fail within 10 s of the client's %s", how)
				}
				if after := fdsSettled(t, before); after > before {
					t.Errorf("%d descriptors open after the stream; %d before", after, before)
				}
			})
		})
	}
}

// TestWriteDeadlineOnAClientThatStopsReading: a handler that sets a write deadline with
// http.ResponseController and streams to a client that reads the head and then nothing: its Write
// (or Flush) fails with os.ErrDeadlineExceeded once the deadline has passed, rather than block for
// as long as the client stays, and the connection ends.
func TestWriteDeadlineOnAClientThatStopsReading(t *testing.T) {
	type result struct {
		written int64
		err     error
	}
	results := make(chan result, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		chunk := []byte(strings.Repeat("w", 32<<10))
		var res result
		for res.written < 256<<20 { // far more than the sockets hold
			if _, err := w.Write(chunk); err != nil {
				res.err = err
				break
			}
			res.written += int64(len(chunk))
		}
		if res.err == nil {
			res.err = rc.Flush()
		}
		results <- res
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		c := dial(t, addr)
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		var res result
		select {
		case res = <-results:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's writes to a client that stopped reading went on 10 s past their deadline")
		}
		t.Logf("wrote %d bytes, then %v", res.written, res.err)
		if !errors.Is(res.err, os.ErrDeadlineExceeded) {
			t.Errorf("the handler's write failed with %v; want os.ErrDeadlineExceeded", res.err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var tail tailWriter
		n, err := io.Copy(&tail, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the connection stayed open 10 s after the write deadline (%d bytes read)", n)
		}
		if strings.HasSuffix(string(tail), "\r\n0\r\n\r\n") {
			t.Errorf("the response ended as if complete after a failed write")
		}
	})
}

// TestSSELiftsWriteTimeout: an SSE handler under a server's WriteTimeout lifts it with
// SetWriteDeadline(time.Time{}) before it writes, and streams for longer than the timeout to a
// client that reads: no write fails, and the stream ends as the handler does.
func TestSSELiftsWriteTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	errs := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			errs <- err
			return
		}
		end := time.Now().Add(3 * timeout)
		var err error
		for i := 0; err == nil && time.Now().Before(end); i++ {
			time.Sleep(timeout / 8)
			if _, err = fmt.Fprintf(w, "data: %d\n\n", i); err == nil {
				err = rc.Flush()
			}
		}
		errs <- err
	})
	check := func(t *testing.T, addr string) {
		c := dial(t, addr)
		io.WriteString(c, "GET /sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := readResponse(bufio.NewReader(c), "GET")
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Errorf("the handler's write failed: %v", err)
		}
		if !strings.HasPrefix(resp.body, "data: 0\n\n") {
			t.Errorf("body %.40q", resp.body)
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, h, func(s *http.Server) { s.WriteTimeout = timeout }))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, WriteTimeout: timeout, ErrorLog: newLogger(io.Discard)}))
	})
}

// TestReadDeadlineOnASlowBody: a handler reading a body the client sends a piece at a time.
// Pushing the read deadline forward before each read, it reads the whole body however long it takes;
// with one deadline for the whole body, the read that passes it fails with os.ErrDeadlineExceeded,
// and the response after it says that the connection closes, as net/http's does.
func TestReadDeadlineOnASlowBody(t *testing.T) {
	const gap = 40 * time.Millisecond
	const pieces = 12
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.URL.Path == "/whole" {
			rc.SetReadDeadline(time.Now().Add(4 * gap))
		}
		var n int
		var err error
		buf := make([]byte, 1024)
		for {
			if r.URL.Path == "/each" {
				rc.SetReadDeadline(time.Now().Add(25 * gap)) // a deadline per read, far from each arrival
			}
			var k int
			k, err = r.Body.Read(buf)
			n += k
			if err != nil {
				break
			}
		}
		fmt.Fprintf(w, "read %d: eof=%v deadline=%v", n, err == io.EOF, errors.Is(err, os.ErrDeadlineExceeded))
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		for _, path := range []string{"/each", "/whole"} {
			c := dial(t, addr)
			io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(pieces*10)+"\r\n\r\n")
			stop := make(chan struct{})
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for range pieces {
					select {
					case <-stop:
						return
					case <-time.After(gap):
					}
					if _, err := io.WriteString(c, "0123456789"); err != nil {
						return
					}
				}
			}()
			br := bufio.NewReader(c)
			resp, err := readResponse(br, "POST")
			close(stop)
			<-sent
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			switch path {
			case "/each":
				if want := fmt.Sprintf("read %d: eof=true deadline=false", pieces*10); resp.body != want || resp.close {
					t.Errorf("%s: %q close=%v; want %q, the connection kept", path, resp.body, resp.close, want)
				}
			case "/whole":
				if !strings.HasSuffix(resp.body, "eof=false deadline=true") || !resp.close {
					t.Errorf("%s: %q close=%v; want a failed read and Connection: close", path, resp.body, resp.close)
				}
				waitClosed(t, c, 10*time.Second)
			}
		}
	})
}

// tailWriter keeps the last bytes written to it.
type tailWriter []byte

func (w *tailWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	if len(*w) > 64 {
		*w = append((*w)[:0], (*w)[len(*w)-64:]...)
	}
	return len(p), nil
}

var streamBig = flag.Bool("http1.streambig", false, "stream 100 MiB in TestFullDuplexEcho and TestLargeResponseToASlowReader (16 MiB otherwise)")

// streamSize is how much the streaming tests send.
func streamSize() int64 {
	if *streamBig {
		return 100 << 20
	}
	return 16 << 20
}

// streamByte returns the byte at offset i of the streams the tests send, which shows a byte out of
// place.
func streamByte(i int64) byte { return byte(i*7 + i>>13) }

// streamPeriod is the period of streamByte: i*7 repeats every 256 bytes, i>>13 (mod 256) every
// 2 MiB.
const streamPeriod = 1 << 21

// streamTable is one period of the pattern. fillStream and streamMismatch copy and compare runs
// of it rather than computing each byte: under -race every byte accessed in a loop is a call into
// the race runtime (seconds for the tens of MiB a test streams), a copy or a compare is one.
var streamTable = sync.OnceValue(func() []byte {
	b := make([]byte, streamPeriod)
	for i := range b {
		b[i] = streamByte(int64(i))
	}
	return b
})

func fillStream(b []byte, off int64) {
	table := streamTable()
	for len(b) > 0 {
		n := copy(b, table[off%streamPeriod:])
		b, off = b[n:], off+int64(n)
	}
}

// streamMismatch reports the offset of the first byte of b that is not the pattern's, or -1.
func streamMismatch(b []byte, off int64) int64 {
	table := streamTable()
	for len(b) > 0 {
		want := table[off%streamPeriod:]
		n := min(len(b), len(want))
		if !bytes.Equal(b[:n], want[:n]) {
			for i := range n {
				if b[i] != want[i] {
					return off + int64(i)
				}
			}
		}
		b, off = b[n:], off+int64(n)
	}
	return -1
}

// TestFullDuplexEcho: an echo handler that enables full duplex and writes each piece of the
// request body back as it reads it, flushing. A client that streams a large chunked body and reads
// the echo at the same time gets it all back, in order, with no deadlock: the handler's writes wait
// for the client to read, the client's writes for the handler to read, and neither waits for the
// other's end.
func TestFullDuplexEcho(t *testing.T) {
	size := streamSize()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil { // the head, before any of the body has come
			t.Errorf("Flush: %v", err)
		}
		buf := make([]byte, 20<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					t.Errorf("Write: %v", werr)
					return
				}
				if ferr := rc.Flush(); ferr != nil {
					t.Errorf("Flush: %v", ferr)
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Errorf("Read: %v", err)
				return
			}
		}
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(60 * time.Second)) // a deadlock fails the test here
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		sent := make(chan error, 1)
		go func() {
			bw := bufio.NewWriterSize(c, 64<<10)
			buf := make([]byte, 48<<10)
			for off, i := int64(0), 0; off < size; i++ {
				n := min(int64(1+(i*7919)%len(buf)), size-off) // pieces of every size
				fillStream(buf[:n], off)
				fmt.Fprintf(bw, "%x\r\n", n)
				bw.Write(buf[:n])
				bw.WriteString("\r\n")
				off += n
			}
			bw.WriteString("0\r\n\r\n")
			sent <- bw.Flush()
		}()
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			if bad := streamMismatch(buf[:n], got); bad >= 0 {
				t.Fatalf("echo differs at byte %d", bad)
			}
			got += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reading the echo after %d of %d bytes: %v", got, size, err)
			}
		}
		if err := <-sent; err != nil {
			t.Fatalf("sending the body: %v", err)
		}
		if got != size {
			t.Fatalf("echoed %d bytes of %d", got, size)
		}
	})
}

// TestLargeResponseToASlowReader: a handler streaming a large response to a client that first
// reads nothing and then reads slowly. Back-pressure reaches the handler's Write: it stops while
// the client does not read (what it got ahead is what the sockets hold), and never gets further
// ahead than that, so the server's memory stays bounded whatever the size of the response.
func TestLargeResponseToASlowReader(t *testing.T) {
	size := streamSize()
	// What may be between the handler's Write and the client's reads: the server's socket send
	// buffer (tcp_wmem's maximum, 4 MiB here), the client's receive buffer (set to 64 KiB), and the
	// server's own buffers (net/http's bufio, http1's two batches).
	const lead = 6 << 20
	var written atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		buf := make([]byte, 32<<10)
		for off := int64(0); off < size; {
			n := min(int64(len(buf)), size-off)
			fillStream(buf[:n], off)
			if _, err := w.Write(buf[:n]); err != nil {
				t.Errorf("Write at %d: %v", off, err)
				return
			}
			off += n
			written.Store(off)
		}
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		written.Store(0)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		c.SetDeadline(time.Now().Add(120 * time.Second))
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		// Not reading: the handler stops once the sockets are full.
		last, still := int64(-1), 0
		for still < 10 {
			time.Sleep(30 * time.Millisecond)
			if n := written.Load(); n != last {
				last, still = n, 0
			} else {
				still++
			}
		}
		if last > lead {
			t.Fatalf("the handler wrote %d bytes to a client that read none; at most %d fit in the sockets", last, lead)
		}
		t.Logf("held at %d bytes", last)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		var got, ahead int64
		buf := make([]byte, 64<<10)
		for i := 0; ; i++ {
			n, err := resp.Body.Read(buf)
			if bad := streamMismatch(buf[:n], got); bad >= 0 {
				t.Fatalf("body differs at byte %d", bad)
			}
			got += int64(n)
			ahead = max(ahead, written.Load()-got)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d of %d bytes: %v", got, size, err)
			}
			if i%16 == 0 {
				time.Sleep(time.Millisecond) // slow, not stalled
			}
		}
		if got != size {
			t.Fatalf("read %d bytes of %d", got, size)
		}
		t.Logf("the handler was at most %d bytes ahead of the client", ahead)
		if ahead > lead {
			t.Errorf("the handler got %d bytes ahead of a slow client; at most %d fit in the sockets", ahead, lead)
		}
	})
}

// TestWriteTimeoutEndsAStalledResponse: with WriteTimeout set, a handler writes a response
// larger than the sockets hold to a client that reads nothing. Its Write fails with
// os.ErrDeadlineExceeded at the deadline (rather than block for as long as the client stays), and
// the connection ends with the response cut short. (net/http closes it, its kernel sending what the
// socket holds; http1 resets it, dropping that: either way the response is incomplete.)
func TestWriteTimeoutEndsAStalledResponse(t *testing.T) {
	const timeout = 400 * time.Millisecond
	const size = 8 << 20 // more than the server's send and the client's receive buffers hold
	returned := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		buf := make([]byte, 32<<10)
		var err error
		for off := 0; off < size && err == nil; off += len(buf) {
			_, err = w.Write(buf)
		}
		returned <- err
	})
	check := func(t *testing.T, addr string) {
		c := dial(t, addr)
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case err := <-returned:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the handler's write ended with %v; want os.ErrDeadlineExceeded", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's write still blocked 10 s after the WriteTimeout")
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the connection stayed open (%d bytes read) 10 s after the WriteTimeout", n)
		}
		t.Logf("read %d bytes, then %v", n, err)
		if n > size {
			t.Errorf("the client got the whole response (%d bytes) after the handler's write failed", n)
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, h, func(s *http.Server) { s.WriteTimeout = timeout }))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, WriteTimeout: timeout, ErrorLog: newLogger(io.Discard)}))
	})
}

// TestFullDuplexPingPong: a full-duplex handler that echoes each piece of the body as it
// reads it, and a client that sends a line and waits for its echo before it sends the next (a
// bidirectional stream over HTTP/1.1). Every line must come back while the body is still open, with
// a chunked body and with a Content-Length one.
func TestFullDuplexPingPong(t *testing.T) {
	const rounds = 30
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		buf := make([]byte, 4<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				if ferr := rc.Flush(); ferr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	onEveryServer(t, h, func(t *testing.T, addr string) {
		for _, chunked := range []bool{true, false} {
			c := dial(t, addr)
			line := func(i int) string { return fmt.Sprintf("ping %03d\n", i) }
			if chunked {
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
			} else {
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(rounds*len(line(0)))+"\r\n\r\n")
			}
			send := func(i int) {
				if chunked {
					fmt.Fprintf(c, "%x\r\n%s\r\n", len(line(i)), line(i))
				} else {
					io.WriteString(c, line(i))
				}
			}
			send(0)
			br := bufio.NewReader(c)
			if _, err := readWireHead(br); err != nil {
				t.Fatalf("chunked=%v: head: %v", chunked, err)
			}
			var echo string
			for i := 0; i < rounds; {
				chunk, err := readWireChunk(br)
				if err != nil || chunk == "" {
					t.Fatalf("chunked=%v: round %d: %q %v", chunked, i, chunk, err)
				}
				echo += chunk
				if echo == line(i) {
					echo = ""
					if i++; i < rounds {
						send(i)
					}
				} else if !strings.HasPrefix(line(i), echo) {
					t.Fatalf("chunked=%v: round %d: echo %q", chunked, i, echo)
				}
			}
			if chunked {
				io.WriteString(c, "0\r\n\r\n")
			}
			if last, err := readWireChunk(br); err != nil || last != "" {
				t.Fatalf("chunked=%v: after the rounds: %q %v", chunked, last, err)
			}
		}
	})
}

// TestShutdownWithSSEStreams: SSE streams outlive any request, so a graceful Shutdown waits
// for them. A server whose handlers stop on RegisterOnShutdown's signal shuts down at once, each
// stream ending with its last chunk before the connection closes. One whose handlers ignore it
// makes Shutdown return its context's error, the streams still flowing; Close then ends them: the
// handlers' writes fail and their contexts are cancelled.
func TestShutdownWithSSEStreams(t *testing.T) {
	type server struct {
		addr     string
		onStop   func(func())
		shutdown func(context.Context) error
		close    func() error
	}
	run := func(t *testing.T, newServer func(t *testing.T, h http.Handler) server) {
		for _, cooperative := range []bool{true, false} {
			stop := make(chan struct{})
			ended := make(chan error, 2)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				rc := http.NewResponseController(w)
				for i := 0; ; i++ {
					select {
					case <-stop:
						ended <- nil
						return
					case <-time.After(5 * time.Millisecond):
					}
					_, err := fmt.Fprintf(w, "data: %d\n\n", i)
					if err == nil {
						err = rc.Flush()
					}
					if err != nil {
						<-r.Context().Done()
						ended <- err
						return
					}
				}
			})
			srv := newServer(t, h)
			if cooperative {
				srv.onStop(func() { close(stop) })
			}
			var readers []*bufio.Reader
			for range 2 {
				c := dial(t, srv.addr)
				io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
				br := bufio.NewReader(c)
				if _, err := readWireHead(br); err != nil {
					t.Fatal(err)
				}
				if _, err := readWireChunk(br); err != nil {
					t.Fatal(err)
				}
				readers = append(readers, br)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := srv.shutdown(ctx)
			cancel()
			if cooperative {
				if err != nil {
					t.Errorf("Shutdown with handlers that stop on its signal: %v", err)
				}
				for i, br := range readers {
					for {
						chunk, err := readWireChunk(br)
						if err != nil {
							t.Fatalf("stream %d: %v before its last chunk", i, err)
						}
						if chunk == "" {
							break
						}
					}
					if b, err := br.ReadByte(); err != io.EOF {
						t.Errorf("stream %d: after the last chunk %q %v; want the connection closed", i, b, err)
					}
				}
				for range readers {
					<-ended
				}
				continue
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown with streams still running: %v; want the context's error", err)
			}
			for i, br := range readers { // still flowing
				if chunk, err := readWireChunk(br); err != nil || !strings.HasPrefix(chunk, "data: ") {
					t.Fatalf("stream %d after Shutdown gave up: %q %v", i, chunk, err)
				}
			}
			srv.close()
			for range readers {
				select {
				case err := <-ended:
					if err == nil {
						t.Errorf("a handler's write succeeded after Close")
					}
				case <-time.After(10 * time.Second):
					t.Fatal("a handler streamed on 10 s after Close")
				}
			}
			for i, br := range readers {
				if _, err := io.Copy(io.Discard, br); err != nil && !isReset(err) {
					t.Errorf("stream %d after Close: %v", i, err)
				}
			}
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		run(t, func(t *testing.T, h http.Handler) server {
			ref := httptest.NewUnstartedServer(h)
			ref.Config.ErrorLog = newLogger(io.Discard)
			ref.Start()
			t.Cleanup(ref.Close)
			return server{ref.Listener.Addr().String(), ref.Config.RegisterOnShutdown, ref.Config.Shutdown, ref.Config.Close}
		})
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		run(t, func(t *testing.T, h http.Handler) server {
			srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
			addr := start(t, engine, srv)
			return server{addr, srv.RegisterOnShutdown, srv.Shutdown, srv.Close}
		})
	})
}

// isReset reports whether err is a connection reset by the peer.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestSSEClientGoesWithItsBodyUnread: an SSE handler that streams without reading the large
// body of its request (past the point where the server stops reading it), and a client that goes
// away mid-stream. With reading paused the server learns of it from its writes: the handler's next
// Write or Flush fails all the same, and its context ends.
func TestSSEClientGoesWithItsBodyUnread(t *testing.T) {
	outcome := make(chan sseOutcome, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		var o sseOutcome
		for giveUp := time.Now().Add(10 * time.Second); time.Now().Before(giveUp); o.sent++ {
			time.Sleep(2 * time.Millisecond)
			if _, o.writeErr = fmt.Fprintf(w, "data: %d\n\n", o.sent); o.writeErr == nil {
				o.writeErr = rc.Flush()
			}
			if o.writeErr != nil {
				break
			}
		}
		select {
		case <-r.Context().Done():
			o.ctxErr = r.Context().Err()
		case <-time.After(10 * time.Second):
		}
		outcome <- o
	})
	body := strings.Repeat("b", 1<<20)
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprint("reset=", reset), func(t *testing.T) {
			onEveryServer(t, h, func(t *testing.T, addr string) {
				c := dial(t, addr)
				go io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
				br := bufio.NewReader(c)
				if _, err := readWireHead(br); err != nil {
					t.Fatal(err)
				}
				for range 3 {
					if _, err := readWireChunk(br); err != nil {
						t.Fatal(err)
					}
				}
				if reset {
					c.(*net.TCPConn).SetLinger(0)
				}
				c.Close()
				o := <-outcome
				t.Logf("sent %d events; context %v; write %v", o.sent, o.ctxErr, o.writeErr)
				if o.writeErr == nil {
					t.Errorf("the handler's writes did not fail within 10 s of the client's going")
				}
				if !errors.Is(o.ctxErr, context.Canceled) {
					t.Errorf("the request's context was not cancelled within 10 s of the client's going")
				}
			})
		})
	}
}

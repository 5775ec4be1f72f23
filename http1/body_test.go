package http1_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// This file checks Request.Body as net/http handlers see it: reads, Close, EOF and trailers.

// TestBodyCloseWakesABlockedRead: Request.Body.Close makes a Read blocked in another goroutine
// return, as net/http's does (its Close waits for the rest of the body, which the blocked Read then
// gets), so that a goroutine reading the body does not wait for ever once the handler gives up on
// it.
func TestBodyCloseWakesABlockedRead(t *testing.T) {
	run := func(t *testing.T, serve func(h http.Handler) string) string {
		result := make(chan string, 1)
		sendRest := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			readDone := make(chan error, 1)
			go func() {
				buf := make([]byte, 16)
				io.ReadFull(r.Body, buf[:3])
				_, err := r.Body.Read(buf) // blocks: the rest has not been sent yet
				readDone <- err
			}()
			time.Sleep(100 * time.Millisecond) // let the reader block
			closeDone := make(chan struct{})
			go func() { r.Body.Close(); close(closeDone) }()
			time.Sleep(50 * time.Millisecond)
			close(sendRest)
			select {
			case err := <-readDone:
				result <- fmt.Sprintf("Read returned (%v)", err)
			case <-time.After(2 * time.Second):
				result <- "Read still blocked 2s after Body.Close and the rest of the body arrived"
				// Unblock it (a change of deadline wakes the reader) so that the test can end.
				http.NewResponseController(w).SetReadDeadline(time.Now())
				<-readDone
			}
			<-closeDone
		})
		c := dial(t, serve(h))
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		<-sendRest
		io.WriteString(c, "defghij")
		res := <-result
		if r, err := readResponse(bufio.NewReader(c), "POST"); err != nil || r.status != 200 {
			t.Errorf("response: %v %+v", err, r)
		}
		return res
	}
	if got := run(t, func(h http.Handler) string { return netHTTPRef(t, h, nil) }); strings.Contains(got, "blocked") {
		t.Skipf("net/http: %s", got)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := run(t, func(h http.Handler) string { return start(t, engine, &http1.Server{Handler: h}) })
		if strings.Contains(got, "blocked") {
			t.Error(got)
		}
	})
}

// TestBodyCloseWakesAReadBeforeTheRestArrives: Close makes a blocked Read return at once with
// http.ErrBodyReadAfterClose, without waiting for the rest of the body (net/http's Close would wait
// for it, up to 256 KiB), so a handler can give up on a client that stopped sending.
func TestBodyCloseWakesAReadBeforeTheRestArrives(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		readDone := make(chan error, 1)
		go func() {
			buf := make([]byte, 16)
			io.ReadFull(r.Body, buf[:3])
			_, err := r.Body.Read(buf) // blocks: the rest never comes
			readDone <- err
		}()
		time.Sleep(100 * time.Millisecond) // let the reader block
		r.Body.Close()
		select {
		case err := <-readDone:
			fmt.Fprintf(w, "Read returned (%v)", err)
		case <-time.After(2 * time.Second):
			io.WriteString(w, "Read still blocked 2s after Body.Close")
			http.NewResponseController(w).SetReadDeadline(time.Now()) // wakes it
			<-readDone
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		c := dial(t, start(t, engine, &http1.Server{Handler: h}))
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil || r.status != 200 || r.body != "Read returned ("+http.ErrBodyReadAfterClose.Error()+")" {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

// TestBodyCloseAfterTheHandlerReturned: closing Request.Body from a goroutine that outlives the
// handler (net/http forbids only reading it then) does nothing, as with net/http, even when the
// body pipe was full as the handler returned (a body over 64 KiB left unread) and its response has
// since been recycled. Run with -race.
func TestBodyCloseAfterTheHandlerReturned(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		outcome := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(100 * time.Millisecond) // the body fills the 64 KiB pipe meanwhile
			body := r.Body
			go func() {
				time.Sleep(200 * time.Millisecond) // well after ServeHTTP returned
				defer func() {
					if v := recover(); v != nil {
						outcome <- fmt.Sprintf("Body.Close after the handler returned panicked: %v", v)
					}
				}()
				body.Close()
				outcome <- ""
			}()
			io.WriteString(w, "not reading it")
		})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		big := strings.Repeat("x", 200<<10)
		go io.WriteString(c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(big), big))
		if r, err := readResponse(bufio.NewReader(c), "POST"); err != nil || r.status != 200 {
			t.Fatalf("%v %+v", err, r)
		}
		if msg := <-outcome; msg != "" {
			t.Fatal(msg)
		}
	})
}

// TestTrailerIsNotWrittenBehindTheHandlersBack: as net/http documents, a handler may look at
// Request.Trailer (the declared keys) until it reads the body, and the values appear once a Read
// has returned io.EOF: the body's reader fills the map, in the reader's goroutine, never the loop
// while the handler looks at it. Run with -race.
func TestTrailerIsNotWrittenBehindTheHandlersBack(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		started := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			declared := 0
			for range 30 { // allowed: the body is not being read yet
				for k, v := range r.Trailer {
					_, _ = k, v
					declared++
				}
				time.Sleep(5 * time.Millisecond)
			}
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %q", b, r.Trailer.Get("X-Sum"))
		})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n")
		<-started
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, "5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil || r.body != `hello "42"` {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

// TestExpectContinueBodyReadToItsEndKeepsTheConnection: the body returns io.EOF together with the
// last bytes of a Content-Length body, as net/http's does, so a handler that reads exactly the
// body's bytes (json.Decoder) has read it to its end, and an "Expect: 100-continue" request read
// that way keeps its connection (curl sends Expect: 100-continue for large bodies).
func TestExpectContinueBodyReadToItsEndKeepsTheConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]int
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "a=%d", v["a"])
	})
	body := `{"a":1}`
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	exchangeOn := func(t *testing.T, addr string) (*rawResponse, error, *rawResponse, error) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		io.WriteString(c, req)
		// Wait for the 100 Continue, as a client does, then send the body.
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			return nil, fmt.Errorf("first line %q, %v; want 100 Continue", line, err), nil, nil
		}
		br.ReadString('\n')
		io.WriteString(c, body)
		r1, err1 := finalResponse(br, "POST")
		if err1 != nil {
			return nil, err1, nil, nil
		}
		io.WriteString(c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
		r2, err2 := readResponse(br, "GET")
		return r1, nil, r2, err2
	}
	if r1, err1, _, err2 := exchangeOn(t, netHTTPRef(t, h, nil)); err1 != nil || err2 != nil || r1.close {
		t.Skipf("net/http: %+v %v %v", r1, err1, err2)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		r1, err1, r2, err2 := exchangeOn(t, start(t, engine, &http1.Server{Handler: h}))
		if err1 != nil {
			t.Fatal(err1)
		}
		if r1.status != 200 || r1.body != "a=1" {
			t.Fatalf("first response %d %q", r1.status, r1.body)
		}
		if r1.close || err2 != nil {
			t.Fatalf("connection not reused after a body read to its last byte: first response close=%v, second request: %v %+v; net/http keeps it",
				r1.close, err2, r2)
		}
	})
}

//go:build linux

package http1_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// HEAD answered without Content-Length (a dynamic resource, or the chunked head a GET would get):
// ContentLength is -1 (unknown), as net/http says; it was 0, which told a client that sizes a
// download with HEAD that it was empty (found by a review).
func TestClientHeadWithoutContentLengthIsUnknown(t *testing.T) {
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		srv := advServeEach(t, func(i int, req *http.Request) string { return head })
		std := &http.Transport{}
		sresp, err := std.RoundTrip(advReq(t, "HEAD", srv.URL+"/", nil))
		if err != nil {
			t.Fatal(err)
		}
		sresp.Body.Close()
		std.CloseIdleConnections()
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			resp, err := advRT(t, tr, advReq(t, "HEAD", srv.URL+"/", nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ContentLength != sresp.ContentLength {
				t.Errorf("HEAD answered %q: ContentLength = %d, net/http says %d", head, resp.ContentLength, sresp.ContentLength)
			}
		})
	}
}

// A Content-Length request body that has more bytes than declared fails the request, as with
// net/http; it was cut short without a word (found by a review).
func TestClientBodyLongerThanContentLengthFails(t *testing.T) {
	srv := advServeEach(t, func(i int, req *http.Request) string {
		time.Sleep(100 * time.Millisecond) // let the client finish writing (and net/http notice)
		return advOK("x")
	})
	mk := func() *http.Request {
		req := advReq(t, "POST", srv.URL+"/", nil)
		req.Body = io.NopCloser(io.MultiReader(strings.NewReader("hello world")))
		req.ContentLength = 5
		return req
	}
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	_, serr := std.RoundTrip(mk())
	t.Logf("net/http: %v", serr)
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		resp, err := advRT(t, tr, mk())
		if err == nil {
			resp.Body.Close()
			t.Errorf("ContentLength=5 with an 11-byte body: no error (body silently truncated); net/http: %v", serr)
		}
	})
}

// A GET with a non-nil body of unknown length that turns out empty goes out without a body, as
// net/http sends it (it probes the first byte); it went out chunked, which some servers and
// proxies refuse (found by a review).
func TestClientEmptyBodyOfUnknownLengthIsNotChunked(t *testing.T) {
	te := make(chan string, 4)
	srv := advServeEach(t, func(i int, req *http.Request) string {
		te <- fmt.Sprintf("%v cl=%d", req.TransferEncoding, req.ContentLength)
		return advOK("x")
	})
	mk := func() *http.Request {
		req := advReq(t, "GET", srv.URL+"/", nil)
		req.Body = io.NopCloser(io.MultiReader())
		return req
	}
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	r, err := std.RoundTrip(mk())
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	want := <-te
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		resp, err := advRT(t, tr, mk())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := <-te; got != want {
			t.Errorf("server saw %q, net/http sends %q", got, want)
		}
	})
}

// slowBodyReader yields n pieces of 1 KiB, one every d.
type slowBodyReader struct {
	n int
	d time.Duration
}

func (r *slowBodyReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.d)
	r.n--
	return copy(p, strings.Repeat("x", min(len(p), 1024))), nil
}

// ResponseHeaderTimeout starts once the whole request is written, as net/http's does: a slow
// upload longer than it is no timeout. It started after the head (found by a review).
func TestClientResponseHeaderTimeoutStartsAfterTheUpload(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	defer srv.Close()
	mk := func() *http.Request {
		req := advReq(t, "POST", srv.URL+"/", nil)
		req.Body = io.NopCloser(&slowBodyReader{n: 6, d: 250 * time.Millisecond})
		req.ContentLength = -1
		return req
	}
	std := &http.Transport{ResponseHeaderTimeout: 700 * time.Millisecond}
	defer std.CloseIdleConnections()
	start := time.Now()
	r, serr := std.RoundTrip(mk())
	if serr != nil {
		t.Fatalf("net/http: %v after %v", serr, time.Since(start))
	}
	r.Body.Close()
	advEach(t, func(tr *http1.Transport) { tr.ResponseHeaderTimeout = 700 * time.Millisecond }, func(t *testing.T, tr *http1.Transport) {
		start := time.Now()
		resp, err := advRT(t, tr, mk())
		if err != nil {
			t.Errorf("streamed upload of 1.5 s, ResponseHeaderTimeout 700ms: %v after %v (net/http: no error)", err, time.Since(start).Round(time.Millisecond))
			return
		}
		resp.Body.Close()
	})
}

// A streamed request body whose reader sometimes returns (0, nil), as an io.Pipe does for an empty
// Write, against a server that is slow to start reading: the body the server receives must be the
// body sent. After a read of nothing the next read went into the buffer of the write still in
// flight, and the server got other bytes (found by a review).
func TestClientStreamedBodySurvivesEmptyReads(t *testing.T) {
	const piece, pieces = 32 << 10, 512 // 16 MiB
	want := sha256.New()
	for i := 0; i < pieces; i++ {
		want.Write(bytes.Repeat([]byte{byte(i), byte(i >> 8)}, piece/2))
	}
	wantSum := fmt.Sprintf("%x", want.Sum(nil))
	srv := advServe(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		time.Sleep(300 * time.Millisecond) // let the client's writes queue up
		h := sha256.New()
		n, _ := io.Copy(h, req.Body)
		sum := fmt.Sprintf("%d %x", n, h.Sum(nil))
		io.WriteString(c, advOK(sum))
	})
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < pieces; i++ {
				pw.Write(bytes.Repeat([]byte{byte(i), byte(i >> 8)}, piece/2))
				pw.Write(nil) // an empty write: the reader gets (0, nil)
			}
			pw.Close()
		}()
		b := postBody(t, tr, srv.URL+"/", pr, piece*pieces)
		if exp := fmt.Sprintf("%d %s", piece*pieces, wantSum); string(b) != exp {
			t.Errorf("server received a different body:\n got  %s\n want %s", b, exp)
		}
	})
}

// The same with a chunked body of pieces of two sizes: the chunk-size lines are overwritten along
// with the data, so the server sees a different framing.
func TestClientStreamedChunkedBodySurvivesEmptyReads(t *testing.T) {
	piece := func(i int) []byte {
		n := 32 << 10
		if i%2 == 1 {
			n = 1000
		}
		return bytes.Repeat([]byte{byte('a' + i%26)}, n)
	}
	const pieces = 600
	var total int
	want := sha256.New()
	for i := 0; i < pieces; i++ {
		total += len(piece(i))
		want.Write(piece(i))
	}
	exp := fmt.Sprintf("%d %x <nil>", total, want.Sum(nil))
	srv := advServe(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
		h := sha256.New()
		n, err := io.Copy(h, req.Body)
		io.WriteString(c, advOK(fmt.Sprintf("%d %x %v", n, h.Sum(nil), err)))
	})
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < pieces; i++ {
				pw.Write(piece(i))
				pw.Write(nil)
			}
			pw.Close()
		}()
		b := postBody(t, tr, srv.URL+"/", pr, -1)
		if string(b) != exp {
			t.Errorf("server received:\n got  %s\n want %s", b, exp)
		}
	})
}

// postBody POSTs body, of length n (-1: unknown, sent chunked), to url and returns the answer's body.
func postBody(t *testing.T, tr *http1.Transport, url string, body io.ReadCloser, n int64) []byte {
	t.Helper()
	req := advReq(t, "POST", url, nil)
	req.Body, req.ContentLength = body, n
	resp, err := advRT(t, tr, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := advReadAll(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

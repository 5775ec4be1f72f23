package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// parsed is what the parser made of a stream: the responses it ended, in order, and how the stream
// ended.
type parsed struct {
	statuses []int
	closes   []bool
	ends     []int // where each response ended: the offset in the stream of the byte after it
	err      error // the first error, after which parsing stops
	atEOF    bool  // the end of the stream ended a response (a body delimited by the connection's end)
}

// parseStream feeds the parser the stream in pieces cut at the given offsets, as a connection presents
// its input: whatever the parser leaves unconsumed is given again, followed by the next piece.
func parseStream(stream []byte, cuts []int, noBody bool) parsed {
	var (
		p   = responseParser{noBody: noBody}
		out parsed
		buf []byte
		off int // bytes of the stream consumed
	)
	prev := 0
	for _, cut := range append(cuts, len(stream)) {
		buf = append(buf, stream[prev:cut]...)
		prev = cut
		for len(buf) > 0 {
			n, done, err := p.Parse(buf)
			if n < 0 || n > len(buf) {
				panic(fmt.Sprintf("Parse consumed %d of %d bytes", n, len(buf)))
			}
			buf = buf[n:]
			off += n
			if err != nil {
				out.err = err
				return out
			}
			if !done {
				break
			}
			out.statuses = append(out.statuses, p.Status())
			out.closes = append(out.closes, p.Close())
			out.ends = append(out.ends, off)
			if p.Close() {
				return out // the server closes the connection: anything after is not read
			}
		}
	}
	done, err := p.EOF()
	if err != nil {
		out.err = err
	}
	if done {
		out.atEOF = true
		out.statuses = append(out.statuses, p.Status())
		out.closes = append(out.closes, p.Close())
		out.ends = append(out.ends, len(stream))
	}
	return out
}

var parseTests = []struct {
	name     string
	in       string
	noBody   bool // a response to HEAD
	statuses []int
	closes   []bool
	err      error
	atEOF    bool
}{
	{name: "content length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		statuses: []int{200}, closes: []bool{false}},
	{name: "empty body", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		statuses: []int{200}, closes: []bool{false}},
	{name: "pipelined", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nnopHTTP/1.1 204 No Content\r\n\r\n",
		statuses: []int{200, 404, 204}, closes: []bool{false, false, false}},
	{name: "no reason phrase", in: "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx",
		statuses: []int{200}, closes: []bool{false}},
	{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
		statuses: []int{200}, closes: []bool{false}},
	{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
		statuses: []int{200}, closes: []bool{false}},
	{name: "chunked with trailers", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
		statuses: []int{200, 201}, closes: []bool{false, false}},
	{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		statuses: []int{200}, closes: []bool{false}},
	{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
		statuses: []int{200}, closes: []bool{true}},
	{name: "connection token list", in: "HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n",
		statuses: []int{200}, closes: []bool{true}},
	{name: "http/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		statuses: []int{200}, closes: []bool{true}},
	{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		statuses: []int{200}, closes: []bool{false}},
	{name: "body until EOF", in: "HTTP/1.1 200 OK\r\n\r\nall of this until the end",
		statuses: []int{200}, closes: []bool{true}, atEOF: true},
	{name: "other transfer coding until EOF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcdef",
		statuses: []int{200}, closes: []bool{true}, atEOF: true},
	{name: "interim responses skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		statuses: []int{200}, closes: []bool{false}},
	{name: "HEAD has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", noBody: true,
		statuses: []int{200, 200}, closes: []bool{false, false}},
	{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		statuses: []int{304}, closes: []bool{false}},
	{name: "obs-fold ignored", in: "HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n",
		statuses: []int{200}, closes: []bool{false}},
	{name: "folded content length", in: "HTTP/1.1 200 OK\r\nContent-Length:\r\n 5\r\n\r\nhello",
		statuses: []int{200}, closes: []bool{false}},
	{name: "folded connection close", in: "HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n close\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
		statuses: []int{200}, closes: []bool{true}},
	{name: "folded transfer encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n\t chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		statuses: []int{200}, closes: []bool{false}},
	{name: "folded with bare LF", in: "HTTP/1.1 200 OK\nContent-Length:\n  1\n \n\nx",
		statuses: []int{200}, closes: []bool{false}},
	{name: "whitespace line after status skipped", in: "HTTP/1.1 200 OK\r\n Content-Length: 9\r\nContent-Length: 1\r\n\r\nx",
		statuses: []int{200}, closes: []bool{false}},
	{name: "repeated equal lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		statuses: []int{200}, closes: []bool{false}},
	{name: "empty stream", in: ""},

	{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n", err: errStatusLine},
	{name: "HTTP/2 status line", in: "HTTP/2.0 200 OK\r\n\r\n", err: errStatusLine},
	{name: "short status", in: "HTTP/1.1 20 OK\r\n\r\n", err: errStatusLine},
	{name: "status not a number", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: errStatusLine},
	{name: "status below 100", in: "HTTP/1.1 099 Low\r\n\r\n", err: errStatusLine},
	{name: "header without colon", in: "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n", err: errHeaderLine},
	{name: "space before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", err: errHeaderLine},
	{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", err: errContentLength},
	{name: "negative length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: errContentLength},
	{name: "folded length of two numbers", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 2\r\n\r\nxy", err: errContentLength},
	{name: "folded line without colon", in: "HTTP/1.1 200 OK\r\nContent-Length\r\n : 5\r\n\r\nhello", err: errHeaderLine},
	{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", err: errContentLength},
	{name: "huge length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", err: errContentLength},
	{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: errChunkSize},
	{name: "chunk size overflow", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", err: errChunkSize},
	{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n", err: errChunkEnd},
	{name: "chunked in HTTP/1.0", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nrest until the end", err: errTEHTTP10},
	{name: "other coding in HTTP/1.0", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", err: errTEHTTP10},
	{name: "switching protocols", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", err: errSwitching},
	{name: "line too long", in: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", maxLineBytes) + "\r\n\r\n", err: errLineTooLong},
	{name: "head too long", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: "+strings.Repeat("a", 1000)+"\r\n", 1100), err: errHeadTooLong},
	{name: "truncated head", in: "HTTP/1.1 200 OK\r\nContent-Len", err: errTruncated},
	{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: errTruncated},
	{name: "truncated chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", err: errTruncated},
}

func TestParseResponse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseStream([]byte(tt.in), nil, tt.noBody)
			if !errors.Is(got.err, tt.err) {
				t.Fatalf("error %v, want %v", got.err, tt.err)
			}
			if fmt.Sprint(got.statuses) != fmt.Sprint(tt.statuses) || fmt.Sprint(got.closes) != fmt.Sprint(tt.closes) || got.atEOF != tt.atEOF {
				t.Errorf("statuses %v, closes %v, ended by EOF %v; want %v, %v, %v", got.statuses, got.closes, got.atEOF, tt.statuses, tt.closes, tt.atEOF)
			}
		})
	}
}

// TestParseResponseSplitAtEveryByte checks that where the input is cut does not matter: once into two
// pieces at every offset, and once a byte at a time.
func TestParseResponseSplitAtEveryByte(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			whole := parseStream(in, nil, tt.noBody)
			for cut := 1; cut < len(in) && len(in) <= 1<<12; cut++ { // quadratic: the short inputs only
				if got := parseStream(in, []int{cut}, tt.noBody); !sameParse(got, whole) {
					t.Fatalf("cut at %d: %+v, whole: %+v", cut, got, whole)
				}
			}
			bytewise := make([]int, 0, len(in))
			for i := 1; i < len(in); i++ {
				bytewise = append(bytewise, i)
			}
			if got := parseStream(in, bytewise, tt.noBody); !sameParse(got, whole) {
				t.Fatalf("a byte at a time: %+v, whole: %+v", got, whole)
			}
		})
	}
}

// sameParse reports whether two parses of one stream agree.
func sameParse(a, b parsed) bool {
	return fmt.Sprint(a.statuses, a.closes, a.ends, a.atEOF) == fmt.Sprint(b.statuses, b.closes, b.ends, b.atEOF) && errors.Is(a.err, b.err)
}

func TestParseResponseAllocatesNothing(t *testing.T) {
	in := []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nDate: Sun, 29 Nov 2026 06:00:00 GMT\r\n\r\nHello, World!" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\nConnection: keep-alive,\r\n\tupgrade\r\n\r\nok")
	var p responseParser
	allocs := testing.AllocsPerRun(100, func() {
		b := in
		for len(b) > 0 {
			n, done, err := p.Parse(b)
			if err != nil || !done {
				t.Fatalf("Parse: done %v, error %v", done, err)
			}
			b = b[n:]
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// FuzzParseResponse checks that the parser never panics or consumes what it was not given, that where
// the input is cut does not change what it makes of it, and that a response it reads whole agrees with
// net/http's reading of it on the status.
func FuzzParseResponse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.in), uint16(len(tt.in)/2), uint8(1), tt.noBody)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, step uint8, noBody bool) {
		whole := parseStream(in, nil, noBody)
		var cuts []int
		if int(cut) < len(in) {
			cuts = append(cuts, int(cut))
		}
		if got := parseStream(in, cuts, noBody); !sameParse(got, whole) {
			t.Fatalf("cut at %d: %+v, whole: %+v", cut, got, whole)
		}
		cuts = cuts[:0]
		for i := int(step) + 1; i < len(in); i += int(step) + 1 {
			cuts = append(cuts, i)
		}
		if got := parseStream(in, cuts, noBody); !sameParse(got, whole) {
			t.Fatalf("cut every %d bytes: %+v, whole: %+v", step+1, got, whole)
		}
		// The first response, when this parser reads it whole from the head on, has the status net/http
		// reads (net/http is more lenient in places, so only an answer of ours is checked against it).
		if len(whole.statuses) > 0 && !whole.atEOF {
			method := "GET"
			if noBody {
				method = "HEAD"
			}
			rd := bytes.NewReader(in)
			br := bufio.NewReader(rd)
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err == nil {
				_, berr := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				closeLikeNetHTTP(t, in, whole.statuses[0], whole.closes[0], resp, berr)
				endLikeNetHTTP(t, in, whole.statuses[0], whole.ends[0], resp, berr, len(in)-rd.Len()-br.Buffered())
				if resp.StatusCode != whole.statuses[0] && resp.StatusCode >= 200 {
					t.Fatalf("status %d, net/http reads %d", whole.statuses[0], resp.StatusCode)
				}
			}
		}
	})
}

// RFC 9112 §5.2: a user agent that receives an obs-fold in a response replaces it with SP before
// interpreting the field value. The parser reads a folded Content-Length, Connection or Transfer-Encoding
// as net/http does.
func TestParseObsFoldOfFramingFields(t *testing.T) {
	tests := []struct {
		name, in   string
		wantStatus int
		wantClose  bool
		wantAtEOF  bool
	}{
		{"folded Content-Length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n 5\r\n\r\nhello", 200, false, false},
		{"folded Connection close", "HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n close\r\nContent-Length: 2\r\n\r\nok", 200, true, false},
		{"folded Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The reference: net/http reads the response whole, with the folded value.
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(tt.in)), &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("net/http: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != tt.wantStatus || resp.Close != tt.wantClose {
				t.Fatalf("net/http: status %d, close %v, body %q, %v", resp.StatusCode, resp.Close, body, err)
			}
			got := parseStream([]byte(tt.in), nil, false)
			if got.err != nil || len(got.statuses) != 1 || got.statuses[0] != tt.wantStatus || got.closes[0] != tt.wantClose || got.atEOF != tt.wantAtEOF {
				t.Errorf("parser: statuses %v, closes %v, ended by EOF %v, error %v; net/http: status %d, close %v, body %q",
					got.statuses, got.closes, got.atEOF, got.err, resp.StatusCode, resp.Close, body)
			}
		})
	}
}

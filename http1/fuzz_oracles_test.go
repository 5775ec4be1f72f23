package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var bwsBeforeExt = regexp.MustCompile(`[ \t];`)

// longChunkSize finds a chunk-size line of more than 16 hex digits, which only leading zeros keep
// within int64: RFC 9112 §7.1 allows them, http1/doc.go says eddy takes them, and net/http refuses
// more than 16 digits ("http chunk length too large").
var longChunkSize = regexp.MustCompile(`(?:^|\n)[0-9a-fA-F]{17}`)

// chunkedLikeNetHTTP checks a chunked body that the decoder reads whole against net/http's server,
// which reads the same body after a request head with Transfer-Encoding: chunked: net/http must
// read it too (it is the more lenient of the two: bare LF, whitespace after the size), with the same
// payload, and end it at the same byte. It is FuzzChunked's oracle on arbitrary framing, where the
// round trip covers only the framing chunk writes.
func chunkedLikeNetHTTP(t *testing.T, in []byte) {
	var d ChunkedDecoder
	d.MaxBodyBytes, d.MaxTrailerBytes = 1<<20, 200
	var body []byte
	used := 0
	for {
		data, n, done, err := d.Decode(in[used:])
		if err != nil {
			return
		}
		body = append(body, data...)
		used += n
		if done {
			break
		}
		if n == 0 {
			return // incomplete
		}
	}
	head := "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	rd := bytes.NewReader(append([]byte(head), in...))
	br := bufio.NewReader(rd)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("chunked body %q: net/http refuses its head: %v", in, err)
	}
	got, err := io.ReadAll(req.Body)
	if err != nil && strings.Contains(err.Error(), "invalid byte in chunk length") && bwsBeforeExt.Match(in) {
		return // BWS before a chunk extension (RFC 9112 §7.1.1), which net/http refuses
	}
	if err != nil && strings.Contains(err.Error(), "chunk length too large") && longChunkSize.Match(in) {
		return // more than 16 digits, leading zeros (RFC 9112 §7.1), which net/http refuses
	}
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("chunked body %q: the decoder reads %q in %d bytes; net/http %q, %v", in, body, used, got, err)
	}
	if rest := rd.Len() + br.Buffered(); len(in)-rest != used {
		t.Fatalf("chunked body %q: the decoder used %d bytes, net/http %d", in, used, len(in)-rest)
	}
}

// requestLikeNetHTTP checks the first request head of in that the parser takes (with serveFuzzed's
// limits) against net/http's server, which reads the same bytes: net/http must take it too, end it
// at the same byte, and agree on the method, the target, the version, the Host and the framing of
// the body. It is FuzzParseRequest's oracle, where the other checks are the parser's agreement with
// itself however the bytes arrive.
func requestLikeNetHTTP(t *testing.T, in []byte) {
	p := &Parser{MaxRequestLineBytes: 200, MaxHeaderBytes: 1000, MaxHeaders: 12}
	h, n, err := p.Parse(in)
	if err != nil || h == nil {
		return
	}
	// RFC 9112 §2.2 lets a server skip empty lines before the request line; net/http does not.
	head := bytes.TrimLeft(in[:n], "\r\n")
	rd := bytes.NewReader(head)
	br := bufio.NewReader(rd)
	req, nerr := http.ReadRequest(br)
	if nerr != nil && h.Chunked && (strings.HasPrefix(nerr.Error(), "unsupported transfer encoding") ||
		strings.HasPrefix(nerr.Error(), "too many transfer encodings")) {
		return // net/http takes only one field "chunked"; the parser any list whose last coding is chunked
	}
	if nerr != nil && strings.HasPrefix(nerr.Error(), "parse ") {
		return // the URI's grammar past its octets and form ("/%zz") is the server's to check, not the parser's
	}
	if nerr != nil {
		t.Fatalf("the parser takes %q, net/http refuses it: %v", in[:n], nerr)
	}
	if rest := rd.Len() + br.Buffered(); rest != 0 {
		t.Fatalf("head %q: net/http leaves %d bytes of it", in[:n], rest)
	}
	cl := h.ContentLength
	if h.Chunked {
		cl = -1
	}
	// For absolute-form and authority-form targets net/http's Host is the target's authority
	// (RFC 9112 §3.2.2); RequestHead.Host is the field's, as its doc says.
	host := string(h.Host)
	if h.Form == FormAbsolute || h.Form == FormAuthority {
		host = req.Host
	}
	if req.Method != string(h.Method) || req.RequestURI != string(h.Target) || req.ProtoMinor != h.ProtoMinor ||
		req.Host != host || req.ContentLength != cl || (len(req.TransferEncoding) > 0) != h.Chunked {
		t.Fatalf("head %q: the parser makes %s %q %s Host %q, length %d, chunked %t; net/http %s %q %s Host %q, length %d, %q",
			in[:n], h.Method, h.Target, h.Proto(), h.Host, h.ContentLength, h.Chunked,
			req.Method, req.RequestURI, req.Proto, req.Host, req.ContentLength, req.TransferEncoding)
	}
}

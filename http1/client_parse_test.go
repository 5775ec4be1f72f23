package http1

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// respMaxHead is the limit of the parsers of these tests, the Transport's default.
const respMaxHead = 1 << 20

func newRespParser() *respParser { return &respParser{maxHead: respMaxHead} }

// respWant is what a valid head must give: its length, the framing of its body and the
// *http.Response that build makes of it.
type respWant struct {
	n         int // length of the head; 0 for the whole input
	frame     framing
	mustClose bool
	status    string
	code      int
	minor     int
	header    http.Header
	cl        int64
	te        []string
	close     bool
	trailer   http.Header
}

// ok200 is the response "HTTP/1.1 200 OK" with Content-Length: 0, to be adjusted.
func ok200(change func(w *respWant)) respWant {
	w := respWant{frame: frameNone, status: "200 OK", code: 200, minor: 1,
		header: http.Header{"Content-Length": {"0"}}}
	if change != nil {
		change(&w)
	}
	return w
}

// validResponses are complete heads; what follows the head in an input is the start of the body.
var validResponses = []struct {
	name string
	in   string
	head bool // the response to a HEAD request
	want respWant
}{
	{"minimal", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, ok200(nil)},
	{"content-length with body following", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, ok200(func(w *respWant) {
		w.n, w.frame, w.cl, w.header = len("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), frameLength, 5, http.Header{"Content-Length": {"5"}}
	})},
	{"next response follows", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", false, ok200(func(w *respWant) {
		w.n = len("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})},
	{"no reason phrase", "HTTP/1.1 204\r\n\r\n", false, ok200(func(w *respWant) {
		w.status, w.code, w.header = "204", 204, http.Header{}
	})},
	{"empty reason phrase", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) { w.status = "200 " })},
	{"reason with spaces, HTAB and obs-text", "HTTP/1.1 404 Not\tFound caf\xc3\xa9 \r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.status, w.code = "404 Not\tFound caf\xc3\xa9 ", 404
	})},
	{"unregistered status code", "HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) { w.status, w.code = "999 Whatever", 999 })},
	{"HTTP/1.0 read to close", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close", false, ok200(func(w *respWant) {
		w.n, w.frame, w.mustClose, w.minor = len("HTTP/1.0 200 OK\r\nServer: x\r\n\r\n"), frameEOF, true, 0
		w.header, w.cl, w.close = http.Header{"Server": {"x"}}, -1, true
	})},
	{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", false, ok200(func(w *respWant) {
		w.n, w.frame, w.minor, w.cl = len("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n"), frameLength, 0, 2
		w.header = http.Header{"Connection": {"Keep-Alive"}, "Content-Length": {"2"}}
	})},
	{"HTTP/1.0 without keep-alive closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.minor, w.cl, w.close = frameLength, 0, 2, true
		w.header = http.Header{"Content-Length": {"2"}}
	})},
	{"HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) { w.minor = 2 })},
	{"HTTP/1.1 without framing reads to close", "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.mustClose, w.cl, w.header, w.close = frameEOF, true, -1, http.Header{"X": {"y"}}, true
	})},
	{"bare LF line endings", "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\nabc", false, ok200(func(w *respWant) {
		w.n, w.frame, w.cl = len("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\n"), frameLength, 3
		w.header = http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"3"}}
	})},
	{"mixed line endings", "HTTP/1.1 200 OK\nA: 1\r\nContent-Length: 0\n\r\n", false, ok200(func(w *respWant) {
		w.header = http.Header{"A": {"1"}, "Content-Length": {"0"}}
	})},
	{"bare LF without reason", "HTTP/1.1 304\n\n", false, ok200(func(w *respWant) { w.status, w.code, w.header = "304", 304, http.Header{} })},
	{"empty lines before the status line", "\r\n\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, ok200(nil)},
	{"repeated fields", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX: 0\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.header = http.Header{"Set-Cookie": {"a=1", "b=2", "c=3"}, "X": {"0"}, "Content-Length": {"0"}}
	})},
	{"names canonical, values trimmed", "HTTP/1.1 200 OK\r\nx-foo-BAR:  a  b \t\r\nEmpty:\r\nBlank: \t \r\nLocation: http://h:80/p\r\nTchar!#$%&'*+.^_`|~: v\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.header = http.Header{"X-Foo-Bar": {"a  b"}, "Empty": {""}, "Blank": {""}, "Location": {"http://h:80/p"},
			"Tchar!#$%&'*+.^_`|~": {"v"}, "Content-Length": {"0"}}
	})},
	{"obs-text and HTAB in a value", "HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\ta\xff\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.header = http.Header{"X": {"caf\xc3\xa9\ta\xff"}, "Content-Length": {"0"}}
	})},
	{"repeated identical Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length:7 \r\nContent-Length:\t7\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.cl, w.header = frameLength, 7, http.Header{"Content-Length": {"7"}}
	})},
	{"Content-Length leading zeros", "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.cl, w.header = frameLength, 7, http.Header{"Content-Length": {"007"}}
	})},
	{"largest Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.cl, w.header = frameLength, 1<<63-1, http.Header{"Content-Length": {"9223372036854775807"}}
	})},
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, ok200(func(w *respWant) {
		w.n, w.frame, w.cl, w.te, w.header = len("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), frameChunked, -1, []string{"chunked"}, http.Header{}
	})},
	{"chunked in any case, empty list elements", "HTTP/1.1 200 OK\r\nTransfer-Encoding: , CHUNKED ,\t\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.cl, w.te, w.header = frameChunked, -1, []string{"chunked"}, http.Header{}
	})},
	{"Transfer-Encoding overrides Content-Length and closes", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.mustClose, w.cl, w.te, w.header, w.close = frameChunked, true, -1, []string{"chunked"}, http.Header{}, true
	})},
	{"Connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.close, w.header = true, http.Header{"Connection": {"close"}, "Content-Length": {"0"}}
	})},
	{"Connection list, any case", "HTTP/1.1 200 OK\r\nConnection: Upgrade,, CLOSE \t\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.close, w.header = true, http.Header{"Connection": {"Upgrade,, CLOSE"}, "Content-Length": {"0"}}
	})},
	{"Connection close wins over keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.minor, w.close, w.header = 0, true, http.Header{"Connection": {"keep-alive", "close"}, "Content-Length": {"0"}}
	})},
	{"Connection token that contains close", "HTTP/1.1 200 OK\r\nConnection: closed, x-close\r\nContent-Length: 0\r\n\r\n", false, ok200(func(w *respWant) {
		w.header = http.Header{"Connection": {"closed, x-close"}, "Content-Length": {"0"}}
	})},
	{"Trailer with chunked", "HTTP/1.1 200 OK\r\nTrailer: x-checksum, Expires\r\nTransfer-Encoding: chunked\r\nTrailer: ,server-timing ,\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.cl, w.te, w.header = frameChunked, -1, []string{"chunked"}, http.Header{}
		w.trailer = http.Header{"X-Checksum": nil, "Expires": nil, "Server-Timing": nil}
	})},
	{"Trailer with chunked, no names", "HTTP/1.1 200 OK\r\nTrailer: ,\r\nTransfer-Encoding: chunked\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.cl, w.te, w.header = frameChunked, -1, []string{"chunked"}, http.Header{}
	})},
	{"Trailer without chunked stays in the header", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 1\r\n\r\nx", false, ok200(func(w *respWant) {
		w.n, w.frame, w.cl = len("HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 1\r\n\r\n"), frameLength, 1
		w.header = http.Header{"Trailer": {"X-Sum"}, "Content-Length": {"1"}}
	})},
	{"HEAD tells the length it omits", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, ok200(func(w *respWant) {
		w.cl, w.header = 100, http.Header{"Content-Length": {"100"}}
	})},
	{"bad trailer key without chunked stays in the header", "HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nContent-Length: 1\r\n\r\nx", false, ok200(func(w *respWant) {
		w.n, w.frame, w.cl = len("HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nContent-Length: 1\r\n\r\n"), frameLength, 1
		w.header = http.Header{"Trailer": {"Content-Length"}, "Content-Length": {"1"}}
	})},
	{"Trailer naming a longer key is no bad key", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length-Sum\r\n\r\n", false, ok200(func(w *respWant) {
		w.frame, w.header, w.cl, w.te = frameChunked, http.Header{}, -1, []string{"chunked"}
		w.trailer = http.Header{"Content-Length-Sum": nil}
	})},
	{"HEAD with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n", true, ok200(func(w *respWant) {
		w.header, w.cl = http.Header{"Trailer": {"X"}}, -1 // the length of the omitted body is unknown
	})},
	{"HEAD without framing", "HTTP/1.0 200 OK\r\n\r\n", true, ok200(func(w *respWant) { w.minor, w.close, w.header, w.cl = 0, true, http.Header{}, -1 })},
	{"204 with Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, ok200(func(w *respWant) {
		w.status, w.code, w.header = "204 No Content", 204, http.Header{"Content-Length": {"10"}}
	})},
	{"304 with chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nETag: \"x\"\r\n\r\n", false, ok200(func(w *respWant) {
		w.status, w.code, w.header = "304 Not Modified", 304, http.Header{"Etag": {`"x"`}}
	})},
	{"100 Continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", false, ok200(func(w *respWant) {
		w.n, w.status, w.code, w.header = len("HTTP/1.1 100 Continue\r\n\r\n"), "100 Continue", 100, http.Header{}
	})},
	{"103 Early Hints", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\n", false, ok200(func(w *respWant) {
		w.status, w.code, w.header = "103 Early Hints", 103, http.Header{"Link": {"</a.css>; rel=preload", "</b.js>; rel=preload"}}
	})},
}

// responseErrors are heads (complete or not) that parse refuses.
var responseErrors = []struct {
	name string
	in   string
	want responseError
}{
	{"status line too short", "HTTP/1.1 20\r\n\r\n", errRespStatusLine},
	{"status line too short, bare LF", "HTTP/1.1\n\n", errRespStatusLine},
	{"lower-case protocol", "http/1.1 200 OK\r\n\r\n", errRespStatusLine},
	{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", errRespVersion},
	{"HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", errRespVersion},
	{"HTTP/1.10", "HTTP/1.10 200 OK\r\n\r\n", errRespStatusLine},
	{"not HTTP", "ICY 200 OK\r\n\r\n", errRespStatusLine},
	{"whitespace before the status line", " HTTP/1.1 200 OK\r\n\r\n", errRespStatusLine},
	{"whitespace line before the status line", " \r\nHTTP/1.1 200 OK\r\n\r\n", errRespStatusLine},
	{"two spaces before the code", "HTTP/1.1  200 OK\r\n\r\n", errRespStatusLine},
	{"HTAB before the code", "HTTP/1.1\t200 OK\r\n\r\n", errRespStatusLine},
	{"code not digits", "HTTP/1.1 2x0 OK\r\n\r\n", errRespStatusLine},
	{"signed code", "HTTP/1.1 +20 OK\r\n\r\n", errRespStatusLine},
	{"code below 100", "HTTP/1.1 099 OK\r\n\r\n", errRespStatusLine},
	{"four-digit code", "HTTP/1.1 2000 OK\r\n\r\n", errRespStatusLine},
	{"HTAB after the code", "HTTP/1.1 200\tOK\r\n\r\n", errRespStatusLine},
	{"NUL in the reason", "HTTP/1.1 200 O\x00K\r\n\r\n", errRespStatusLine},
	{"DEL in the reason", "HTTP/1.1 200 OK\x7f\r\n\r\n", errRespStatusLine},
	{"CR in the reason", "HTTP/1.1 200 O\rK\r\n\r\n", errRespStatusLine},
	{"two CRs ending the status line", "HTTP/1.1 200 OK\r\r\n\r\n", errRespStatusLine},
	{"CR alone before the status line", "\r\r\nHTTP/1.1 200 OK\r\n\r\n", errRespStatusLine},
	{"minor version not a digit", "HTTP/1.x 200 OK\r\n\r\n", errRespStatusLine},
	{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", errRespField},
	{"whitespace line after the status line", "HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n", errRespField},
	{"space before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", errRespField},
	{"HTAB before the colon", "HTTP/1.1 200 OK\r\nX\t: a\r\n\r\n", errRespField},
	{"no colon", "HTTP/1.1 200 OK\r\nX-No-Colon\r\n\r\n", errRespField},
	{"empty name", "HTTP/1.1 200 OK\r\n: a\r\n\r\n", errRespField},
	{"name not a token", "HTTP/1.1 200 OK\r\nX(y): a\r\n\r\n", errRespField},
	{"non-ASCII name", "HTTP/1.1 200 OK\r\nX\xc3\xa9: a\r\n\r\n", errRespField},
	{"NUL in a value", "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", errRespField},
	{"CR in a value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", errRespField},
	{"CR ending a value", "HTTP/1.1 200 OK\r\nX: a\r\r\n\r\n", errRespField},
	{"DEL in a value", "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", errRespField},
	{"a lone CR line", "HTTP/1.1 200 OK\r\n\r\r\n\r\n", errRespField},
	{"error before the head is complete", "HTTP/1.1 200 OK\r\nbad line\r\n", errRespField},
	{"negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", errRespContentLength},
	{"signed Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", errRespContentLength},
	{"empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", errRespContentLength},
	{"Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", errRespContentLength},
	{"Content-Length with inner space", "HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\n", errRespContentLength},
	{"hex Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", errRespContentLength},
	{"Content-Length over int64", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", errRespContentLength},
	{"bad Content-Length with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", errRespContentLength},
	{"bad Content-Length on a 204", "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n", errRespContentLength},
	{"differing Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", errRespCLDiffer},
	{"Content-Length differing by leading zero", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", errRespCLDiffer},
	{"Content-Length then garbage", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: five\r\n\r\n", errRespCLDiffer},
	{"empty Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", errRespTE},
	{"Transfer-Encoding of commas", "HTTP/1.1 200 OK\r\nTransfer-Encoding: , ,\r\n\r\n", errRespTE},
	{"coding not a token", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gz ip, chunked\r\n\r\n", errRespTE},
	{"quoted coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", errRespTE},
	{"chunked twice in a list", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", errRespTE},
	{"chunked twice in two fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: Chunked\r\n\r\n", errRespTE},
	{"Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", errRespTEHTTP10},
	{"Transfer-Encoding in HTTP/1.0 with Content-Length", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", errRespTEHTTP10},
	// Only chunked is understood (as net/http): a body in another coding would reach the caller
	// undecoded with nothing to say so.
	{"Transfer-Encoding list ending in chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=1, chunked\r\nX: y\r\n\r\n", errRespTE},
	{"Transfer-Encoding fields form one list", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nX: y\r\ntransfer-encoding: chunked\r\n\r\n", errRespTE},
	{"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", errRespTE},
	{"chunked with a parameter is another coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", errRespTE},
	{"chunked then another coding in a later field", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", errRespTE},
	{"another coding with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: gzip\r\n\r\n", errRespTE},
	{"chunked twice, not adjacent", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n", errRespTE},
	{"101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", errRespSwitching},
	// A trailer that would reframe the message it ends (net/http: "bad trailer key"). Until
	// session 21 the parser declared these keys in Response.Trailer and read the body.
	{"Trailer naming Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, content-length\r\n\r\n", errRespTrailerKey},
	{"Trailer naming Transfer-Encoding", "HTTP/1.1 200 OK\r\nTrailer: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n", errRespTrailerKey},
	{"Trailer naming Trailer, in a second field", "HTTP/1.1 200 OK\r\nTrailer: X\r\nTransfer-Encoding: chunked\r\nTrailer: , TRAILER \r\n\r\n", errRespTrailerKey},
	{"bad trailer key on a 204 with chunked", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n", errRespTrailerKey},
}

// respFeed gives p the input in pieces: the prefixes of in of the lengths in cuts (increasing, the
// last one len(in)), each in a fresh copy of its own, as a connection's input buffer may move. It
// checks that every call before the last is incomplete, and returns the first answer that is not
// "more", or the answer to the whole input, with the buffer last given.
func respFeed(t *testing.T, p *respParser, in []byte, cuts []int) (n int, buf []byte, err error) {
	t.Helper()
	for _, k := range cuts {
		buf = append([]byte(nil), in[:k]...)
		n, err = p.parse(buf)
		if n < 0 || n > k {
			t.Fatalf("parse of %d bytes returned n = %d", k, n)
		}
		if n > 0 || err != nil {
			return n, buf, err
		}
	}
	return n, buf, err
}

// everyByte returns the cuts 1, 2, ..., len.
func everyByte(length int) []int {
	cuts := make([]int, length)
	for i := range cuts {
		cuts[i] = i + 1
	}
	return cuts
}

// randomCuts returns increasing cuts of length into random pieces, the last one length.
func randomCuts(r *rand.Rand, length int) []int {
	var cuts []int
	for k := 0; k < length; {
		k += 1 + r.IntN(max(1, min(length-k, 1+r.IntN(16))))
		cuts = append(cuts, min(k, length))
	}
	if len(cuts) == 0 || cuts[len(cuts)-1] != length {
		cuts = append(cuts, length)
	}
	return cuts
}

// respSummary is what the tests compare of two responses.
type respSummary struct {
	Status           string
	StatusCode       int
	Proto            string
	ProtoMajor       int
	ProtoMinor       int
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Close            bool
	Trailer          http.Header
}

func summarize(r *http.Response) respSummary {
	return respSummary{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Header, r.ContentLength,
		r.TransferEncoding, r.Close, r.Trailer}
}

func (w respWant) summary() respSummary {
	return respSummary{w.status, w.code, fmt.Sprintf("HTTP/1.%d", w.minor), 1, w.minor, w.header, w.cl, w.te, w.close, w.trailer}
}

// respOutcome is the whole of what a valid head gives.
type respOutcome struct {
	n         int
	frame     framing
	mustClose bool
	resp      respSummary
}

// respComplete parses the valid head in at the given cuts and returns what it gives.
func respComplete(t *testing.T, p *respParser, in []byte, cuts []int, head bool) respOutcome {
	t.Helper()
	p.reset()
	n, buf, err := respFeed(t, p, in, cuts)
	if err != nil || n == 0 {
		t.Fatalf("parse = %d, %v; want a complete head", n, err)
	}
	f, mustClose := p.bodyFraming(head)
	return respOutcome{n, f, mustClose, summarize(p.build(buf, n, f))}
}

func TestRespParserValid(t *testing.T) {
	p := newRespParser() // one parser for all, reset between heads, as a connection uses it
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range validResponses {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			w := tc.want
			if w.n == 0 {
				w.n = len(in)
			}
			want := respOutcome{w.n, w.frame, w.mustClose, w.summary()}
			got := respComplete(t, p, in, []int{len(in)}, tc.head)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("whole:\n got %+v\nwant %+v", got, want)
			}
			if got := respComplete(t, p, in, everyByte(len(in)), tc.head); !reflect.DeepEqual(got, want) {
				t.Fatalf("one byte at a time:\n got %+v\nwant %+v", got, want)
			}
			for range 50 {
				cuts := randomCuts(rnd, len(in))
				if got := respComplete(t, p, in, cuts, tc.head); !reflect.DeepEqual(got, want) {
					t.Fatalf("in pieces ending at %v:\n got %+v\nwant %+v", cuts, got, want)
				}
			}
			for k := 0; k <= len(in); k++ { // split in two at every point
				if got := respComplete(t, p, in, []int{k, len(in)}, tc.head); !reflect.DeepEqual(got, want) {
					t.Fatalf("split at %d:\n got %+v\nwant %+v", k, got, want)
				}
			}
			// A fresh parser gives the same as the reused one.
			if got := respComplete(t, newRespParser(), in, []int{len(in)}, tc.head); !reflect.DeepEqual(got, want) {
				t.Fatalf("fresh parser:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestRespParserErrors(t *testing.T) {
	p := newRespParser()
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, tc := range responseErrors {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			p.reset()
			n, err := p.parse(in)
			if err != tc.want {
				t.Fatalf("parse = %d, %v; want %v", n, err, tc.want)
			}
			if !errors.Is(err, ErrMalformedResponse) {
				t.Errorf("%v does not wrap ErrMalformedResponse", err)
			}
			// The head is judged as a whole once complete, so those errors come with its length
			// (the caller looks at the error first); the others with 0.
			if n != 0 && (n > len(in) || in[n-1] != '\n') {
				t.Errorf("n = %d with the error", n)
			}
			for _, cuts := range [][]int{everyByte(len(in)), randomCuts(rnd, len(in)), randomCuts(rnd, len(in))} {
				p.reset()
				if n2, _, err2 := respFeed(t, p, in, cuts); n2 != n || err2 != err {
					t.Fatalf("in pieces ending at %v: parse = %d, %v; whole: %d, %v", cuts, n2, err2, n, err)
				}
			}
		})
	}
}

func TestRespParserErrorValues(t *testing.T) {
	all := []responseError{errRespStatusLine, errRespVersion, errRespHeadTooLarge, errRespField, errRespContentLength,
		errRespCLDiffer, errRespTE, errRespTEHTTP10, errRespSwitching, errRespUnsolicited}
	seen := map[string]bool{}
	for _, e := range all {
		if !errors.Is(error(e), ErrMalformedResponse) {
			t.Errorf("%v does not wrap ErrMalformedResponse", e)
		}
		if msg := e.Error(); !strings.HasPrefix(msg, "http1: malformed HTTP response: ") || seen[msg] {
			t.Errorf("message %q", msg)
		}
		seen[e.Error()] = true
	}
}

func TestRespParserIncompleteNeedsMore(t *testing.T) {
	for _, in := range []string{"", "\r", "\r\n", "\n\n\n", "H", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r", "HTTP/1.1 200 OK\r\n",
		"HTTP/1.1 200 OK\r\nX: y", "HTTP/1.1 200 OK\r\nX: y\r\n", "HTTP/1.1 200 OK\r\nX: y\r\n\r",
		"HTTP/1.1 200 OK\r\nBad Field Without End"} {
		p := newRespParser()
		if n, err := p.parse([]byte(in)); n != 0 || err != nil {
			t.Errorf("parse(%q) = %d, %v; want 0, nil", in, n, err)
		}
	}
}

func TestRespParserResetBetweenHeads(t *testing.T) {
	// A 1xx head, then the final one, on one connection: parse, consume, reset.
	in := []byte("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n0\r\n\r\n")
	p := newRespParser()
	n1, err := p.parse(in)
	if err != nil || n1 != len("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n") || p.status != 103 {
		t.Fatalf("first head: %d, %v, status %d", n1, err, p.status)
	}
	p.reset()
	rest := in[n1:]
	n2, err := p.parse(rest)
	if err != nil || n2 != len("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n") {
		t.Fatalf("second head: %d, %v", n2, err)
	}
	f, mustClose := p.bodyFraming(false)
	r := p.build(rest, n2, f)
	if f != frameChunked || mustClose || r.StatusCode != 200 || !reflect.DeepEqual(r.Header, http.Header{"X": {"1"}}) {
		t.Fatalf("second head: %v %v %+v", f, mustClose, r)
	}
	// After an error and a reset, the parser starts afresh.
	p.reset()
	if _, err := p.parse([]byte("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")); err != errRespTEHTTP10 {
		t.Fatalf("err = %v", err)
	}
	p.reset()
	if n, err := p.parse([]byte("HTTP/1.1 204\r\n\r\n")); n != 16 || err != nil {
		t.Fatalf("after an error and reset: %d, %v", n, err)
	}
	if f, _ := p.bodyFraming(false); f != frameNone || p.te {
		t.Fatalf("state leaked across reset: %v te=%v", f, p.te)
	}
	if p.maxHead != respMaxHead {
		t.Fatalf("reset lost maxHead: %d", p.maxHead)
	}
}

func TestRespParserShorterBufferPanics(t *testing.T) {
	p := newRespParser()
	if n, err := p.parse([]byte("HTTP/1.1 200 OK\r\n")); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("parse of fewer bytes than before did not panic")
		}
	}()
	p.parse([]byte("HTTP/1.1"))
}

func TestRespParserBuildOwnsItsStrings(t *testing.T) {
	in := []byte("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nA: 3\r\nTrailer: T\r\nTransfer-Encoding: chunked\r\n\r\n")
	p := newRespParser()
	n, err := p.parse(in)
	if err != nil || n != len(in) {
		t.Fatal(n, err)
	}
	f, _ := p.bodyFraming(false)
	r := p.build(in, n, f)
	want := summarize(r)
	want.Header, want.Trailer = r.Header.Clone(), r.Trailer.Clone()
	for i := range in { // the connection's buffer is reused for what follows
		in[i] = 'X'
	}
	if got := summarize(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("the response changed with the buffer:\n got %+v\nwant %+v", got, want)
	}
	// Appending to one value slice must not overwrite the next value.
	p.reset()
	in = []byte("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
	n, err = p.parse(in)
	if err != nil || n != len(in) {
		t.Fatal(n, err)
	}
	f, _ = p.bodyFraming(false)
	r = p.build(in, n, f)
	r.Header["A"] = append(r.Header["A"], "x")
	r.Header["B"] = append(r.Header["B"], "y")
	want2 := http.Header{"A": {"1", "x"}, "B": {"2", "y"}, "C": {"3"}}
	if !reflect.DeepEqual(r.Header, want2) {
		t.Fatalf("after appends: %q", r.Header)
	}
}

func TestRespParserHeadLimit(t *testing.T) {
	heads := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nX: y\n\n",
		"\r\n\r\nHTTP/1.1 204\r\n\r\n", // empty lines before the status line count
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Long: "+strings.Repeat("v", 200)+"\r\n", 20) + "\r\n",
	}
	for _, head := range heads {
		L := len(head)
		for _, body := range []string{"", "HTTP/1.1 200 OK\r\n\r\n", "\r\n\r\n"} {
			in := []byte(head + body)
			// Exactly at the limit: complete.
			for _, cuts := range [][]int{{len(in)}, everyByte(len(in)), {L - 1, len(in)}, {L, len(in)}} {
				p := &respParser{maxHead: L}
				if n, _, err := respFeed(t, p, in, cuts); n != L || err != nil {
					t.Fatalf("%q with maxHead %d, pieces %v: parse = %d, %v", in, L, cuts, n, err)
				}
				if p.scan > L {
					t.Fatalf("scan %d beyond maxHead %d", p.scan, L)
				}
			}
			// One past it: too large, as soon as maxHead bytes are there and not before.
			p := &respParser{maxHead: L - 1}
			for k := 0; k < L-1; k++ {
				if n, err := p.parse(in[:k]); n != 0 || err != nil {
					t.Fatalf("%q with maxHead %d: %d bytes give %d, %v", in, L-1, k, n, err)
				}
			}
			if n, err := p.parse(in[:L-1]); n != 0 || err != errRespHeadTooLarge {
				t.Fatalf("%q with maxHead %d: parse = %d, %v; want %v", in, L-1, n, err, errRespHeadTooLarge)
			}
			if p.scan > L-1 {
				t.Fatalf("scan %d beyond maxHead %d", p.scan, L-1)
			}
			for _, buf := range [][]byte{in, []byte(head)} {
				p := &respParser{maxHead: L - 1}
				if n, err := p.parse(buf); n != 0 || err != errRespHeadTooLarge {
					t.Fatalf("%q with maxHead %d: parse = %d, %v; want %v", buf, L-1, n, err, errRespHeadTooLarge)
				}
			}
		}
	}
}

func TestRespParserNeverReadsPastLimit(t *testing.T) {
	// Whatever lies beyond maxHead, parse answers the same: what it sees is buf[:maxHead].
	head := "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n"
	tails := []string{"", "\n", "\r\n\r\n", "\nBad Line\n", "\x00\x00", strings.Repeat("\n", 100)}
	for L := 1; L <= len(head); L++ {
		p := &respParser{maxHead: L}
		n0, err0 := p.parse([]byte(head[:L]))
		for _, tail := range tails {
			in := []byte(head[:L] + tail)
			p := &respParser{maxHead: L}
			if n, err := p.parse(in); n != n0 || err != err0 {
				t.Fatalf("maxHead %d: %q gives %d, %v; %q gave %d, %v", L, in, n, err, head[:L], n0, err0)
			}
			if p.scan > L {
				t.Fatalf("maxHead %d: scan %d", L, p.scan)
			}
		}
		if want := L == len(head); (n0 == L && err0 == nil) != want || !want && err0 != errRespHeadTooLarge {
			t.Fatalf("maxHead %d: %d, %v", L, n0, err0)
		}
	}
	// A bad line that crosses the limit is a head too large, not a bad line.
	p := &respParser{maxHead: 25}
	if n, err := p.parse([]byte("HTTP/1.1 200 OK\r\nBad Line Here\r\n\r\n")); n != 0 || err != errRespHeadTooLarge {
		t.Fatalf("parse = %d, %v", n, err)
	}
	// The CR of the last line fits, its LF does not.
	in := "HTTP/1.1 200 OK\r\n\r\n"
	p = &respParser{maxHead: len(in) - 1}
	if n, err := p.parse([]byte(in)); n != 0 || err != errRespHeadTooLarge {
		t.Fatalf("parse = %d, %v", n, err)
	}
}

func TestRespParserDefaultLimit(t *testing.T) {
	// A head of exactly the Transport's default limit, and one a byte longer.
	prefix, suffix := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Big: ", "\r\n\r\n"
	exact := prefix + strings.Repeat("a", DefaultMaxResponseHeaderBytes-len(prefix)-len(suffix)) + suffix
	if len(exact) != DefaultMaxResponseHeaderBytes {
		t.Fatal(len(exact))
	}
	p := &respParser{maxHead: DefaultMaxResponseHeaderBytes}
	rnd := rand.New(rand.NewPCG(5, 6))
	var coarse []int // 64 random pieces: a copy of the prefix per piece
	for range 63 {
		coarse = append(coarse, rnd.IntN(len(exact)))
	}
	slices.Sort(coarse)
	coarse = append(coarse, len(exact))
	for _, cuts := range [][]int{{len(exact)}, {len(exact) - 1, len(exact)}, coarse} {
		p.reset()
		if n, _, err := respFeed(t, p, []byte(exact), cuts); n != len(exact) || err != nil {
			t.Fatalf("head of %d bytes: %d, %v", len(exact), n, err)
		}
	}
	over := []byte(exact[:len(prefix)] + "a" + exact[len(prefix):])
	p.reset()
	if n, err := p.parse(over); n != 0 || err != errRespHeadTooLarge {
		t.Fatalf("head of %d bytes: %d, %v", len(over), n, err)
	}
	// Many small fields up to the limit.
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for b.Len() < DefaultMaxResponseHeaderBytes-100 {
		b.WriteString("a:b\r\n")
	}
	b.WriteString("\r\n")
	p.reset()
	n, err := p.parse(b.Bytes())
	if n != b.Len() || err != nil {
		t.Fatalf("many fields: %d, %v", n, err)
	}
	f, _ := p.bodyFraming(false)
	if r := p.build(b.Bytes(), n, f); len(r.Header["A"]) != (b.Len()-len("HTTP/1.1 200 OK\r\n\r\n"))/5 {
		t.Fatalf("%d values", len(r.Header["A"]))
	}
}

// TestRespParserCloseWhenTheFramingEndsTheConnection checks that Response.Close says, as net/http's
// does, that the connection closes after a body delimited by the connection's end, and after a
// response with both Transfer-Encoding and Content-Length.
func TestRespParserCloseWhenTheFramingEndsTheConnection(t *testing.T) {
	for _, in := range []string{
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		p := newRespParser()
		n, err := p.parse([]byte(in))
		if err != nil || n == 0 {
			t.Fatalf("%q: parse = %d, %v", in, n, err)
		}
		f, mustClose := p.bodyFraming(false)
		if r := p.build([]byte(in), n, f); !mustClose || !r.Close {
			t.Errorf("%q: mustClose %v, Response.Close %v; want both true", in, mustClose, r.Close)
		}
	}
}

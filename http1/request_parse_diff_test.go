package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A differential test of request parsing: the same raw bytes go to net/http's server and to an
// http1.Server (on every engine) with the same handler, which answers with what it saw of the
// request. Compared per case: the status of every response (1xx included), the handler's report
// for a 200, and what a probe request sent afterwards on the same connection gets (an answer: the
// connection stayed open; nothing: it was closed). Where http1 differs from net/http on purpose
// (doc.go's "Choices where RFC 9112 leaves room" and "Differences from net/http", or net/http's
// own leniency), the case says what http1 gives and why; every other case must match net/http.

// parseReport answers with what the handler saw of the request.
var parseReport = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var b strings.Builder
	u := r.URL
	fmt.Fprintf(&b, "method=%q uri=%q\n", r.Method, r.RequestURI)
	fmt.Fprintf(&b, "url scheme=%q opaque=%q host=%q path=%q rawpath=%q query=%q force=%v\n",
		u.Scheme, u.Opaque, u.Host, u.Path, u.RawPath, u.RawQuery, u.ForceQuery)
	fmt.Fprintf(&b, "proto=%q %d.%d host=%q cl=%d te=%q close=%v\n",
		r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.ContentLength, r.TransferEncoding, r.Close)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "header %q: %q\n", k, r.Header[k])
	}
	fmt.Fprintf(&b, "body=%q failed=%v\n", body, err != nil)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Trailer {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "trailer %q: %q\n", k, r.Trailer[k])
	}
	io.WriteString(w, b.String())
})

// pdCase is a raw byte stream of n requests (1 when zero). When eddy is set, http1's outcome
// (see pdOutcome.summary) is expected to be it rather than net/http's, for the reason in why.
type pdCase struct {
	name string
	raw  string
	n    int
	eddy string
	why  string
	head bool // the requests are HEAD: their responses have no body
}

const pdProbe = "GET /probe HTTP/1.1\r\nHost: x\r\n\r\n"

func pdGET(fields string) string { return "GET /r?q=1 HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n" }

func pdPOST(fields, body string) string {
	return "POST /r HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n" + body
}

func pdChunked(body string) string { return pdPOST("Transfer-Encoding: chunked\r\n", body) }

var pdBigLine = "GET /" + strings.Repeat("a", 10<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n"
var pdHugeLine = "GET /" + strings.Repeat("a", 1<<20+8<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n"
var pdHugeHead = pdGET(strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 1060))
var pdHugeValue = pdGET("X-Big: " + strings.Repeat("v", 1<<20+8<<10) + "\r\n")

const (
	whyObsFold   = "doc.go: obs-fold is refused with 400 (RFC 9112 §5.2 allows either); net/http folds it"
	whyTECL      = "doc.go: Transfer-Encoding with Content-Length is refused with 400; net/http drops Content-Length"
	whyTENotLast = "doc.go: a last coding other than chunked is 400 (RFC 9112 §6.3); net/http answers 501"
	whyTEList    = "doc.go: Transfer-Encoding fields form one list, empty elements ignored; net/http takes one field saying chunked only"
	whyTE10      = "doc.go: Transfer-Encoding in HTTP/1.0 is refused with 400; net/http ignores it and reads the chunks as the next request"
	whyChunkLF   = "doc.go: a bare LF in chunked framing is refused (body read fails, connection closed); net/http takes it"
	whyLine      = "doc.go: a request line over DefaultMaxRequestLineBytes (8 KiB) gets 414"
	whyEmpty     = "doc.go: empty lines before the request line are skipped (RFC 9112 §2.2); net/http skips them only after a POST"
	whyAsterisk  = "doc.go: \"*\" is taken with OPTIONS only (RFC 9112 §3.2.4); net/http serves GET *"
	whyConnect   = "doc.go: CONNECT without Host is 400 (RFC 9112 §3.2); net/http serves it"
	whyConnPort  = "doc.go: http1 takes CONNECT with host:port only (RFC 9110 §9.3.6: there is no default port); net/http serves \"CONNECT a.example\""
	whyAuthForm  = "doc.go: http1 takes the authority-form with CONNECT only (RFC 9112 §3.2.3); net/http takes \"a.example:80\" as scheme \"a.example\", opaque \"80\""
	whyTrailerWS = "doc.go: http1 checks trailer fields as header fields (space before colon refused, body read fails); net/http keeps a trailer key \"X \""
	whyCloseWins = "doc.go: a close beside keep-alive closes the connection (RFC 9112 §9.6 MUST); net/http keeps it"
	whyURN       = "doc.go: http1 takes an absolute-form target with an authority (scheme://) only, an HTTP target; net/http serves \"urn:isbn:1\""
	whyConnForm  = "doc.go: http1 takes CONNECT with the authority-form only (RFC 9112 §3.2.3); net/http takes an origin-form path too (for net/rpc)"
)

var pdCases = []pdCase{
	// Baselines.
	{name: "simple GET", raw: pdGET("")},
	{name: "POST with length", raw: pdPOST("Content-Length: 5\r\n", "hello")},
	{name: "POST chunked", raw: pdChunked("5\r\nhello\r\n0\r\n\r\n")},
	{name: "lowercase method", raw: "get /r HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "unusual method token", raw: "M-SEARCH!~ /r HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "canonical keys", raw: pdGET("x-lower: a\r\nX-UPPER: b\r\nx_under: c\r\ncontent-type: t\r\nAccept: 1\r\naccept: 2\r\n")},
	{name: "Pragma no-cache", raw: pdGET("Pragma: no-cache\r\n")},
	{name: "many small fields", raw: pdGET(strings.Repeat("A: b\r\n", 300))},

	// Line endings and whitespace.
	{name: "obs-fold", raw: pdGET("X-Fold: a\r\n b\r\n"), eddy: "400 closed", why: whyObsFold},
	{name: "obs-fold with tab", raw: pdGET("X-Fold: a\r\n\tb\r\n"), eddy: "400 closed", why: whyObsFold},
	{name: "obs-fold of Content-Length", raw: pdPOST("Content-Length: 5\r\n Transfer-Encoding: chunked\r\n", "hello")},
	{name: "whitespace before first field", raw: "GET /r HTTP/1.1\r\n Host: x\r\n\r\n"},
	{name: "space before colon", raw: pdGET("X-Sp : v\r\n")},
	{name: "tab before colon", raw: pdGET("X-Tab\t: v\r\n")},
	{name: "space before colon of Transfer-Encoding", raw: pdPOST("Transfer-Encoding : chunked\r\nContent-Length: 3\r\n", "abc")},
	{name: "bare LF everywhere", raw: "GET /r HTTP/1.1\nHost: x\nX: y\n\n"},
	{name: "bare LF after one field", raw: "GET /r HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"},
	{name: "bare LF ending the head", raw: "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\nhi"},
	{name: "bare CR in a value", raw: pdGET("X: a\rb\r\n")},
	{name: "bare CR ending a field line", raw: pdGET("X: a\rContent-Length: 5\r\n")},
	{name: "CR CR LF", raw: pdGET("X: a\r\r\n")},
	{name: "bare CR ending the request line", raw: "GET /r HTTP/1.1\rHost: x\r\n\r\n"},
	{name: "bare CR in the target", raw: "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "empty lines before the request line", raw: "\r\n\r\nGET /r HTTP/1.1\r\nHost: x\r\n\r\n", eddy: "200 open", why: whyEmpty},
	{name: "empty line between pipelined GETs", raw: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2, eddy: "200 200 open", why: whyEmpty},
	{name: "empty line after a POST", raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "whitespace-only line in the head", raw: "GET /r HTTP/1.1\r\nHost: x\r\n \r\n\r\n"},
	{name: "trailing whitespace in values", raw: pdGET("X: \t v \t\r\n")},

	// Control octets.
	{name: "NUL in a value", raw: pdGET("X: a\x00b\r\n")},
	{name: "SOH in a value", raw: pdGET("X: a\x01b\r\n")},
	{name: "DEL in a value", raw: pdGET("X: a\x7fb\r\n")},
	{name: "HTAB in a value", raw: pdGET("X: a\tb\r\n")},
	{name: "obs-text in a value", raw: pdGET("X: caf\xc3\xa9 \xff\r\n")},
	{name: "NUL in a name", raw: pdGET("X\x00Y: v\r\n")},
	{name: "empty name", raw: pdGET(": v\r\n")},
	{name: "non-token name", raw: pdGET("X@Y: v\r\n")},
	{name: "line without colon", raw: pdGET("NoColon\r\n")},
	{name: "NUL in the target", raw: "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "SOH in the target", raw: "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "HTAB in the target", raw: "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "DEL in the target", raw: "GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "NUL in the method", raw: "G\x00T /r HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "non-token method", raw: "G(T /r HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "two spaces after the method", raw: "GET  /r HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "space in the target", raw: "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "trailing space after the version", raw: "GET /r HTTP/1.1 \r\nHost: x\r\n\r\n"},

	// Content-Length.
	{name: "duplicate equal Content-Length", raw: pdPOST("Content-Length: 3\r\nContent-Length: 3\r\n", "abc")},
	{name: "duplicate differing Content-Length", raw: pdPOST("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd")},
	{name: "duplicate Content-Length 3 and 03", raw: pdPOST("Content-Length: 3\r\nContent-Length: 03\r\n", "abc")},
	{name: "Content-Length list in one field", raw: pdPOST("Content-Length: 3, 3\r\n", "abc")},
	{name: "Content-Length with plus sign", raw: pdPOST("Content-Length: +3\r\n", "abc")},
	{name: "Content-Length negative", raw: pdPOST("Content-Length: -1\r\n", "")},
	{name: "Content-Length leading zeros", raw: pdPOST("Content-Length: 0003\r\n", "abc")},
	{name: "Content-Length hex", raw: pdPOST("Content-Length: 0x3\r\n", "abc")},
	{name: "Content-Length empty", raw: pdPOST("Content-Length:\r\n", "")},
	{name: "Content-Length overflow", raw: pdPOST("Content-Length: 99999999999999999999\r\n", "")},
	{name: "Content-Length with whitespace inside", raw: pdPOST("Content-Length: 1 2\r\n", "abcdefghijkl")},
	{name: "Content-Length with OWS around", raw: pdPOST("Content-Length: \t3 \r\n", "abc")},
	{name: "Content-Length zero", raw: pdPOST("Content-Length: 0\r\n", "")},

	// Transfer-Encoding.
	{name: "chunked and Content-Length", raw: pdPOST("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: whyTECL},
	{name: "Content-Length and chunked", raw: pdPOST("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: whyTECL},
	{name: "chunked, identity", raw: pdPOST("Transfer-Encoding: chunked, identity\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: whyTENotLast},
	{name: "identity", raw: pdPOST("Transfer-Encoding: identity\r\n", ""), eddy: "400 closed", why: whyTENotLast},
	{name: "gzip, chunked", raw: pdPOST("Transfer-Encoding: gzip, chunked\r\n", "3\r\nabc\r\n0\r\n\r\n")},
	{name: "gzip", raw: pdPOST("Transfer-Encoding: gzip\r\n", ""), eddy: "400 closed", why: whyTENotLast},
	{name: "CHUNKED uppercase", raw: pdPOST("Transfer-Encoding: CHUNKED\r\n", "3\r\nabc\r\n0\r\n\r\n")},
	{name: "chunked with OWS", raw: pdPOST("Transfer-Encoding: \t chunked \t\r\n", "3\r\nabc\r\n0\r\n\r\n")},
	{name: "xchunked", raw: pdPOST("Transfer-Encoding: xchunked\r\n", ""), eddy: "400 closed", why: whyTENotLast},
	{name: "chunked twice in two fields", raw: pdPOST("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: whyTEList},
	{name: "chunked then identity in two fields", raw: pdPOST("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: whyTENotLast},
	{name: "empty element then chunked", raw: pdPOST("Transfer-Encoding: , chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "200 open", why: whyTEList},
	{name: "empty Transfer-Encoding", raw: pdPOST("Transfer-Encoding:\r\n", ""), eddy: "400 closed", why: "http1 refuses an empty coding list (RFC 9112 §6.1: 1#transfer-coding) with 400; net/http answers 501"},
	{name: "chunked in HTTP/1.0", raw: "POST /r HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", eddy: "400 closed", why: whyTE10},
	{name: "chunked and Content-Length in HTTP/1.0", raw: "POST /r HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", eddy: "400 closed", why: whyTE10},

	// Chunked framing.
	{name: "chunk extensions", raw: pdChunked("3;a=b;c=\"d e\"\r\nabc\r\n0;z\r\n\r\n")},
	{name: "chunk size with leading zeros", raw: pdChunked("0003\r\nabc\r\n000\r\n\r\n")},
	{name: "chunk size uppercase hex", raw: pdChunked("A\r\n0123456789\r\n0\r\n\r\n")},
	{name: "chunk size overflow", raw: pdChunked("10000000000000000\r\nabc\r\n0\r\n\r\n")},
	{name: "chunk size with whitespace after", raw: pdChunked("3 \r\nabc\r\n0\r\n\r\n")},
	{name: "chunk size with whitespace before", raw: pdChunked(" 3\r\nabc\r\n0\r\n\r\n")},
	{name: "chunk size 0x prefix", raw: pdChunked("0x3\r\nabc\r\n0\r\n\r\n")},
	{name: "chunk size negative", raw: pdChunked("-3\r\nabc\r\n0\r\n\r\n")},
	{name: "empty chunk size", raw: pdChunked("\r\nabc\r\n0\r\n\r\n")},
	{name: "missing CRLF after chunk data", raw: pdChunked("3\r\nabcX\r\n0\r\n\r\n")},
	{name: "chunk data longer than its size", raw: pdChunked("3\r\nabcdef\r\n0\r\n\r\n")},
	{name: "bare LF after chunk size", raw: pdChunked("3\nabc\r\n0\r\n\r\n")},
	{name: "bare LF after chunk data", raw: pdChunked("3\r\nabc\n0\r\n\r\n")},
	{name: "bare LF after last chunk", raw: pdChunked("3\r\nabc\r\n0\n\r\n")},
	{name: "chunk extension with a control octet", raw: pdChunked("3;a=\x01\r\nabc\r\n0\r\n\r\n"), eddy: "200 closed", why: "doc.go: http1 refuses a control octet in a chunk extension; net/http skips extensions unchecked"},
	{name: "overlong chunk extension", raw: pdChunked("3;" + strings.Repeat("e", 5000) + "\r\nabc\r\n0\r\n\r\n")},
	{name: "missing last chunk, next request follows", raw: pdChunked("3\r\nabc\r\n0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), n: 2},
	{name: "chunked then pipelined GET", raw: pdChunked("3\r\nabc\r\n0\r\n\r\n") + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},

	// Trailers.
	{name: "declared trailer", raw: pdPOST("Transfer-Encoding: chunked\r\nTrailer: X-T\r\n", "3\r\nabc\r\n0\r\nX-T: v\r\n\r\n")},
	{name: "undeclared trailer", raw: pdChunked("3\r\nabc\r\n0\r\nX-U: v\r\nx-u: w\r\n\r\n")},
	{name: "forbidden trailer fields", raw: pdChunked("3\r\nabc\r\n0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n\r\n")},
	{name: "Trailer declaring Content-Length", raw: pdPOST("Transfer-Encoding: chunked\r\nTrailer: Content-Length\r\n", "3\r\nabc\r\n0\r\n\r\n")},
	{name: "Trailer declaring Transfer-Encoding", raw: pdPOST("Transfer-Encoding: chunked\r\nTrailer: Transfer-Encoding\r\n", "3\r\nabc\r\n0\r\n\r\n")},
	{name: "trailer with NUL", raw: pdChunked("3\r\nabc\r\n0\r\nX: a\x00b\r\n\r\n")},
	{name: "trailer with obs-fold", raw: pdChunked("3\r\nabc\r\n0\r\nX: a\r\n b\r\n\r\n"), eddy: "200 closed", why: whyObsFold},
	{name: "trailer with space before colon", raw: pdChunked("3\r\nabc\r\n0\r\nX : a\r\n\r\n"), eddy: "200 closed", why: whyTrailerWS},
	{name: "trailer ended by bare LF", raw: pdChunked("3\r\nabc\r\n0\r\nX: a\nY: b\r\n\r\n"), eddy: "200 closed", why: whyChunkLF},

	// Targets and Host.
	{name: "absolute-form", raw: "GET http://a.example:8080/p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "absolute-form https uppercase scheme", raw: "GET HTTPS://a.example/p HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "absolute-form without Host", raw: "GET http://a.example/p HTTP/1.1\r\n\r\n"},
	{name: "absolute-form with userinfo", raw: "GET http://u:p@a.example/p HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "absolute-form urn", raw: "GET urn:isbn:1 HTTP/1.1\r\nHost: x\r\n\r\n", eddy: "400 closed", why: whyURN},
	{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "GET *", raw: "GET * HTTP/1.1\r\nHost: x\r\n\r\n", eddy: "400 closed", why: whyAsterisk},
	{name: "CONNECT authority", raw: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"},
	{name: "CONNECT IPv6 authority", raw: "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"},
	{name: "CONNECT without Host", raw: "CONNECT a.example:443 HTTP/1.1\r\n\r\n", eddy: "400 closed", why: whyConnect},
	{name: "CONNECT origin-form", raw: "CONNECT /rpc HTTP/1.1\r\nHost: x\r\n\r\n", eddy: "400 closed", why: whyConnForm},
	{name: "CONNECT without port", raw: "CONNECT a.example HTTP/1.1\r\nHost: x\r\n\r\n", eddy: "400 closed", why: whyConnPort},
	{name: "authority-form with GET", raw: "GET a.example:80 HTTP/1.1\r\nHost: x\r\n\r\n", eddy: "400 closed", why: whyAuthForm},
	{name: "missing Host", raw: "GET /r HTTP/1.1\r\n\r\n"},
	{name: "duplicate Host", raw: "GET /r HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{name: "duplicate equal Host", raw: "GET /r HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
	{name: "empty Host", raw: "GET /r HTTP/1.1\r\nHost:\r\n\r\n"},
	{name: "Host with port and brackets", raw: "GET /r HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"},
	{name: "Host with space", raw: "GET /r HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{name: "Host with slash", raw: "GET /r HTTP/1.1\r\nHost: a/b\r\n\r\n"},
	{name: "Host with userinfo", raw: "GET /r HTTP/1.1\r\nHost: u@a\r\n\r\n"},

	// Versions.
	{name: "HTTP/1.0", raw: "GET /r HTTP/1.0\r\n\r\n"},
	{name: "HTTP/1.0 keep-alive", raw: "GET /r HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
	{name: "HTTP/1.0 keep-alive POST", raw: "POST /r HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi"},
	{name: "HTTP/1.1 Connection: close", raw: pdGET("Connection: close\r\n")},
	{name: "Connection list with close", raw: pdGET("Connection: foo, CLOSE\r\n")},
	{name: "HTTP/0.9 request line", raw: "GET /r\r\n\r\n"},
	{name: "HTTP/0.9 version", raw: "GET /r HTTP/0.9\r\nHost: x\r\n\r\n"},
	{name: "HTTP/2.0", raw: "GET /r HTTP/2.0\r\nHost: x\r\n\r\n"},
	{name: "HTTP/1.2", raw: "GET /r HTTP/1.2\r\nHost: x\r\n\r\n"},
	{name: "HTTP/1.10", raw: "GET /r HTTP/1.10\r\nHost: x\r\n\r\n"},
	{name: "lowercase version", raw: "GET /r http/1.1\r\nHost: x\r\n\r\n"},
	{name: "HTTP/1.1 no dot digits", raw: "GET /r HTTP/11\r\nHost: x\r\n\r\n"},

	// Limits.
	{name: "request line of 10 KiB", raw: pdBigLine, eddy: "414 closed", why: whyLine},
	{name: "request line over MaxHeaderBytes", raw: pdHugeLine, eddy: "414 closed", why: whyLine + " (net/http 431)"},
	{name: "head over MaxHeaderBytes", raw: pdHugeHead},
	{name: "value over MaxHeaderBytes", raw: pdHugeValue},

	// Expect.
	{name: "100-continue with body", raw: pdPOST("Expect: 100-continue\r\nContent-Length: 2\r\n", "hi")},
	{name: "100-continue with chunked body", raw: pdPOST("Expect: 100-Continue\r\nTransfer-Encoding: chunked\r\n", "2\r\nhi\r\n0\r\n\r\n")},
	{name: "100-continue without body", raw: pdGET("Expect: 100-continue\r\n")},
	{name: "100-continue in HTTP/1.0", raw: "POST /r HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"},
	{name: "100-continue in a list", raw: pdPOST("Expect: foo, 100-continue\r\nContent-Length: 2\r\n", "hi")},
	{name: "unknown expectation", raw: pdPOST("Expect: bar\r\nContent-Length: 2\r\n", "hi")},

	// More framing edges.
	{name: "chunked with a trailing empty element", raw: pdPOST("Transfer-Encoding: chunked,\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "200 open", why: whyTEList},
	{name: "chunked then an empty field", raw: pdPOST("Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: "http1 refuses an empty Transfer-Encoding field with 400; net/http answers 501 to two fields"},
	{name: "chunked with a parameter", raw: pdPOST("Transfer-Encoding: chunked;q=1\r\n", "3\r\nabc\r\n0\r\n\r\n"), eddy: "400 closed", why: whyTENotLast},
	{name: "Content-Length of 24 digits", raw: pdPOST("Content-Length: 000000000000000000000003\r\n", "abc")},
	{name: "Content-Length with trailing comma", raw: pdPOST("Content-Length: 3,\r\n", "abc")},
	{name: "chunk size of 20 digits", raw: pdChunked("00000000000000000003\r\nabc\r\n0\r\n\r\n"), eddy: "200 open", why: "doc.go, RFC 9112 §7.1: chunk-size is 1*HEXDIG, a value not a digit count; net/http refuses more than 16 digits"},
	{name: "BWS before a chunk extension", raw: pdChunked("3 ;a=b\r\nabc\r\n0\r\n\r\n"), eddy: "200 open", why: "doc.go, RFC 9112 §7.1.1 allows BWS before ';'; net/http refuses it"},
	{name: "tab after chunk size", raw: pdChunked("3\t\r\nabc\r\n0\r\n\r\n")},
	{name: "head ended by LF CR LF", raw: "GET /r HTTP/1.1\r\nHost: x\n\r\n"},
	{name: "head ended by CR LF LF", raw: "GET /r HTTP/1.1\r\nHost: x\r\n\n"},
	{name: "CONNECT with a body", raw: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "absolute-form with a bad escape in the host", raw: "GET http://a%zz/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "absolute-form without a path", raw: "GET http://a.example HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "absolute-form with an empty host", raw: "GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "Host with sub-delims", raw: "GET /r HTTP/1.1\r\nHost: a_b~c!$&'()*+,;=%20\r\n\r\n"},
	{name: "Host with obs-text", raw: "GET /r HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n"},
	{name: "Connection close and keep-alive", raw: "GET /r HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", eddy: "200 closed", why: whyCloseWins},
	{name: "HEAD with a body", raw: "HEAD /r HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", head: true},

	{name: "Transfer_Encoding is another field", raw: pdPOST("Transfer_Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), n: 2},
	{name: "differing Content-Length in other case", raw: pdPOST("Content-Length: 3\r\ncontent-LENGTH: 4\r\n", "abcd")},
	{name: "trailer section of 5 KiB", raw: pdChunked("3\r\nabc\r\n0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("t", 1000)+"\r\n", 5) + "\r\n"), eddy: "200 open", why: "doc.go: http1 takes trailer sections up to DefaultMaxTrailerBytes (64 KiB); net/http's end within its 4 KiB buffer"},
	{name: "HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", eddy: "505 closed", why: "doc.go: HTTP/2 is not supported, other major versions get 505; net/http hands the preface to the handler (for an h2c handler to hijack)"},
	{name: "h2c upgrade", raw: pdGET("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n")},
	{name: "Upgrade then pipelined GET", raw: pdGET("Connection: Upgrade\r\nUpgrade: websocket\r\n") + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "100-continue then pipelined GET", raw: pdPOST("Expect: 100-continue\r\nContent-Length: 2\r\n", "hi") + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},

	// Pipelining.
	{name: "pipelined GETs", raw: "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "first body shorter than declared", raw: pdPOST("Content-Length: 10\r\n", "abc") + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "first body longer than declared", raw: pdPOST("Content-Length: 2\r\n", "abcd") + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "body holds a request", raw: pdPOST("Content-Length: 33\r\n", "GET /in HTTP/1.1\r\nHost: x\r\n\r\n") + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "GET with a body", raw: "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
}

// pdOutcome is what one server made of a case.
type pdOutcome struct {
	statuses []int    // every response, 1xx included
	reports  []string // the handler's report of each 200 response
	probe    string   // "open", "closed", or what answered the probe instead
}

// summary is the statuses and what the probe got, as in pdCase.eddy.
func (o pdOutcome) summary() string {
	var b strings.Builder
	for _, s := range o.statuses {
		b.WriteString(strconv.Itoa(s) + " ")
	}
	b.WriteString(o.probe)
	return b.String()
}

// pdRun sends c.raw to addr, reads the responses to its requests, then sends a probe request and
// tells whether the connection answers it.
//
// With split set, the bytes go out a few at a time (small cases one byte per write), so that the
// server parses them as they trickle in.
func pdRun(t *testing.T, addr string, c pdCase, split bool) pdOutcome {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(8 * time.Second))
	// The write goes on while the server answers: a server refusing a large head stops reading it.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if !split {
			io.WriteString(conn, c.raw)
			return
		}
		step := 1
		if len(c.raw) > 4<<10 {
			step = 32 << 10
		}
		for i := 0; i < len(c.raw); i += step {
			if _, err := io.WriteString(conn, c.raw[i:min(i+step, len(c.raw))]); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(conn)
	var o pdOutcome
	n := max(c.n, 1)
	closing := false
	for finals := 0; finals < n && !closing; {
		method := "GET"
		if c.head {
			method = "HEAD"
		}
		r, err := readResponse(br, method)
		if err != nil {
			break
		}
		o.statuses = append(o.statuses, r.status)
		if r.status >= 200 {
			finals++
		}
		if r.status == 200 && !c.head {
			o.reports = append(o.reports, r.body)
		}
		closing = r.close
	}
	<-wrote
	io.WriteString(conn, pdProbe)
	switch r, err := readResponse(br, "GET"); {
	case err != nil:
		o.probe = "closed"
	case r.status == 200 && strings.HasPrefix(r.body, `method="GET" uri="/probe"`):
		o.probe = "open"
	default:
		o.probe = fmt.Sprintf("then-%d", r.status)
	}
	return o
}

// TestRequestParsingMatchesNetHTTP runs every case against net/http and http1 on each engine.
func TestRequestParsingMatchesNetHTTP(t *testing.T) {
	ref := netHTTPRef(t, parseReport, nil)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: parseReport, ErrorLog: newLogger(io.Discard)})
		var mu sync.Mutex
		table := make([]string, len(pdCases))
		t.Run("cases", func(t *testing.T) {
			for i, c := range pdCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					want := pdRun(t, ref, c, false)
					got := pdRun(t, addr, c, false)
					// The same bytes trickling in must give the same outcome.
					if split := pdRun(t, addr, c, true); split.summary() != got.summary() || !slices.Equal(split.reports, got.reports) {
						t.Errorf("http1 given the bytes a few at a time: %s %q; given them at once: %s %q",
							split.summary(), split.reports, got.summary(), got.reports)
					}
					ws, gs := want.summary(), got.summary()
					line := fmt.Sprintf("%-45s net/http %-16s http1 %-16s", c.name, ws, gs)
					line += diffVerdict(t, ws, gs, c.eddy, c.why)
					if c.eddy == "" && !slices.Equal(got.reports, want.reports) {
						t.Errorf("handler saw\n%s\nnet/http's saw\n%s", strings.Join(got.reports, "--\n"), strings.Join(want.reports, "--\n"))
						line += " REPORT DIFFERS"
					}
					mu.Lock()
					table[i] = line
					mu.Unlock()
				})
			}
		})
		if testing.Verbose() {
			t.Logf("outcomes:\n%s", strings.Join(table, "\n"))
		}
	})
}

// parseReportNative is parseReport's counterpart for native handlers: what the request was and
// its body.
var parseReportNative = http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	fmt.Fprintf(w, "method=%q uri=%q\n", r.Method, r.Target)
	fmt.Fprintf(w, "proto=%q host=%q cl=%d chunked=%v keepalive=%v\n", r.Proto(), r.Host, r.ContentLength, r.Chunked, r.KeepAlive)
	for _, f := range r.Fields {
		fmt.Fprintf(w, "field %q: %q\n", f.Name, f.Value)
	}
	fmt.Fprintf(w, "body=%q\n", r.Body)
	for _, f := range r.Trailers {
		fmt.Fprintf(w, "trailer %q: %q\n", f.Name, f.Value)
	}
})

// TestRequestParsingNativeSplitsAgree checks, for native handlers, which have no net/http
// counterpart, that every case gives the same outcome whether its bytes arrive at once or a few
// at a time (1xx responses aside).
func TestRequestParsingNativeSplitsAgree(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Native: parseReportNative, ErrorLog: newLogger(io.Discard)})
		for _, c := range pdCases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				whole := pdRun(t, addr, c, false)
				split := pdRun(t, addr, c, true)
				// A native handler's 100 Continue goes out only when the body is not all there
				// yet, which depends on how the bytes arrive.
				for _, o := range []*pdOutcome{&whole, &split} {
					o.statuses = slices.DeleteFunc(o.statuses, func(s int) bool { return s < 200 })
				}
				if whole.summary() != split.summary() || !slices.Equal(whole.reports, split.reports) {
					t.Errorf("given the bytes a few at a time: %s %q; given them at once: %s %q",
						split.summary(), split.reports, whole.summary(), whole.reports)
				}
			})
		}
	})
}

// diffVerdict checks http1's summary gs against net/http's ws: equal, or, for a case with a documented
// difference (eddy, why), eddy's expected summary; it returns what to add to the case's table line.
func diffVerdict(t *testing.T, ws, gs, eddy, why string) string {
	t.Helper()
	switch {
	case eddy != "":
		if gs != eddy {
			t.Errorf("http1: %s; want %s (%s); net/http: %s", gs, eddy, why, ws)
		}
		if ws == gs {
			return " (documented difference not seen)"
		}
		return " KEPT: " + why
	case gs != ws:
		t.Errorf("http1: %s; net/http: %s", gs, ws)
		return " UNEXPECTED"
	}
	return ""
}

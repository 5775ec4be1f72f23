package http1

import (
	"reflect"
	"strings"
	"testing"
)

// get is the head of a plain GET / HTTP/1.1 with Host x, to be adjusted.
func get(change func(*head)) head {
	h := head{method: "GET", target: "/", form: FormOrigin, minor: 1, host: "x", keepAlive: true}
	if change != nil {
		change(&h)
	}
	return h
}

// validRequests are complete heads, each parsed whole as one request.
var validRequests = []struct {
	name string
	in   string
	want head
}{
	{"minimal", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.fields = []string{"Host: x"} })},
	{"http10 without host closes", "GET / HTTP/1.0\r\n\r\n", get(func(h *head) { h.minor, h.host, h.keepAlive = 0, "-", false })},
	{"http10 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", get(func(h *head) { h.minor, h.host = 0, "-" })},
	{"http10 close wins over keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", get(func(h *head) { h.minor, h.host, h.keepAlive = 0, "-", false })},
	{"http11 close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", get(func(h *head) { h.keepAlive = false })},
	{"connection list", "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo,  ,CLOSE\t\r\n\r\n", get(func(h *head) { h.keepAlive = false })},
	{"connection in two fields", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", get(func(h *head) { h.keepAlive = false })},
	{"upgrade", "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", get(func(h *head) { h.target, h.upgrade = "/chat", true })},
	{"names ignore case", "GET / HTTP/1.1\r\nhOsT: x\r\ncontent-LENGTH: 3\r\n\r\n", get(func(h *head) { h.cl, h.fields = 3, []string{"hOsT: x", "content-LENGTH: 3"} })},
	{"repeated fields kept in order", "GET / HTTP/1.1\r\nAccept: a\r\nHost: x\r\nAccept: b\r\n\r\n", get(func(h *head) { h.fields = []string{"Accept: a", "Host: x", "Accept: b"} })},
	{"OWS trimmed", "GET / HTTP/1.1\r\nHost: \t x \t\r\nX-A:b c\r\n\r\n", get(func(h *head) { h.fields = []string{"Host: x", "X-A: b c"} })},
	{"empty value", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Blank:   \r\n\r\n", get(func(h *head) { h.fields = []string{"Host: x", "X-Empty: ", "X-Blank: "} })},
	{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", get(func(h *head) { h.host = "" })},
	{"host with port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", get(func(h *head) { h.host = "example.com:8080" })},
	{"host IPv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", get(func(h *head) { h.host = "[::1]:80" })},
	{"tchar name", "GET / HTTP/1.1\r\nHost: x\r\nX-!#$%&'*+.^_`|~: v\r\n\r\n", get(func(h *head) { h.fields = []string{"Host: x", "X-!#$%&'*+.^_`|~: v"} })},
	{"obs-text and HTAB in value", "GET / HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\ta\r\n\r\n", get(func(h *head) { h.fields = []string{"Host: x", "X: caf\xc3\xa9\ta"} })},
	{"bare LF line endings", "GET / HTTP/1.1\nHost: x\n\n", get(nil)},
	{"mixed line endings", "GET / HTTP/1.1\r\nHost: x\n\r\n", get(nil)},
	{"empty lines before request line", "\r\n\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", get(nil)},
	{"content-length", "POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", get(func(h *head) { h.method, h.target, h.cl = "POST", "/f", 5 })},
	{"content-length zero", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", get(func(h *head) { h.method = "POST" })},
	{"content-length leading zeros", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n", get(func(h *head) { h.method, h.cl = "POST", 7 })},
	{"content-length largest", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n", get(func(h *head) { h.method, h.cl = "POST", 1<<63-1 })},
	{"content-length repeated identical", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\nContent-Length:  42\r\n\r\n", get(func(h *head) { h.method, h.cl = "POST", 42 })},
	{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", get(func(h *head) { h.method, h.cl, h.chunked = "POST", -1, true })},
	{"chunked any case, empty elements", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n", get(func(h *head) { h.method, h.cl, h.chunked = "POST", -1, true })},
	{"expect 100-continue", "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", get(func(h *head) { h.method, h.cl, h.expect = "PUT", 1, true })},
	{"expect ignored in http10", "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", get(func(h *head) { h.method, h.cl, h.minor, h.host, h.keepAlive = "PUT", 1, 0, "-", false })},
	{"other expectation", "PUT / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", get(func(h *head) { h.method = "PUT" })},
	{"absolute-form", "GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n", get(func(h *head) { h.target, h.form, h.host = "http://example.com/a?b=c", FormAbsolute, "example.com" })},
	{"absolute-form other scheme", "GET svn+ssh://h/p HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.target, h.form = "svn+ssh://h/p", FormAbsolute })},
	{"authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", get(func(h *head) {
		h.method, h.target, h.form, h.host = "CONNECT", "example.com:443", FormAuthority, "example.com:443"
	})},
	{"authority-form IPv6", "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.method, h.target, h.form = "CONNECT", "[2001:db8::1]:443", FormAuthority })},
	{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.method, h.target, h.form = "OPTIONS", "*", FormAsterisk })},
	{"options origin-form", "OPTIONS /a HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.method, h.target = "OPTIONS", "/a" })},
	{"extension method", "M-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.method = "M-SEARCH" })},
	{"HTTP/1.2 served as HTTP/1.1", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", get(func(h *head) { h.minor = 2 })},
	{"HTTP/1.9 close", "GET / HTTP/1.9\r\nHost: x\r\nConnection: close\r\n\r\n", get(func(h *head) { h.minor, h.keepAlive = 9, false })},
	{"target with obs-text and punctuation", "GET /caf\xc3\xa9/{a}|b\"c#d HTTP/1.1\r\nHost: x\r\n\r\n", get(func(h *head) { h.target = "/caf\xc3\xa9/{a}|b\"c#d" })},
}

func TestParseValidRequests(t *testing.T) {
	for _, tc := range validRequests {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			h, n, err := p.Parse([]byte(tc.in))
			if err != nil || h == nil {
				t.Fatalf("Parse = %v, %d, %v; want a head", h, n, err)
			}
			if n != len(tc.in) {
				t.Errorf("n = %d, want %d", n, len(tc.in))
			}
			got := headOf(h)
			if tc.want.fields == nil {
				got.fields = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("head\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// malformedRequests are heads that must be refused with status.
var malformedRequests = []struct {
	name   string
	in     string
	status int
}{
	// Request line.
	{"no version", "GET /\r\nHost: x\r\n\r\n", 400},
	{"only a method", "GET\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"space before method", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400},
	{"tabs as separators", "GET\t/\tHTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"method not a token", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"empty target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"control in target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"version lowercase", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
	{"version without minor", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400},
	{"version two-digit minor", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400},
	{"version letters", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400},
	{"HTTP/1.2 without host", "GET / HTTP/1.2\r\n\r\n", 400},
	{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
	{"asterisk with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT empty port", "CONNECT example.com: HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT without host", "CONNECT :443 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT userinfo", "CONNECT u@example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT absolute URI", "CONNECT http://example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"authority-form with GET", "GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"scheme starting with digit", "GET 1http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	// Field syntax.
	{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
	{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", 400},
	{"whitespace before first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400},
	{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400},
	{"name not a token", "GET / HTTP/1.1\r\nHost: x\r\nX(y): v\r\n\r\n", 400},
	{"non-ASCII name", "GET / HTTP/1.1\r\nHost: x\r\nX\xc3\xa9: v\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", 400},
	{"control in value", "GET / HTTP/1.1\r\nHost: x\r\nX: abcdefghijkl\x0bmnopqrstuvwxyz\r\n\r\n", 400},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400},
	{"CR CR LF", "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400},
	{"bare CR ends head", "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n", 400},
	// Host.
	{"missing host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
	{"two hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", 400},
	{"two hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", 400},
	{"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
	{"host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
	// Content-Length.
	{"content-length letters", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
	{"content-length negative", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
	{"content-length plus", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400},
	{"content-length empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400},
	{"content-length inner space", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", 400},
	{"content-length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n", 400},
	{"content-length hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400},
	{"content-length overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
	{"content-length huge", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
	{"content-length differing", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	{"content-length same number other spelling", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", 400},
	// Transfer-Encoding.
	{"TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE gzip only", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
	{"TE chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
	{"TE chunked not last across fields", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
	{"TE chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
	{"TE chunked twice across fields", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE empty", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 400},
	{"TE not a token", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chu nked\r\n\r\n", 400},
	{"TE chunked with parameter", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400},
	{"TE gzip then chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
	{"TE unknown then chunked across fields", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
}

func TestParseMalformedRequests(t *testing.T) {
	for _, tc := range malformedRequests {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			h, n, err := p.Parse([]byte(tc.in))
			if got := StatusOf(err); got != tc.status || h != nil || n != 0 {
				t.Fatalf("Parse = %v, %d, %v (status %d); want status %d", h, n, err, got, tc.status)
			}
			// Errors are sticky until Reset.
			if _, _, again := p.Parse([]byte(tc.in)); again != err {
				t.Errorf("second Parse = %v, want the same error %v", again, err)
			}
			p.Reset()
			if h, _, err := p.Parse([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); h == nil || err != nil {
				t.Errorf("after Reset, Parse = %v, %v; want a head", h, err)
			}
		})
	}
}

func TestParseIncompleteNeedsMore(t *testing.T) {
	for _, in := range []string{
		"", "\r\n", "GET", "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: x\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r",
	} {
		var p Parser
		if h, n, err := p.Parse([]byte(in)); h != nil || n != 0 || err != nil {
			t.Errorf("Parse(%q) = %v, %d, %v; want nil, 0, nil", in, h, n, err)
		}
	}
}

func TestParsePipelinedRequests(t *testing.T) {
	in := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"\r\n" + // a stray CRLF after a body, as old clients send
		"GET /c HTTP/1.0\r\n\r\n")
	var p Parser
	var targets []string
	for len(in) > 0 {
		h, n, err := p.Parse(in)
		if err != nil || h == nil {
			t.Fatalf("Parse(%q) = %v, %d, %v", in, h, n, err)
		}
		targets = append(targets, string(h.Target))
		in = in[n+int(h.ContentLength):]
	}
	if want := []string{"/a", "/b", "/c"}; !reflect.DeepEqual(targets, want) {
		t.Errorf("targets = %q, want %q", targets, want)
	}
}

func TestParseHeadSurvivesOnlyUntilNextParse(t *testing.T) {
	in := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n")
	var p Parser
	h1, n, _ := p.Parse(in)
	kept := h1.Clone()
	h2, _, _ := p.Parse(in[n:])
	if string(h2.Target) != "/b" || string(kept.Target) != "/a" || string(kept.Host) != "x" {
		t.Errorf("second target %q, clone of first %q host %q", h2.Target, kept.Target, kept.Host)
	}
}

func TestParseRejectBareLF(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\n", "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"} {
		p := Parser{RejectBareLF: true}
		if _, _, err := p.Parse([]byte(in)); StatusOf(err) != 400 {
			t.Errorf("Parse(%q) = %v, want 400", in, err)
		}
	}
	p := Parser{RejectBareLF: true}
	if h, _, err := p.Parse([]byte("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")); h == nil {
		t.Errorf("CRLF request refused: %v", err)
	}
}

func TestParseRequestLineLimit(t *testing.T) {
	line := "GET /" + strings.Repeat("a", 100-len("GET / HTTP/1.1")) + " HTTP/1.1"
	if len(line) != 100 {
		t.Fatal(len(line))
	}
	ok := line + "\r\nHost: x\r\n\r\n"
	p := Parser{MaxRequestLineBytes: 100}
	if h, _, err := p.Parse([]byte(ok)); h == nil {
		t.Fatalf("line of exactly the limit refused: %v", err)
	}
	p = Parser{MaxRequestLineBytes: 99}
	if _, _, err := p.Parse([]byte(ok)); StatusOf(err) != 414 {
		t.Errorf("line over the limit: %v, want 414", err)
	}
	// Without a line end in sight, 414 comes as soon as the limit plus
	// room for CR LF has arrived, and not before.
	p = Parser{MaxRequestLineBytes: 10}
	if _, _, err := p.Parse([]byte("GET /01234")); err != nil {
		t.Errorf("10 bytes: %v", err)
	}
	if _, _, err := p.Parse([]byte("GET /012345")); err != nil {
		t.Errorf("11 bytes: %v", err)
	}
	if _, _, err := p.Parse([]byte("GET /0123456")); StatusOf(err) != 414 {
		t.Errorf("12 bytes: %v, want 414", err)
	}
}

func TestParseHeaderBytesLimit(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: x\r\nX: 0123456789\r\n\r\n"
	p := Parser{MaxHeaderBytes: len(in)}
	if h, _, err := p.Parse([]byte(in)); h == nil {
		t.Fatalf("head of exactly the limit refused: %v", err)
	}
	p = Parser{MaxHeaderBytes: len(in) - 1}
	if _, _, err := p.Parse([]byte(in)); StatusOf(err) != 431 {
		t.Errorf("head over the limit: %v, want 431", err)
	}
	// The limit counts empty lines before the request line too.
	p = Parser{MaxHeaderBytes: len(in) + 1}
	if _, _, err := p.Parse([]byte("\r\n" + in)); StatusOf(err) != 431 {
		t.Errorf("head with empty lines over the limit: %v, want 431", err)
	}
	// An endless field line fails once the limit is reached.
	p = Parser{MaxHeaderBytes: 64}
	endless := []byte("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 100))
	if _, _, err := p.Parse(endless[:63]); err != nil {
		t.Errorf("63 bytes: %v", err)
	}
	if _, _, err := p.Parse(endless[:64]); StatusOf(err) != 431 {
		t.Errorf("64 bytes: %v, want 431", err)
	}
}

func TestParseHeaderCountLimit(t *testing.T) {
	fields := func(n int) string {
		return "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: y\r\n", n-1) + "\r\n"
	}
	p := Parser{MaxHeaders: 5}
	if h, _, err := p.Parse([]byte(fields(5))); h == nil || len(h.Fields) != 5 {
		t.Fatalf("5 fields refused: %v", err)
	}
	p.Reset()
	if _, _, err := p.Parse([]byte(fields(6))); StatusOf(err) != 431 {
		t.Errorf("6 fields: %v, want 431", err)
	}
	var d Parser
	if _, _, err := d.Parse([]byte(fields(DefaultMaxHeaders + 1))); StatusOf(err) != 431 {
		t.Errorf("default limit: %v, want 431", err)
	}
}

// TestParseNeverReadsPastLimits checks that bytes past the limits do not
// change the outcome: the parser must not have looked at them.
func TestParseNeverReadsPastLimits(t *testing.T) {
	prefix := "GET /aaaa HTTP/1.1\r\nHost: x\r\nX: aaaa"
	for _, tail := range []string{"\r\n\r\n", "\x00\x00", strings.Repeat("b", 1000)} {
		p := Parser{MaxHeaderBytes: len(prefix)}
		if _, _, err := p.Parse([]byte(prefix + tail)); StatusOf(err) != 431 {
			t.Errorf("tail %.10q: %v, want 431", tail, err)
		}
	}
}

func TestParseBufferMayMove(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	var p Parser
	p.Parse([]byte(in[:20]))
	moved := []byte(in)
	h, n, err := p.Parse(moved)
	if err != nil || n != len(in) || &h.Host[0] != &moved[22] {
		t.Fatalf("Parse = %v, %d, %v; Host must point into the new buffer", h, n, err)
	}
}

func TestParseShorterBufferPanics(t *testing.T) {
	var p Parser
	p.Parse([]byte("GET / HTTP"))
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	p.Parse([]byte("GET"))
}

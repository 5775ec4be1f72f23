package http1

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The octet rules of RFC 9110, written out afresh as the oracles of the fuzz targets below, not from
// the octets table.

// rfcTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func rfcTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// rfcValueOctet reports whether c may appear in a field value: field-vchar (VCHAR, obs-text), SP or
// HTAB (RFC 9110 §5.5).
func rfcValueOctet(c byte) bool { return c == '\t' || c == ' ' || 0x21 <= c && c <= 0x7e || c >= 0x80 }

// readMIME reads block, field lines each ended by CRLF and an empty line after them, with
// net/textproto, as net/http reads a head and a trailer section.
func readMIME(block string) (textproto.MIMEHeader, error) {
	return textproto.NewReader(bufio.NewReader(strings.NewReader(block))).ReadMIMEHeader()
}

// FuzzFieldLine checks the field-line syntax: validValue (eight octets at a time) against the octet
// rule one at a time, isToken against tchar, and splitField against net/textproto's reading of the
// same line, which net/http's server does, on every line the two grammars judge alike: one without
// whitespace before its colon and not starting with whitespace (RFC 9112 §5.1 and §5.2, which eddy
// refuses and textproto takes). splitField must take what textproto takes, with the same name and
// value (OWS trimmed), and refuse what it refuses.
func FuzzFieldLine(f *testing.F) {
	for _, s := range []string{
		"Host: example.com", "X:", "X: a\tb ", "X:\t \t", "x-y_z: \x80\xff", "X: a\x7fb", "X: a\x00b", "X: a\rb",
		": v", "X", " X: v", "X : v", "X\t: v", "X Y: v", "Ä: v", "X: 12345678\x0190", "X:abcdefgh\x7fijklmnop",
		"X: \x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f", "!#$%&'*+-.^_`|~09azAZ: v", "X: a\nb", "X(: v", "X:: v",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		naive := true
		for _, c := range line {
			naive = naive && rfcValueOctet(c)
		}
		if got := validValue(line); got != naive {
			t.Fatalf("validValue(%q) = %t; want %t", line, got, naive)
		}
		token := len(line) > 0
		for _, c := range line {
			token = token && rfcTchar(c)
		}
		if got := isToken(line); got != token {
			t.Fatalf("isToken(%q) = %t; want %t", line, got, token)
		}
		if len(line) == 0 {
			return // splitField is given no empty line: that one ends the head
		}
		s, e := splitField(line, 3)
		name, value, colon := bytes.Cut(line, []byte(":"))
		if bytes.ContainsAny(line, "\r\n") || line[0] == ' ' || line[0] == '\t' || bytes.ContainsAny(name, " \t") {
			if e == nil {
				t.Fatalf("splitField(%q) took a line with CR, LF or whitespace before its name or colon", line)
			}
			return
		}
		h, err := readMIME(string(line) + "\r\n\r\n")
		if (e == nil) != (err == nil) {
			t.Fatalf("splitField(%q) = %v; textproto says %v", line, e, err)
		}
		if e != nil {
			return
		}
		want := strings.Trim(string(value), " \t")
		got := func(a, b int32) string { return string(line[a-3 : b-3]) }
		if !colon || got(s.name, s.colon) != string(name) || got(s.value, s.end) != want {
			t.Fatalf("splitField(%q) = name %q, value %q; want %q, %q", line, got(s.name, s.colon), got(s.value, s.end), name, want)
		}
		if vv := h[textproto.CanonicalMIMEHeaderKey(string(name))]; len(vv) != 1 || strings.TrimRight(vv[0], " \t") != want {
			t.Fatalf("splitField(%q): textproto has %q", line, vv)
		}
	})
}

// FuzzHost checks the Host field as the parser takes it: a request with Host v (OWS trimmed) is
// taken exactly when net/http would send v as a Host field, and its Host is v.
func FuzzHost(f *testing.F) {
	for _, s := range []string{"example.com", "example.com:80", "[::1]:8080", "[fe80::1%25eth0]", "", " h ",
		"a b", "h/", "h?", "h#", "u@h", "é", "xn--nxasmq6b", "a<b", "h\x7f", "h\tx", "_:~'()*+,;=!$&%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return
		}
		in := "GET / HTTP/1.1\r\nHost: " + v + "\r\n\r\n"
		var p Parser
		h, _, err := p.Parse([]byte(in))
		trimmed := strings.Trim(v, " \t")
		ascii := true
		for i := 0; i < len(v); i++ {
			ascii = ascii && v[i] < 0x80
		}
		valid := ascii && netHTTPSendsHost(t, trimmed)
		if valid != (err == nil) {
			t.Fatalf("Host %q: Parse = %v; net/http's rule says valid: %t", v, err, valid)
		}
		if err == nil && (h == nil || string(h.Host) != trimmed) {
			t.Fatalf("Host %q: Parse made Host %q", v, h.Host)
		}
	})
}

// netHTTPSendsHost reports whether net/http sends the ASCII Host value host: Request.WriteProxy
// refuses an invalid one (Request.Write would send an empty field instead).
func netHTTPSendsHost(t *testing.T, host string) bool {
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "h", Path: "/"}, Host: host, Header: http.Header{}}
	err := req.WriteProxy(io.Discard)
	if err != nil && !strings.Contains(err.Error(), "invalid Host header") {
		t.Fatalf("Request.WriteProxy with Host %q: %v", host, err)
	}
	return err == nil
}

// rfcTargetForm is what targetForm must make of target, from RFC 9112 §3.2 and the parser's doc:
// request-target octets are VCHAR and obs-text; CONNECT takes only host ":" port, with a non-empty
// host without userinfo (a bracketed IP literal, or no ':') and a non-empty port of digits; OPTIONS
// alone takes "*"; otherwise a target starting with '/' is origin-form, and one starting with
// scheme "://" absolute-form.
func rfcTargetForm(method, target string) (TargetForm, bool) {
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return 0, false
		}
	}
	if method == "CONNECT" {
		i := strings.LastIndexByte(target, ':')
		if i < 0 {
			return 0, false
		}
		host, port := target[:i], target[i+1:]
		if host == "" || port == "" || strings.Trim(port, "0123456789") != "" {
			return 0, false
		}
		if strings.HasPrefix(host, "[") {
			if len(host) < 3 || !strings.HasSuffix(host, "]") {
				return 0, false
			}
		} else if strings.Contains(host, ":") {
			return 0, false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=%[]:", c) >= 0) {
				return 0, false
			}
		}
		return FormAuthority, true
	}
	switch {
	case strings.HasPrefix(target, "/"):
		return FormOrigin, true
	case target == "*":
		return FormAsterisk, method == "OPTIONS"
	}
	scheme, _, ok := strings.Cut(target, "://")
	if !ok || scheme == "" {
		return 0, false
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return 0, false
		}
	}
	return FormAbsolute, true
}

// FuzzRequestTarget checks the request-target: the form the parser gives a target (or its refusal)
// against rfcTargetForm, and for an origin-form target the URL the server makes of it on its fast
// path (plainOriginURL) against url.ParseRequestURI's, which net/http's server uses.
func FuzzRequestTarget(f *testing.F) {
	for _, s := range []string{"/", "/a/b?c=d", "/?", "//x/y", "/a b", "*", "http://h/p", "HTTP+x.y-z://h", "h:80",
		"[::1]:443", "[]:1", "u@h:80", "h:", ":80", "/%41", "/a!b", "/a;b=c", "/é", "mailto:x", "1http://h",
		"/\x7f", "/a#f", "/?a?b", "/a/../b", "/~user/$&+,:;=@"} {
		f.Add("GET", s)
		f.Add("CONNECT", s)
	}
	f.Add("OPTIONS", "*")
	f.Fuzz(func(t *testing.T, method, target string) {
		if !isToken([]byte(method)) || strings.ContainsAny(target, " \r\n") || target == "" {
			return // the request line's other rules
		}
		in := method + " " + target + " HTTP/1.1\r\nHost: h\r\n\r\n"
		var p Parser
		h, _, err := p.Parse([]byte(in))
		form, ok := rfcTargetForm(method, target)
		if (err == nil) != ok || ok && (h.Form != form || string(h.Target) != target) {
			t.Fatalf("%q: Parse = %v, %v; want form %v, taken: %t", in, h, err, form, ok)
		}
		if !ok || form != FormOrigin {
			return
		}
		var u url.URL
		if !plainOriginURL(&u, target) {
			return
		}
		want, err := url.ParseRequestURI(target)
		if err != nil || !reflect.DeepEqual(&u, want) {
			t.Fatalf("plainOriginURL(%q) = %#v; url.ParseRequestURI makes %#v, %v", target, u, want, err)
		}
	})
}

// FuzzTrailerSection checks a chunked body's trailer section: the fields the decoder keeps against
// net/textproto's reading of the same section (as net/http's body reader does), on every section
// the two grammars judge alike (no whitespace before a colon or at the start of a line), and the
// keys a Trailer field declares (declareTrailers) against net/http's ReadRequest.
func FuzzTrailerSection(f *testing.F) {
	for _, s := range []string{"", "X: 1\r\n", "X: 1\r\nX: 2\r\nY:3\r\n", "X: a\x00\r\n", "X 1\r\n", "X: 1\n",
		": v\r\n", "Host: h\r\n", "Content-Length: 5\r\n", "x-a: \x80\r\n", "X: 1\r\n y\r\n", "X:\r\n"} {
		f.Add(s, "X, Y")
	}
	f.Add("", "Transfer-Encoding")
	f.Add("", " ,x , content-length")
	f.Add("", "trailer,")
	f.Add("", "a b, \x80")
	f.Fuzz(func(t *testing.T, section, declared string) {
		d := ChunkedDecoder{MaxTrailerBytes: 1 << 16}
		body := "0\r\n" + section + "\r\n"
		_, n, done, derr := d.Decode([]byte(body))
		// whole: the section is field lines, each ended, and no empty line among them.
		whole := section == "" || strings.HasSuffix(section, "\r\n") && !strings.Contains("\r\n"+section, "\r\n\r\n")
		if derr == nil && whole && (!done || n != len(body)) || derr == nil && !whole && done && n == len(body) {
			t.Fatalf("trailer section %q: Decode used %d of %d bytes, done %t", section, n, len(body), done)
		}
		comparable := whole
		for _, l := range strings.Split(strings.TrimSuffix(section, "\r\n"), "\r\n") {
			name, _, _ := strings.Cut(l, ":")
			if section != "" && (l == "" || l[0] == ' ' || l[0] == '\t' || strings.ContainsAny(name, " \t")) ||
				strings.ContainsAny(l, "\r\n") {
				comparable = false
			}
		}
		if comparable {
			h, err := readMIME(section + "\r\n")
			if (derr == nil) != (err == nil) {
				t.Fatalf("trailer section %q: Decode = %v; textproto says %v", section, derr, err)
			}
			if derr == nil {
				got := textproto.MIMEHeader{}
				for _, f := range d.Trailers() {
					k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
					got[k] = append(got[k], string(f.Value))
				}
				for k, vv := range h {
					for i := range vv {
						vv[i] = strings.TrimRight(vv[i], " \t")
					}
					if !slices.Equal(got[k], vv) {
						t.Fatalf("trailer section %q: Decode has %q = %q; textproto %q", section, k, got[k], vv)
					}
				}
				if len(got) != len(h) {
					t.Fatalf("trailer section %q: Decode has %q; textproto %q", section, got, h)
				}
			}
		}
		if strings.ContainsAny(declared, "\r\n") {
			return
		}
		trailer, err := declareTrailers(nil, declared)
		req, rerr := http.ReadRequest(bufio.NewReader(strings.NewReader(
			"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: " + declared + "\r\n\r\n0\r\n\r\n")))
		if rerr != nil && !strings.Contains(rerr.Error(), "bad trailer key") {
			return // a field value textproto refuses, before the Trailer field is looked at
		}
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Trailer %q: declareTrailers = %v; net/http says %v", declared, err, rerr)
		}
		if err == nil && !reflect.DeepEqual(slices.Sorted(maps.Keys(trailer)), slices.Sorted(maps.Keys(req.Trailer))) {
			t.Fatalf("Trailer %q: declareTrailers = %q; net/http %q", declared, trailer, req.Trailer)
		}
	})
}

// FuzzFieldNumberAndList checks the parsers of field values that frame a message: Content-Length
// (parseContentLength) against strconv.ParseInt on one or more digits, and the comma lists of
// Connection, Expect and Transfer-Encoding (listContains, nextElement) and of the server's
// Connection and Upgrade checks (hasToken) against strings.Split with OWS trimmed.
func FuzzFieldNumberAndList(f *testing.F) {
	for _, s := range []string{"0", "007", "9223372036854775807", "9223372036854775808", "", "+1", "-1", " 1", "1 ",
		"1,1", "close", "Keep-Alive, close", ",,close,,", " \tclose\t ", "closed", "upgrade ,x"} {
		f.Add(s, "close")
	}
	f.Add("chunked", "chunked")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, v, token string) {
		n, ok := parseContentLength([]byte(v))
		want, err := strconv.ParseInt(v, 10, 64)
		wok := err == nil && v != "" && strings.Trim(v, "0123456789") == ""
		if ok != wok || ok && n != want {
			t.Fatalf("parseContentLength(%q) = %d, %t; want %d, %t", v, n, ok, want, wok)
		}
		has := false
		var elems [][]byte
		for _, e := range strings.Split(v, ",") {
			e = strings.Trim(e, " \t")
			has = has || strings.EqualFold(e, token) && isASCIIFold(e, token)
			elems = append(elems, []byte(e))
		}
		if got := listContains([]byte(v), token); got != has {
			t.Fatalf("listContains(%q, %q) = %t; want %t", v, token, got, has)
		}
		var got [][]byte
		for i := 0; i <= len(v); {
			var e []byte
			e, i = nextElement([]byte(v), i)
			got = append(got, e)
		}
		if !slices.EqualFunc(got, elems, bytes.Equal) {
			t.Fatalf("nextElement over %q: %q; want %q", v, got, elems)
		}
		if !strings.ContainsAny(v, "\r\n") {
			if got := hasToken(v, token); got != has {
				t.Fatalf("hasToken(%q, %q) = %t; want %t", v, token, got, has)
			}
		}
	})
}

// isASCIIFold reports whether a and b, equal under Unicode case folding, are equal under ASCII case
// folding alone, as HTTP's case-insensitive tokens are.
func isASCIIFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testdns"
)

// FuzzLoadURL checks load's --url: parseURL takes what url.Parse takes with an http or https scheme,
// a host and a port, if any, of 0..65535 (url.Parse's ports are digits), unless the request line and
// Host field made of it are ones eddy's server parser refuses (its length limits aside) or its host
// and port make an address splitAddr refuses; and for every URL it takes, the request load sends
// (newHTTPTarget) is one request that eddy's server parser and net/http's ReadRequest both read
// whole, with the URL's host and request URI, and the address it dials is one splitAddr takes.
func FuzzLoadURL(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:8080/", "https://localhost/a/b?c=d", "http://[::1]:80/x", "http://h", "http://h:/",
		"http://h:65536/", "http://h:0/", "http://:80/", "ftp://h/", "http://u:p@h/", "http://h/a b",
		"http://h/?a b", "http://h/#frag", "http://h/%zz", "http://[fe80::1%25eth0]:80/", "http://é/",
		"http://h/?é", "127.0.0.1:8080/", "http://h/\x7f", "HTTP://H/", "http://h?x", "http://h/\u00a0",
	} {
		f.Add(s)
	}
	queries := testdns.NoLookups(f)
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseURL(s)
		want, perr := url.Parse(s)
		ok := perr == nil && (want.Scheme == "http" || want.Scheme == "https") && want.Host != "" && want.Hostname() != ""
		if ok && want.Port() != "" {
			p, aerr := strconv.Atoi(want.Port())
			ok = aerr == nil && p <= 65535
		}
		if ok {
			// What url.Parse takes may still not go on the wire: a raw space in the query, a host
			// that is not ASCII. Those parseURL refuses, and only those and the next.
			head := "GET " + want.RequestURI() + " HTTP/1.1\r\nHost: " + want.Host + "\r\n\r\n"
			p := unlimitedParser()
			_, _, herr := p.Parse([]byte(head))
			if herr != nil && err == nil {
				t.Fatalf("parseURL(%q) took a URL whose request %q eddy's parser refuses: %v", s, head, herr)
			}
			ok = herr == nil
			// Nor a host that makes no address to dial ("http://]").
			port := want.Port()
			if port == "" {
				port = map[string]string{"http": "80", "https": "443"}[want.Scheme]
			}
			if _, _, aerr := splitAddr("tcp://" + net.JoinHostPort(want.Hostname(), port)); aerr != nil {
				ok = false
			}
		}
		if (err == nil) != ok {
			t.Fatalf("parseURL(%q) = %v; want it taken: %t", s, err, ok)
		}
		if err != nil {
			return
		}
		if u.String() != want.String() {
			t.Fatalf("parseURL(%q) = %q; url.Parse made %q", s, u, want)
		}
		target, dialTo, err := newHTTPTarget(loadConfig{url: s, method: "GET", addr: "127.0.0.1:9000"})
		if err != nil {
			t.Fatalf("newHTTPTarget(%q): %v", s, err)
		}
		before := queries.Load()
		if _, _, err := splitAddr(dialTo); err != nil || queries.Load() != before {
			t.Fatalf("--url %q dials %q, which splitAddr refuses: %v", s, dialTo, err)
		}
		p := unlimitedParser()
		h, n, err := p.Parse(target.request)
		if err != nil || h == nil || n != len(target.request) {
			t.Fatalf("--url %q: eddy's parser reads %q as %v, %d of %d bytes, %v", s, target.request, h != nil, n, len(target.request), err)
		}
		// The Host net/http's client sends for u (an IPv6 literal's zone removed).
		var sent bytes.Buffer
		if err := (&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}).Write(&sent); err != nil {
			t.Fatalf("--url %q: net/http does not write its request: %v", s, err)
		}
		std, err := http.ReadRequest(bufio.NewReader(&sent))
		if err != nil {
			t.Fatalf("--url %q: net/http does not read its own request: %v", s, err)
		}
		if string(h.Host) != std.Host || string(h.Target) != u.RequestURI() {
			t.Fatalf("--url %q: the request has Host %q and target %q; want %q and %q", s, h.Host, h.Target, std.Host, u.RequestURI())
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(target.request))))
		if err != nil || req.Host != std.Host || req.RequestURI != u.RequestURI() {
			t.Fatalf("--url %q: net/http reads %q as %v", s, target.request, err)
		}
	})
}

// unlimitedParser is eddy's server parser without its length limits: how long a request line or head a
// server takes is its own choice (eddy's refuses a request line over 8 KiB with 414), not a fault of the
// URL, and load sends what it is given.
func unlimitedParser() *http1.Parser {
	return &http1.Parser{MaxRequestLineBytes: 1 << 30, MaxHeaderBytes: 1 << 30}
}

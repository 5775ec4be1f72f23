package main

import (
	"strings"
	"testing"
)

// A --url that url.Parse takes but that would not go on the wire as it is, a raw space in the query
// or a host that is not ASCII, is a usage error (exit 2), as http1.Transport refuses it for eddy get;
// so is one whose host makes no address ("http://]").
// load sent it as it was: "GET /?a b HTTP/1.1", or a Host field of raw UTF-8, which a server answers
// with 400, every request counted as an error. The fuzz target FuzzLoadURL found it. (--addr: no
// name is looked up, whatever the URL.)
func TestLoadURLNotOnTheWire(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://127.0.0.1:1/?a b", "a space or control character in the request URI"},
		{"http://é:1/", "a non-ASCII host"},
		{"http://a<b:1/", "invalid host"},
		{"http://]:1/", `bad address "tcp://]:1"`},
	} {
		code, _, stderr := runCmd(t, t.Context(), "load", "--engine", "std", "--conns", "1", "--duration", "10ms", "--addr", "127.0.0.1:1", "--url", c.url)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("load --url %q: exit %d, stderr %q; want %d and %q", c.url, code, stderr, exitUsage, c.want)
		}
	}
}

package http1

import (
	"net"
	"net/url"
	"testing"
)

// FuzzDialKey checks the address the client dials for a URL's host against the one net/http's
// Transport dials (its canonicalAddr): the URL's Hostname and Port, with the scheme's port when the
// URL has none, joined by net.JoinHostPort, for every host that makes a well-formed address; and an
// error exactly when the host name is empty.
func FuzzDialKey(f *testing.F) {
	for _, s := range []string{"h", "h:8080", "h:", "[::1]", "[::1]:1", "[fe80::1%25eth0]:80", "[::1]:", ":80", "",
		"[]", "[]:80", "1.2.3.4", "u@h:1", "h:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		u, err := url.Parse("http://" + host + "/")
		if err != nil || u.Host == "" {
			return // only what a URL can hold
		}
		got, err := dialKey(u.Host, "80")
		port := u.Port()
		if port == "" {
			port = "80"
		}
		if u.Hostname() == "" {
			if err == nil {
				t.Fatalf("dialKey(%q) = %q; want an error: no host name", u.Host, got)
			}
			return
		}
		want := net.JoinHostPort(u.Hostname(), port)
		if _, _, err := net.SplitHostPort(want); err != nil {
			return // a malformed host ("]:"), left to the dial to report, as dialKey's doc says
		}
		if err != nil || got != want {
			t.Fatalf("dialKey(%q) = %q, %v; want %q", u.Host, got, err, want)
		}
	})
}

package http1_test

import (
	"net/http"
	"testing"

	"github.com/eddyio/eddy/http1"
)

// NativeRequest.Path and Query give what net/http's Request.URL gives (Path undecoded, so
// EscapedPath), for every target form a server accepts: in absolute form ("GET http://host/a?q",
// RFC 9112 §3.2.2) the path is the part after the authority, "/" when there is none. Path returned
// the whole "http://host/a" before, so a native handler routed such requests nowhere.
func TestNativePathOfEveryTargetForm(t *testing.T) {
	for _, tc := range []struct{ method, target, path, query string }{
		{"GET", "/", "/", ""},
		{"GET", "/a/b%20c?x=1&y", "/a/b%20c", "x=1&y"},
		{"GET", "http://example.com/", "/", ""},
		{"GET", "http://example.com", "/", ""},
		{"GET", "http://example.com?q=1", "/", "q=1"},
		{"GET", "http://example.com:8080/a/b?q=1", "/a/b", "q=1"},
		{"GET", "HTTPS://user@example.com/x%2Fy", "/x%2Fy", ""},
		{"GET", "http://[::1]:80/v6", "/v6", ""},
		{"OPTIONS", "*", "*", ""},
	} {
		var p http1.Parser
		raw := tc.method + " " + tc.target + " HTTP/1.1\r\nHost: example.com\r\n\r\n"
		head, _, err := p.Parse([]byte(raw))
		if err != nil || head == nil {
			t.Fatalf("%q: %v", raw, err)
		}
		r := &http1.NativeRequest{RequestHead: head}
		if got := string(r.Path()); got != tc.path {
			t.Errorf("%s %s: Path %q, want %q", tc.method, tc.target, got, tc.path)
		}
		if got := string(r.Query()); got != tc.query {
			t.Errorf("%s %s: Query %q, want %q", tc.method, tc.target, got, tc.query)
		}
		if tc.target == "*" {
			continue
		}
		// net/http's reading of the same request line, for comparison.
		req, err := http.NewRequest(tc.method, "http://example.com", nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := req.URL.Parse(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		want := u.EscapedPath()
		if want == "" {
			want = "/"
		}
		if want != tc.path || u.RawQuery != tc.query {
			t.Errorf("%s: the table says %q %q, net/url %q %q", tc.target, tc.path, tc.query, want, u.RawQuery)
		}
	}
}

package http1_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestTimeoutHandler: http.TimeoutHandler's 503, and the handler's late write, as net/http.
func TestMigrateTimeoutHandler(t *testing.T) {
	obs := make(chan string, 1)
	answered := make(chan struct{}, 1)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			w.Header().Set("X-A", "1")
			io.WriteString(w, "fast")
			return
		}
		<-r.Context().Done()
		<-answered // TimeoutHandler's 503 is out
		_, err := io.WriteString(w, "late")
		obs <- fmt.Sprintf("ctx %v; late write %v", r.Context().Err(), err)
	})
	h := http.TimeoutHandler(inner, 50*time.Millisecond, "too slow")
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		out := zzRaw(t, s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		answered <- struct{}{}
		out += "\n" + <-obs
		out += "\n" + zzRaw(t, s, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		out += "\n" + zzRaw(t, s, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd", "POST")
		answered <- struct{}{}
		out += "\n" + <-obs
		return out
	})
}

// TestMaxBytesReader: what the handler's read returns, and what the client sees of the
// response and the connection. http1's doc says the connection stays open and a following
// request is served (net/http closes it).
func TestMigrateMaxBytesReader(t *testing.T) {
	obs := &zzObs{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 10)
		b, err := io.ReadAll(r.Body)
		var mbe *http.MaxBytesError
		obs.add("read %d %q; MaxBytesError %v (%v)", len(b), b, errors.As(err, &mbe), err)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, "ok")
	})
	big := strings.Repeat("x", 100)
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, raw := range []string{
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + big,
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + big + "\r\n0\r\n\r\n",
		} {
			got := zzRaw(t, s, raw, "POST")
			// http1's doc: after a body refused by MaxBytesReader the connection stays open and
			// a following request is served; net/http closes it.
			if strings.Contains(got, " 413\n") {
				want := "  [close]\n[then: unexpected EOF]"
				if s.name != "nethttp" {
					want = `[then: next served 200 "next"]`
				}
				got = strings.Replace(got, want, "[then: as documented]", 1)
			}
			out += got + "\n" + obs.take()
		}
		return out
	})
}

// TestServeContent: http.ServeContent with Range, If-Range, If-None-Match, If-Modified-Since.
func TestMigrateServeContent(t *testing.T) {
	content := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("etag") != "" {
			w.Header().Set("ETag", `"v1"`)
		}
		http.ServeContent(w, r, "f.txt", mod, bytes.NewReader(content))
	})
	lm := mod.Format(http.TimeFormat)
	reqs := []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=30-\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,4-5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=100-200\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=x\r\n\r\n",
		"GET /?etag=1 HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\nIf-Range: \"v1\"\r\n\r\n",
		"GET /?etag=1 HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\nIf-Range: \"v2\"\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\nIf-Range: " + lm + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\nIf-Range: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n",
		"GET /?etag=1 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\"\r\n\r\n",
		"GET /?etag=1 HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/\"v1\", \"v3\"\r\n\r\n",
		"GET /?etag=1 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v2\"\r\n\r\n",
		"GET /?etag=1 HTTP/1.1\r\nHost: x\r\nIf-Match: \"v2\"\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + lm + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nIf-Unmodified-Since: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nRange: bytes=0-0\r\n\r\nabc",
	}
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, raw := range reqs {
			m, _, _ := strings.Cut(raw, " ")
			out += firstLine(raw) + "\n" + zzRaw(t, s, raw, m) + "\n"
		}
		return out
	})
}

// TestStripPrefixFileServerFS: http.StripPrefix over http.FileServer(http.FS(fstest.MapFS)).
func TestMigrateStripPrefixFileServerFS(t *testing.T) {
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	fsys := fstest.MapFS{
		"a.txt":          {Data: []byte("hello a"), ModTime: mod},
		"dir/b.html":     {Data: []byte("<p>b</p>"), ModTime: mod},
		"dir/index.html": {Data: []byte("<h1>index</h1>"), ModTime: mod},
		"other/c.bin":    {Data: bytes.Repeat([]byte{0, 1, 2}, 2000), ModTime: mod},
		"empty/.keep":    {Data: nil, ModTime: mod},
		"big.txt":        {Data: bytes.Repeat([]byte("0123456789"), 400), ModTime: mod},
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static", http.FileServer(http.FS(fsys))))
	mux.Handle("/s2/", http.StripPrefix("/s2/", http.FileServerFS(fsys)))
	var reqs []string
	for _, p := range []string{
		"/static/", "/static/a.txt", "/static/dir", "/static/dir/", "/static/dir/index.html",
		"/static/dir/b.html", "/static/other/", "/static/other/c.bin", "/static/nope", "/static/empty/",
		"/static/big.txt", "/static/../a.txt", "/static/a.txt/", "/static/%2e%2e/a.txt", "/s2/a.txt",
		"/s2/", "/s2/dir", "/nothere",
	} {
		reqs = append(reqs, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	reqs = append(reqs,
		"HEAD /static/a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /static/big.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,3990-\r\n\r\n",
		"GET /static/a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: "+mod.Format(http.TimeFormat)+"\r\n\r\n",
		"GET /static/a.txt HTTP/1.0\r\n\r\n",
		"POST /static/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	)
	zzDiff(t, mux, func(t *testing.T, s zzServer) string {
		var out string
		for _, raw := range reqs {
			m, _, _ := strings.Cut(raw, " ")
			out += firstLine(raw) + "\n" + zzRaw(t, s, raw, m) + "\n"
		}
		return out
	})
}

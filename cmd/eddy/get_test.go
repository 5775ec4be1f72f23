package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
)

// getModTime is the modification time the test servers give their content, so that responses carry
// Last-Modified and the chunk requests an If-Range.
var getModTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// getBackends returns the aio backends to test on: the pool always, io_uring where the kernel allows it.
func getBackends(t *testing.T) []string {
	t.Helper()
	backends := []string{"pool"}
	if a, err := aio.New(aio.WithBackend(aio.Uring)); err == nil {
		a.Close()
		backends = append([]string{"uring"}, backends...)
	} else {
		t.Logf("io_uring backend not tested: %v", err)
	}
	return backends
}

// randomBytes returns n bytes of reproducible random content.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}

// serveBlob serves content with http.ServeContent, which honours ranges.
func serveBlob(content []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "blob.bin", getModTime, bytes.NewReader(content))
	}
}

// startGetServer serves h on loopback until the test ends, and returns the URL of /blob.bin on it.
func startGetServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/blob.bin"
}

// dirEntries returns the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// checkDownload checks that dir holds only the file name, and that it is content.
func checkDownload(t *testing.T, dir, name string, content []byte) {
	t.Helper()
	if names := dirEntries(t, dir); !slices.Equal(names, []string{name}) {
		t.Fatalf("directory holds %q, want just %q", names, name)
	}
	got, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		i := 0
		for i < min(len(got), len(content)) && got[i] == content[i] {
			i++
		}
		t.Fatalf("downloaded %d bytes, want %d; first difference at byte %d", len(got), len(content), i)
	}
}

// countRanges counts the requests with a Range header, the probe's included, before passing them to h.
func countRanges(n *atomic.Int64, h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	}
}

// A server that honours ranges gives the file byte for byte, on every aio backend, for every size:
// empty, one byte, around a chunk, more connections than chunks, many chunks.
func TestGetRanged(t *testing.T) {
	const chunk = 64 << 10
	cases := []struct {
		name   string
		size   int
		flags  []string
		chunks int64
	}{
		{"empty", 0, nil, 0}, // the probe's 416 tells the size
		{"one byte", 1, nil, 1},
		{"under a chunk", chunk - 1, []string{"--chunk", "64KiB"}, 1},
		{"over a chunk", chunk + 1, []string{"--chunk", "64KiB"}, 2},
		{"more conns than chunks", 300_000, []string{"--chunk", "100000", "--conns", "8"}, 3},
		{"under the default chunk", 4<<20 - 1, nil, 1},
		{"10MiB", 10 << 20, []string{"--chunk", "1MiB", "--conns", "4"}, 10},
	}
	for _, be := range getBackends(t) {
		t.Run(be, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					content := randomBytes(tc.size)
					var ranges atomic.Int64
					u := startGetServer(t, countRanges(&ranges, serveBlob(content)))
					dir := t.TempDir()
					out := filepath.Join(dir, "blob.bin")
					args := append([]string{"get", "--out", out, "--backend", be}, tc.flags...)
					code, stdout, stderr := runCmd(t, t.Context(), append(args, u)...)
					if code != exitOK {
						t.Fatalf("exit %d, stderr:\n%s", code, stderr)
					}
					checkDownload(t, dir, "blob.bin", content)
					if stdout != "" {
						t.Errorf("stdout: %q", stdout)
					}
					if want := fmt.Sprintf("%d bytes in ", tc.size); !strings.Contains(stderr, want) || !strings.Contains(stderr, "backend "+be) {
						t.Errorf("report %q does not say %q and backend %s", stderr, want, be)
					}
					if got := ranges.Load(); got != 1+tc.chunks {
						t.Errorf("%d range requests, want the probe and %d chunks", got, tc.chunks)
					}
				})
			}
		})
	}
}

// A server that ignores ranges, or answers them without the size, is read in one plain GET, with or
// without a Content-Length.
func TestGetWithoutRanges(t *testing.T) {
	content := randomBytes(1<<20 + 3)
	noRange := func(h http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			h.ServeHTTP(w, r)
		}
	}
	chunked := func(w http.ResponseWriter, r *http.Request) {
		for b := content; len(b) > 0; b = b[min(len(b), 100_000):] {
			w.Write(b[:min(len(b), 100_000)])
			w.(http.Flusher).Flush()
		}
	}
	unknownSize := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "bytes=0-0" {
			w.Header().Set("Content-Range", "bytes 0-0/*")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(content[:1])
			return
		}
		serveBlob(content)(w, r)
	}
	servers := []struct {
		name string
		h    http.Handler
		size int
	}{
		{"Range stripped", noRange(serveBlob(content)), len(content)},
		{"Range stripped, empty", noRange(serveBlob(nil)), 0},
		{"chunked body", noRange(http.HandlerFunc(chunked)), len(content)},
		{"size unknown", http.HandlerFunc(unknownSize), len(content)},
	}
	for _, be := range getBackends(t) {
		t.Run(be, func(t *testing.T) {
			for _, s := range servers {
				t.Run(s.name, func(t *testing.T) {
					u := startGetServer(t, s.h)
					dir := t.TempDir()
					code, _, stderr := runCmd(t, t.Context(), "get", "--backend", be, "--chunk", "64KiB", "--out", filepath.Join(dir, "f"), u)
					if code != exitOK {
						t.Fatalf("exit %d, stderr:\n%s", code, stderr)
					}
					checkDownload(t, dir, "f", content[:s.size])
					if !strings.Contains(stderr, "one plain GET (no ranges)") || !strings.Contains(stderr, "1 connection,") {
						t.Errorf("report: %q", stderr)
					}
				})
			}
		})
	}
}

// parseRange parses the "bytes=first-last" the downloader sends.
func parseRange(t *testing.T, r *http.Request) (first, last int) {
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last); err != nil {
		t.Errorf("Range %q: %v", r.Header.Get("Range"), err)
	}
	return first, last
}

// abortAfter is a ResponseWriter that sends the first n bytes of the body and then drops the
// connection, the header having promised more.
type abortAfter struct {
	http.ResponseWriter
	n int
}

// Write sends what fits in the n bytes left, then aborts the handler.
func (a *abortAfter) Write(p []byte) (int, error) {
	if len(p) <= a.n {
		a.n -= len(p)
		return a.ResponseWriter.Write(p)
	}
	a.ResponseWriter.Write(p[:a.n])
	a.ResponseWriter.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// Every failure makes "eddy get" exit 1 with an error naming the URL and what went wrong, and leaves
// neither the file nor a temporary one behind.
func TestGetFailures(t *testing.T) {
	const chunk = 64 << 10
	content := randomBytes(5*chunk + 100)
	serve := serveBlob(content)
	// midway wraps h so that it answers the ranged request for the third chunk.
	midway := func(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("Range"), fmt.Sprintf("bytes=%d-", 2*chunk)) {
				h(w, r)
				return
			}
			serve(w, r)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []getFailure{
		{name: "not found", h: http.NotFoundHandler(), want: []string{"GET http://", "/blob.bin (bytes=0-0): 404 Not Found"}},
		{name: "connection refused", want: []string{"GET " + closed.URL + "/blob.bin (bytes=0-0): ", "connection refused"}},
		{
			name: "truncated chunk",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				serve(&abortAfter{ResponseWriter: w, n: 1000}, r)
			}),
			want: []string{fmt.Sprintf("(bytes=%d-%d): after 1000 bytes: ", 2*chunk, 3*chunk-1), "unexpected EOF"},
		},
		{
			name: "truncated plain GET",
			h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Range")
				serve(&abortAfter{ResponseWriter: w, n: 3 * chunk}, r)
			}),
			want: []string{fmt.Sprintf("/blob.bin: after %d bytes: ", 3*chunk), "unexpected EOF"},
		},
		{
			name: "wrong Content-Range",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				first, last := parseRange(t, r)
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first+1, last+1, len(content)))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(content[first+1 : last+2])
			}),
			want: []string{fmt.Sprintf(`(bytes=%d-%d): Content-Range "bytes %d-%d/%d", want "bytes %d-%d/%d"`,
				2*chunk, 3*chunk-1, 2*chunk+1, 3*chunk, len(content), 2*chunk, 3*chunk-1, len(content))},
		},
		{
			name: "size changed",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				first, last := parseRange(t, r)
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(content)+1))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(content[first : last+1])
			}),
			want: []string{"Content-Range", "want"},
		},
		{
			name: "200 to a range request",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Range")
				serve(w, r)
			}),
			want: []string{fmt.Sprintf("(bytes=%d-%d): 200 OK to a range request, want 206 Partial Content", 2*chunk, 3*chunk-1)},
		},
		{
			name: "body longer than the range",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				first, last := parseRange(t, r)
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(content)))
				w.WriteHeader(http.StatusPartialContent) // no Content-Length: chunked
				w.Write(content[first : last+2])
			}),
			want: []string{fmt.Sprintf("body longer than %d bytes", chunk)},
		},
		{
			name: "server error midway",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			}),
			want: []string{"500 Internal Server Error, want 206 Partial Content"},
		},
		{
			name: "stall",
			h: midway(func(w http.ResponseWriter, r *http.Request) {
				first, last := parseRange(t, r)
				w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(content)))
				w.WriteHeader(http.StatusPartialContent)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}),
			flags: []string{"--timeout", "300ms"},
			want:  []string{fmt.Sprintf("(bytes=%d-%d): after 0 bytes: nothing received for 300ms (--timeout)", 2*chunk, 3*chunk-1)},
		},
	}
	for _, be := range getBackends(t) {
		for _, client := range []string{"eddy", "net"} {
			t.Run(be+"/"+client, func(t *testing.T) {
				testGetFailures(t, cases, closed.URL, be, client)
			})
		}
	}
}

// getFailure is a case of TestGetFailures.
type getFailure struct {
	name  string
	h     http.Handler // nil: the closed server
	flags []string
	want  []string // substrings of stderr
}

// testGetFailures runs the cases of TestGetFailures with one backend and one client.
func testGetFailures(t *testing.T, cases []getFailure, closedURL, be, client string) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := closedURL + "/blob.bin"
			if tc.h != nil {
				u = startGetServer(t, tc.h)
			}
			dir := t.TempDir()
			args := append([]string{"get", "--backend", be, "--client", client, "--chunk", "64KiB", "--conns", "2", "--out", filepath.Join(dir, "blob.bin")}, tc.flags...)
			start := time.Now()
			code, _, stderr := runCmd(t, t.Context(), append(args, u)...)
			if code != exitFail {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFail, stderr)
			}
			if names := dirEntries(t, dir); len(names) > 0 {
				t.Errorf("left behind: %q", names)
			}
			if !strings.HasPrefix(stderr, "eddy: get: GET ") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one error line naming the request: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// Cancelling the context (SIGINT, SIGTERM) stops a download in progress: exit 1, and no file left.
func TestGetInterrupted(t *testing.T) {
	content := randomBytes(1 << 20)
	// stalling answers the chunks with their first 1000 bytes, then nothing, and tells started.
	stalling := func(started chan<- struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") == "bytes=0-0" {
				serveBlob(content)(w, r)
				return
			}
			first, last := parseRange(t, r)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(content)))
			w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(content[first : first+1000])
			w.(http.Flusher).Flush()
			started <- struct{}{}
			<-r.Context().Done()
		}
	}
	for _, be := range getBackends(t) {
		t.Run(be, func(t *testing.T) {
			started := make(chan struct{}, 16)
			u := startGetServer(t, stalling(started))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				select {
				case <-started:
				case <-ctx.Done():
				}
				cancel()
			}()
			dir := t.TempDir()
			code, _, stderr := runCmd(t, ctx, "get", "--backend", be, "--timeout", "0", "--chunk", "64KiB", "--out", filepath.Join(dir, "f"), u)
			if code != exitFail || !strings.Contains(stderr, "interrupted") || strings.Contains(stderr, "context canceled") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if names := dirEntries(t, dir); len(names) > 0 {
				t.Errorf("left behind: %q", names)
			}
		})
	}
}

// An existing file is kept unless --force, a directory always; the default name comes from the URL.
func TestGetOverwriteAndNames(t *testing.T) {
	content := randomBytes(70_000)
	u := startGetServer(t, serveBlob(content))
	dir := t.TempDir()
	out := filepath.Join(dir, "blob.bin")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, t.Context(), "get", "--out", out, u)
	if code != exitFail || !strings.Contains(stderr, out+" exists (use --force to overwrite it)") {
		t.Fatalf("existing file: exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	// Flags may follow the URL.
	code, _, stderr = runCmd(t, t.Context(), "get", u, "--out", out, "--force", "--chunk", "16KiB")
	if code != exitOK {
		t.Fatalf("--force: exit %d, stderr %q", code, stderr)
	}
	checkDownload(t, dir, "blob.bin", content)
	code, _, stderr = runCmd(t, t.Context(), "get", "--force", "--out", dir, u)
	if code != exitFail || !strings.Contains(stderr, dir+" is a directory") {
		t.Fatalf("--out a directory: exit %d, stderr %q", code, stderr)
	}

	// The default name is the URL's last path element, or index.html.
	cwd := t.TempDir()
	t.Chdir(cwd)
	base := strings.TrimSuffix(u, "/blob.bin")
	for _, tt := range []struct{ url, name string }{
		{u + "?v=1#frag", "blob.bin"},
		{base + "/dir/data%20file.txt", "data file.txt"},
		{base + "/dir/", "index.html"},
		{base, "index.html"},
	} {
		code, _, stderr := runCmd(t, t.Context(), "get", tt.url)
		if code != exitOK {
			t.Fatalf("get %s: exit %d, stderr %q", tt.url, code, stderr)
		}
		checkDownload(t, cwd, tt.name, content)
		os.Remove(filepath.Join(cwd, tt.name))
	}
}

// An output file that cannot be created is reported by the name asked for, never the temporary file's,
// and before anything is fetched.
func TestGetUnwritableOutputNamesIt(t *testing.T) {
	var requests atomic.Int64
	u := startGetServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		serveBlob([]byte("content"))(w, r)
	}))
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(dir, "missing", "x"), filepath.Join(file, "x")} {
		code, _, stderr := runCmd(t, t.Context(), "get", "--out", out, u)
		if code != exitFail || !strings.Contains(stderr, "eddy: get: cannot write "+out+": ") && !strings.Contains(stderr, out+": not a directory") || strings.Contains(stderr, ".part") {
			t.Errorf("--out %s: exit %d, stderr %q; want %d and the path named", out, code, stderr, exitFail)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests made", n)
	}

	// The temporary file's own failure names the file asked for too.
	aios, err := aio.New(aio.WithBackend(aio.Pool))
	if err != nil {
		t.Fatal(err)
	}
	defer aios.Close()
	out := filepath.Join(dir, "missing", "x")
	g := &getter{aio: aios}
	if f, err := g.createTemp(out); err == nil {
		f.Close()
		t.Fatal("createTemp in a missing directory: no error")
	} else if want := "cannot write " + out + ": no such file or directory"; err.Error() != want {
		t.Errorf("createTemp: %q, want %q", err, want)
	}
}

// A redirect is followed once, by the first request: the chunks are asked of where it led.
func TestGetFollowsRedirect(t *testing.T) {
	content := randomBytes(200_000)
	var redirected atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/blob.bin", serveBlob(content))
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, "/blob.bin", http.StatusFound)
	})
	u := strings.TrimSuffix(startGetServer(t, mux), "/blob.bin") + "/old"
	dir := t.TempDir()
	code, _, stderr := runCmd(t, t.Context(), "get", "--chunk", "50000", "--out", filepath.Join(dir, "new"), u)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	checkDownload(t, dir, "new", content)
	if n := redirected.Load(); n != 1 {
		t.Errorf("%d requests redirected, want 1", n)
	}
}

// --json prints the report on stdout, and nothing on stderr.
func TestGetJSON(t *testing.T) {
	content := randomBytes(1<<20 + 1)
	u := startGetServer(t, serveBlob(content))
	out := filepath.Join(t.TempDir(), "x")
	code, stdout, stderr := runCmd(t, t.Context(), "get", "--json", "--chunk", "256KiB", "--conns", "3", "--backend", "pool", "--out", out, u)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var rep getReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	want := getReport{URL: u, File: out, Bytes: int64(len(content)), Conns: 3, Chunks: 5, ChunkSize: 256 << 10, Ranges: true, Backend: "pool", Client: "eddy"}
	got := rep
	got.Seconds, got.MBPerSec = 0, 0
	if got != want || rep.Seconds <= 0 || rep.MBPerSec <= 0 {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
}

// Bad flags and arguments are command-line errors (exit 2), wherever the flags are.
func TestGetCommandLine(t *testing.T) {
	const u = "http://127.0.0.1:1/f"
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"help", "get"}, exitOK, "-chunk size", ""},
		{"listed", []string{"help"}, exitOK, "\tget ", ""},
		{"help after the URL", []string{"get", u, "-h"}, exitOK, "Usage: eddy get", ""},
		{"no URL", []string{"get"}, exitUsage, "", "eddy: get: no URL given"},
		{"two URLs", []string{"get", u, u + "2"}, exitUsage, "", `eddy: get: unexpected argument "` + u + `2"`},
		{"arguments after --", []string{"get", u, "--", "-x"}, exitUsage, "", `eddy: get: unexpected argument "-x"`},
		{"bad flag after the URL", []string{"get", u, "--nope"}, exitUsage, "", "eddy: get: flag provided but not defined: -nope"},
		{"ftp URL", []string{"get", "ftp://x/f"}, exitUsage, "", `eddy: get: bad URL "ftp://x/f": want an http:// or https:// URL`},
		{"no host", []string{"get", "http:///f"}, exitUsage, "", "no host"},
		{"unparsable URL", []string{"get", "http://[::1/f"}, exitUsage, "", "bad URL"},
		{"no scheme", []string{"get", "example.com/f"}, exitUsage, "", "want an http:// or https:// URL"},
		{"no scheme, a port", []string{"get", "127.0.0.1:21015/small.txt"}, exitUsage, "", `eddy: get: bad URL "127.0.0.1:21015/small.txt": want an http:// or https:// URL`},
		{"zero conns", []string{"get", "--conns", "0", u}, exitUsage, "", "eddy: get: --conns 0: want 1..256"},
		{"too many conns", []string{"get", "--conns", "1000", u}, exitUsage, "", "--conns 1000"},
		{"zero chunk", []string{"get", "--chunk", "0", u}, exitUsage, "", `invalid value "0" for flag -chunk`},
		{"bad chunk unit", []string{"get", "--chunk", "4XB", u}, exitUsage, "", `"4XB" is not a size`},
		{"huge chunk", []string{"get", "--chunk", "99999999999GiB", u}, exitUsage, "", "want less than 1TiB"},
		{"bad backend", []string{"get", "--backend", "disk", u}, exitUsage, "", `--backend "disk": want auto, uring or pool`},
		{"negative timeout", []string{"get", "--timeout", "-1s", u}, exitUsage, "", "--timeout -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, t.Context(), tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q / %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

// --chunk takes bytes or a number with a unit, more than 0 and less than 1 TiB.
func TestGetParseByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"1", 1}, {"4096", 4096}, {"1MiB", 1 << 20}, {"512KiB", 512 << 10}, {"4M", 4 << 20}, {"2 GiB", 2 << 30},
		{"1kb", 1000}, {"3MB", 3e6}, {"1gb", 1e9}, {"7B", 7}, {"64k", 64 << 10},
		{"", 0}, {"0", 0}, {"-1", 0}, {"+1", 0}, {"1.5MiB", 0}, {"MiB", 0}, {"1TiB", 0}, {"1024GiB", 0},
		{"1099511627775", 1<<40 - 1}, {"1099511627776", 0}, {"99999999999999999999", 0}, {"1 2", 0},
	} {
		got, err := parseByteSize(tt.in)
		if got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// parseContentRange takes the two forms of a single range, and refuses any other.
func TestGetParseContentRange(t *testing.T) {
	for _, tt := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-0/10", 0, 0, 10, true},
		{"bytes 5-9/10", 5, 9, 10, true},
		{"bytes 0-0/*", 0, 0, -1, true},
		{"bytes */0", -1, -1, 0, true},
		{"bytes */*", 0, 0, 0, false},
		{"bytes 5-10/10", 0, 0, 0, false},
		{"bytes 9-5/10", 0, 0, 0, false},
		{"bytes -1-5/10", 0, 0, 0, false},
		{"bytes 0-+5/10", 0, 0, 0, false},
		{"bytes 0-5", 0, 0, 0, false},
		{"items 0-5/10", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"bytes 0-5/x", 0, 0, 0, false},
	} {
		first, last, total, ok := parseContentRange(tt.in)
		if ok != tt.ok || (ok && (first != tt.first || last != tt.last || total != tt.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", tt.in, first, last, total, ok, tt.first, tt.last, tt.total, tt.ok)
		}
	}
}

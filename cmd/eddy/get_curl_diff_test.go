package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// "eddy get" against curl, the reference downloader, on the same loopback servers: each scenario is
// fetched by both into a directory of its own, and the outcomes (exit status, the file's bytes, what is
// left on disk after a failure) are compared. Where the two differ, the difference is one docs/get.md
// states; the case says which.

// curlPath returns the curl binary, or skips the test.
func curlPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	return p
}

// curlRun runs curl -f (exit 22 on an HTTP error) with args in dir, without any curlrc (-q) or proxy,
// and returns its exit status and stderr.
func curlRun(t *testing.T, curl, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, append([]string{"-q", "-sS", "-f", "--noproxy", "*", "--max-time", "20"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("curl: %v", err)
	return 0, ""
}

// curlOutcome is what a download left: whether it succeeded, and the files in its directory.
type curlOutcome struct {
	ok    bool
	files map[string][]byte
}

// readOutcome reads the files in dir.
func readOutcome(t *testing.T, ok bool, dir string) curlOutcome {
	t.Helper()
	o := curlOutcome{ok: ok, files: map[string][]byte{}}
	for _, name := range dirEntries(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		o.files[name] = b
	}
	return o
}

// String describes o for messages.
func (o curlOutcome) String() string {
	var names []string
	for name, b := range o.files {
		names = append(names, fmt.Sprintf("%s (%d bytes)", name, len(b)))
	}
	slices.Sort(names)
	return fmt.Sprintf("ok=%v files=%v", o.ok, names)
}

// curlServer is the content of the server of TestGetAgainstCurl, and its handlers by path.
type curlServer struct {
	content, gz []byte
	mu          sync.Mutex
	acceptEnc   []string // the Accept-Encoding of every request eddy get sent
	other       string   // the base URL of the second server, another host:port
}

// handler serves the paths of the scenarios.
func (s *curlServer) handler(t *testing.T) http.Handler {
	content := s.content
	size := len(content)
	serve := serveBlob(content)
	noRange := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			h(w, r)
		}
	}
	// chunks answers the probe and plain GETs properly, and the chunks after the first with bad.
	chunks := func(bad func(w http.ResponseWriter, r *http.Request, first, last int)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if first, last, ok := hostileRange(r); ok && first > 0 {
				bad(w, r, first, last)
				return
			}
			serve(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/plain/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(content)
	})
	mux.HandleFunc("/chunked/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		for b := content; len(b) > 0; b = b[min(len(b), 10_000):] {
			w.Write(b[:min(len(b), 10_000)])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/empty-body/blob.bin", noRange(serveBlob(nil)))
	mux.HandleFunc("/empty-ranged/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			// What a server that honours ranges answers for an empty file (ServeContent answers 200).
			w.Header().Set("Content-Range", "bytes */0")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		serveBlob(nil)(w, r)
	})
	mux.HandleFunc("/ranged/blob.bin", serve)
	// Every request, the chunks' too, must carry the query.
	mux.HandleFunc("/query/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "v=1&x=%2F" {
			http.Error(w, "query "+r.URL.RawQuery, http.StatusNotFound)
			return
		}
		serve(w, r)
	})
	mux.HandleFunc("/ä-é/blob.bin", serve)
	mux.HandleFunc("/ranges-ignored/blob.bin", noRange(serve))
	mux.HandleFunc("/lie-span/blob.bin", chunks(func(w http.ResponseWriter, r *http.Request, first, last int) {
		partial(w, fmt.Sprintf("bytes %d-%d/%d", first-1, last-1, size), content[first-1:last])
	}))
	mux.HandleFunc("/lie-length/blob.bin", chunks(func(w http.ResponseWriter, r *http.Request, first, last int) {
		partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), content[first:last]) // one byte short
	}))
	mux.HandleFunc("/lie-total/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "bytes=0-0" {
			partial(w, fmt.Sprintf("bytes 0-0/%d", size+1000), content[:1])
			return
		}
		serve(w, r)
	})
	mux.HandleFunc("/204/blob.bin", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/404/blob.bin", http.NotFound)
	mux.HandleFunc("/500/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	for _, code := range []int{301, 302, 303, 307, 308} {
		mux.HandleFunc(fmt.Sprintf("/r%d/blob.bin", code), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+r.Host+"/ranged/blob.bin", code)
		})
	}
	mux.HandleFunc("/relative/a/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "../ranged/blob.bin") // resolved against /relative/a/: /relative/ranged/blob.bin
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/relative/ranged/blob.bin", serve)
	mux.HandleFunc("/other-host/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.other+"/ranged/blob.bin", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/no-location/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
		w.Write(content)
	})
	mux.HandleFunc("/loop/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	// /chain/N/blob.bin redirects to /chain/N-1/blob.bin, and /chain/0/ serves the file.
	mux.HandleFunc("/chain/{n}/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			serve(w, r)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d/blob.bin", n-1), http.StatusFound)
	})
	mux.HandleFunc("/to-ftp/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1:1/blob.bin", http.StatusFound)
	})
	mux.HandleFunc("/to-file/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/hostname", http.StatusFound)
	})
	// A server that compresses whatever it is asked (no Accept-Encoding needed), ignoring ranges.
	mux.HandleFunc("/gzip/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") == "eddy-get" {
			s.mu.Lock()
			s.acceptEnc = append(s.acceptEnc, r.Header.Get("Accept-Encoding"))
			s.mu.Unlock()
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(s.gz)))
		w.Write(s.gz)
	})
	// A .gz served as gzip, with ranges (of the gzip bytes).
	mux.HandleFunc("/gzip-ranged/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		http.ServeContent(w, r, "blob.bin", getModTime, bytes.NewReader(s.gz))
	})
	// A body delimited by the close of the connection (HTTP/1.0, no Content-Length).
	mux.HandleFunc("/close-delimited/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.0 200 OK\r\n\r\n%s", content))
	})
	// More bytes than the Content-Length: the file is the Content-Length's.
	mux.HandleFunc("/excess/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%sGARBAGE", size, content))
	})
	mux.HandleFunc("/cut/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, content[:size/2]))
	})
	mux.HandleFunc("/cut-chunked/blob.bin", func(w http.ResponseWriter, r *http.Request) {
		hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", size/2, content[:size/2]))
	})
	mux.HandleFunc("/cut-ranged/blob.bin", chunks(func(w http.ResponseWriter, r *http.Request, first, last int) {
		serve(&abortAfter{ResponseWriter: w, n: 1000}, r)
	}))
	return mux
}

// startCurlServers starts the two servers of s, on 127.0.0.1 and on localhost (another host to a
// client), and returns the first's base URL.
func startCurlServers(t *testing.T, s *curlServer) string {
	start := func() *httptest.Server {
		srv := httptest.NewUnstartedServer(s.handler(t))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the hijacked and aborted responses
		srv.Start()
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := start(), start()
	s.other = strings.Replace(b.URL, "127.0.0.1", "localhost", 1)
	return a.URL
}

func TestGetAgainstCurl(t *testing.T) {
	curl := curlPath(t)
	content := randomBytes(5*hostileChunk + 100)
	s := &curlServer{content: content, gz: gzipBytes(content)}
	base := startCurlServers(t, s)
	const (
		same     = ""
		eddyFail = "eddy fails where curl succeeds"
	)
	cases := []struct {
		path string
		want []byte // what curl and eddy save; nil: both fail
		diff string // same, or how eddy differs (then docs/get.md says so)
	}{
		{"/plain/blob.bin", content, same},
		{"/chunked/blob.bin", content, same},
		{"/empty-body/blob.bin", []byte{}, same},
		{"/empty-ranged/blob.bin", []byte{}, same},
		{"/ranged/blob.bin", content, same},
		{"/ranges-ignored/blob.bin", content, same},
		{"/query/blob.bin?v=1&x=%2F#frag", content, same},
		{"/ä-%C3%A9/blob.bin", content, same},
		// curl asks for no range, and the server answers it properly: the lies are eddy's alone to see.
		{"/lie-span/blob.bin", content, eddyFail}, // "a Content-Range other than the one asked for"
		{"/lie-length/blob.bin", content, eddyFail},
		{"/lie-total/blob.bin", content, eddyFail},
		{"/204/blob.bin", []byte{}, eddyFail}, // "any other status to the first request"; curl saves an empty file
		{"/404/blob.bin", nil, same},
		{"/500/blob.bin", nil, same},
		{"/r301/blob.bin", content, same},
		{"/r302/blob.bin", content, same},
		{"/r303/blob.bin", content, same},
		{"/r307/blob.bin", content, same},
		{"/r308/blob.bin", content, same},
		{"/relative/a/blob.bin", content, same},
		{"/other-host/blob.bin", content, same},
		{"/no-location/blob.bin", content, eddyFail}, // curl saves the body of a 302 it cannot follow
		{"/loop/blob.bin", nil, same},
		{"/chain/9/blob.bin", content, same},
		{"/chain/10/blob.bin", content, eddyFail}, // "at most 9 redirects"; curl -L follows 50
		{"/to-ftp/blob.bin", nil, same},
		{"/to-file/blob.bin", nil, same},
		{"/gzip/blob.bin", s.gz, same},
		{"/gzip-ranged/blob.bin", s.gz, same},
		{"/close-delimited/blob.bin", content, same},
		{"/excess/blob.bin", content, same},
		{"/cut/blob.bin", nil, same},
		{"/cut-chunked/blob.bin", nil, same},
		{"/cut-ranged/blob.bin", content, eddyFail}, // curl's plain GET is not cut
	}
	for _, tc := range cases {
		t.Run(strings.Trim(tc.path, "/"), func(t *testing.T) {
			u := base + tc.path
			cdir := t.TempDir()
			ccode, cerr := curlRun(t, curl, cdir, "-L", "-o", "blob.bin", u)
			c := readOutcome(t, ccode == 0, cdir)
			t.Logf("curl: exit %d %v %s", ccode, c, strings.TrimSpace(cerr))
			// curl, the reference, does what the case says.
			if c.ok != (tc.want != nil) || c.ok && !bytes.Equal(c.files["blob.bin"], tc.want) {
				t.Fatalf("curl: %v, want ok=%v with %d bytes: the scenario is not what it says", c, tc.want != nil, len(tc.want))
			}
			for _, client := range []string{"eddy", "net"} {
				edir := t.TempDir()
				ecode, _, eerr := runCmd(t, t.Context(), "get", "--client", client, "--backend", "pool", "--conns", "2",
					"--chunk", strconv.Itoa(hostileChunk), "--timeout", "10s", "--out", filepath.Join(edir, "blob.bin"), u)
				e := readOutcome(t, ecode == exitOK, edir)
				t.Logf("eddy get --client %s: exit %d %v %s", client, ecode, e, strings.TrimSpace(eerr))
				// eddy get: the same as curl, or the documented difference.
				wantOK := tc.want != nil && tc.diff != eddyFail
				switch {
				case wantOK && ecode != exitOK:
					t.Errorf("--client %s: exit %d, want 0 as curl; stderr %q", client, ecode, eerr)
				case wantOK && (len(e.files) != 1 || !bytes.Equal(e.files["blob.bin"], tc.want)):
					t.Errorf("--client %s: left %v, want blob.bin of %d bytes, as curl", client, e, len(tc.want))
				case !wantOK && ecode != exitFail:
					t.Errorf("--client %s: exit %d, want %d; left %v", client, ecode, exitFail, e)
				case !wantOK && len(e.files) != 0:
					// curl -f leaves what it received of a cut body (exit 18); eddy get leaves nothing.
					t.Errorf("--client %s: failed and left %v, want nothing", client, e)
				case !wantOK && (!strings.HasPrefix(eerr, "eddy: get: GET ") || strings.Count(eerr, "\n") != 1):
					t.Errorf("--client %s: stderr is not one error line naming the request: %q", client, eerr)
				}
			}
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acceptEnc) == 0 || slices.ContainsFunc(s.acceptEnc, func(v string) bool { return v != "" }) {
		t.Errorf("eddy get sent Accept-Encoding %q, want none (as curl without --compressed)", s.acceptEnc)
	}
}

// The name eddy get saves under when --out is not given, against curl -O's: the last element of the
// URL's path, never its query or fragment, and that of the URL asked for, not of where a redirect led.
// eddy get decodes the element ("%20" is a space; a "%2F" separates elements) where curl -O keeps it as
// the URL has it, and saves a path that ends in "/" (or has none) as index.html where curl -O fails;
// both documented in docs/get.md.
func TestGetDefaultNameAgainstCurl(t *testing.T) {
	curl := curlPath(t)
	content := []byte("the file\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/names/old" {
			http.Redirect(w, r, "/names/new.txt", http.StatusFound)
			return
		}
		http.ServeContent(w, r, "x", getModTime, bytes.NewReader(content))
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		path       string
		curl, eddy string // the name each saves under; "": fails
	}{
		{"/names/plain.bin", "plain.bin", "plain.bin"},
		{"/names/b.bin?v=1&x=/y", "b.bin", "b.bin"},
		{"/names/x.txt#frag", "x.txt", "x.txt"},
		{"/names/é.txt", "é.txt", "é.txt"},
		{"/names/old", "old", "old"},
		{"/names/data%20file.txt", "data%20file.txt", "data file.txt"},
		{"/names/%C3%A9.txt", "%C3%A9.txt", "é.txt"},
		{"/names/a%2Fb.txt", "a%2Fb.txt", "b.txt"},
		{"/names/..%2F..%2Fup.txt", "..%2F..%2Fup.txt", "up.txt"},
		{"/names/", "", "index.html"},
		{"", "", "index.html"},
		// A space the URL does not escape: curl refuses the URL (exit 3), eddy get (net/url) sends it
		// escaped, as a browser does.
		{"/names/a b.txt", "", "a b.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			u := srv.URL + tc.path
			cdir, edir := t.TempDir(), t.TempDir()
			ccode, cerr := curlRun(t, curl, cdir, "-L", "-O", u)
			c := readOutcome(t, ccode == 0, cdir)
			if want := (curlOutcome{ok: tc.curl != "", files: map[string][]byte{}}); tc.curl != "" {
				want.files[tc.curl] = content
				if !c.ok || len(c.files) != 1 || !bytes.Equal(c.files[tc.curl], content) {
					t.Fatalf("curl -O: exit %d %v, want %v; stderr %q", ccode, c, want, cerr)
				}
			} else if c.ok || len(c.files) != 0 {
				t.Fatalf("curl -O: exit %d %v, want a failure", ccode, c)
			}
			t.Chdir(edir)
			code, _, stderr := runCmd(t, t.Context(), "get", "--backend", "pool", u)
			e := readOutcome(t, code == exitOK, edir)
			if code != exitOK || len(e.files) != 1 || !bytes.Equal(e.files[tc.eddy], content) {
				t.Fatalf("eddy get: exit %d %v, want %s; stderr %q", code, e, tc.eddy, stderr)
			}
		})
	}
}

// A download that fails over a file that --force would have replaced leaves that file as it was:
// curl -o writes into it as the body comes, and a body cut short leaves it holding what came, the old
// content gone; eddy get writes a temporary file, renamed over FILE only once complete.
func TestGetForceFailureKeepsTheOldFileAgainstCurl(t *testing.T) {
	curl := curlPath(t)
	content := randomBytes(5*hostileChunk + 100)
	s := &curlServer{content: content, gz: gzipBytes(content)}
	base := startCurlServers(t, s)
	old := []byte("the old file\n")
	for _, p := range []string{"/cut/blob.bin", "/cut-ranged/blob.bin", "/404/blob.bin"} {
		t.Run(strings.Trim(p, "/"), func(t *testing.T) {
			cdir, edir := t.TempDir(), t.TempDir()
			for _, dir := range []string{cdir, edir} {
				if err := os.WriteFile(filepath.Join(dir, "blob.bin"), old, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ccode, _ := curlRun(t, curl, cdir, "-L", "-o", "blob.bin", base+p)
			c := readOutcome(t, ccode == 0, cdir)
			t.Logf("curl: exit %d, blob.bin %d bytes (old content kept: %v)", ccode, len(c.files["blob.bin"]), bytes.Equal(c.files["blob.bin"], old))
			code, _, stderr := runCmd(t, t.Context(), "get", "--force", "--backend", "pool", "--conns", "2", "--chunk", strconv.Itoa(hostileChunk),
				"--out", filepath.Join(edir, "blob.bin"), base+p)
			e := readOutcome(t, code == exitOK, edir)
			if code != exitFail || len(e.files) != 1 || !bytes.Equal(e.files["blob.bin"], old) {
				t.Fatalf("eddy get --force: exit %d, left %v (old content kept: %v), want exit 1 and the old file as it was; stderr %q",
					code, e, bytes.Equal(e.files["blob.bin"], old), stderr)
			}
			if fi, err := os.Stat(filepath.Join(edir, "blob.bin")); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("the old file's mode: %v, want 0600 as it was", fi.Mode())
			}
		})
	}
}

// "eddy help get" says where eddy get differs from curl: the statuses, the redirects, the codings and
// the default name.
func TestGetHelpTellsTheDifferencesFromCurl(t *testing.T) {
	code, stdout, _ := runCmd(t, t.Context(), "help", "get")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	flat := strings.Join(strings.Fields(stdout), " ")
	for _, want := range []string{"204 included", "at most 9 in a row", "No Accept-Encoding", "percent-decoded", "left as it was"} {
		if !strings.Contains(flat, want) {
			t.Errorf("eddy help get does not say %q:\n%s", want, stdout)
		}
	}
}

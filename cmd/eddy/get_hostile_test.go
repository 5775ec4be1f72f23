package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The promise of "eddy get" against servers that misbehave: the file left under the final name is
// byte for byte the server's file, or get fails (exit 1, one line naming the request) and leaves
// nothing behind; it never hangs or panics.

const hostileChunk = 16 << 10

// hostileCase is a server that misbehaves, and what get must do against it.
type hostileCase struct {
	name  string
	h     func(t *testing.T, base string) http.Handler // base: the server's own URL, http://127.0.0.1:port
	flags []string
	want  []byte // the file get must leave; nil: get must fail
	// either: get may also fail, as when net/http reuses the connection whose extra bytes it has not
	// seen yet and takes them for the next response ("malformed HTTP status code").
	either bool
	msg    []string // substrings of stderr on failure
	pre    map[string]string
}

// hostileMidway reports whether r asks for the third chunk or a later one, where the servers below
// start misbehaving (the probe and the first chunks are answered properly).
func hostileMidway(r *http.Request) bool {
	first, _, ok := hostileRange(r)
	return ok && first >= 2*hostileChunk
}

// hostileRange parses "bytes=first-last".
func hostileRange(r *http.Request) (first, last int, ok bool) {
	spec, found := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	f, err1 := strconv.Atoi(a)
	l, err2 := strconv.Atoi(b)
	return f, l, found && err1 == nil && err2 == nil
}

// partial answers r with 206, the Content-Range cr and body, and the extra headers kv.
func partial(w http.ResponseWriter, cr string, body []byte, kv ...string) {
	for i := 0; i < len(kv); i += 2 {
		w.Header().Set(kv[i], kv[i+1])
	}
	if cr != "" {
		w.Header().Set("Content-Range", cr)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(body)
}

// hijackRaw takes over the connection of w and writes raw on it, then closes it.
func hijackRaw(t *testing.T, w http.ResponseWriter, raw []byte) {
	conn, bw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	bw.Write(raw)
	bw.Flush()
}

// gzipBytes compresses b.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func hostileCases(content []byte) []hostileCase {
	size := len(content)
	serve := serveBlob(content)
	// midway answers the third chunk and later ones with bad, the rest properly.
	midway := func(bad func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int)) func(*testing.T, string) http.Handler {
		return func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hostileMidway(r) {
					first, last, _ := hostileRange(r)
					bad(t, w, r, first, last)
					return
				}
				serve(w, r)
			})
		}
	}
	handler := func(f http.HandlerFunc) func(*testing.T, string) http.Handler {
		return func(*testing.T, string) http.Handler { return f }
	}
	v2 := bytes.Clone(content)
	for i := range v2 {
		v2[i] ^= 0x5a
	}
	gzFile := gzipBytes(content)
	return []hostileCase{
		// The probe.
		{name: "200 to the probe", h: handler(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			serve(w, r)
		}), want: content},
		{name: "206 whole file to the probe", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" {
				partial(w, fmt.Sprintf("bytes 0-%d/%d", size-1, size), content)
				return
			}
			serve(w, r)
		}), want: content},
		{name: "206 shifted to the probe", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" {
				partial(w, fmt.Sprintf("bytes 5-5/%d", size), content[5:6])
				return
			}
			serve(w, r)
		}), want: content},
		{name: "206 without Content-Range to the probe", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" {
				partial(w, "", content[:1])
				return
			}
			serve(w, r)
		}), want: content},
		{name: "206 without Content-Range to every request", h: handler(func(w http.ResponseWriter, r *http.Request) {
			partial(w, "", content)
		}), msg: []string{"/blob.bin: 206 Partial Content"}},
		{name: "probe stalls", h: handler(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}), flags: []string{"--timeout", "1s"}, msg: []string{"(bytes=0-0): nothing received for 1s (--timeout)"}},
		{name: "200 to the probe, body longer than its Content-Length", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%sGARBAGE", size, content))
			})
		}, want: content},
		{name: "probe tells a size of 2^63-1", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") == "bytes=0-0" {
				partial(w, fmt.Sprintf("bytes 0-0/%d", int64(math.MaxInt64)), content[:1])
				return
			}
			http.Error(w, "no", http.StatusRequestedRangeNotSatisfiable)
		}), msg: []string{"): 416 Requested Range Not Satisfiable, want 206 Partial Content"}},
		{name: "HEAD refused", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				http.Error(w, "no", http.StatusMethodNotAllowed)
				return
			}
			serve(w, r)
		}), want: content},

		// A chunk.
		{name: "200 to a chunk", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			r.Header.Del("Range")
			serve(w, r)
		}), msg: []string{"200 OK to a range request"}},
		{name: "Content-Range shifted", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", first+1, last+1, size), content[first+1:last+2])
		}), msg: []string{"Content-Range", "want"}},
		{name: "Content-Range shorter", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last-1, size), content[first:last])
		}), msg: []string{"Content-Range", "want"}},
		{name: "Content-Range longer", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last+1, size), content[first:last+2])
		}), msg: []string{"Content-Range", "want"}},
		{name: "Content-Range of another total", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size+hostileChunk), content[first:last+1])
		}), msg: []string{"Content-Range", "want"}},
		{name: "206 without Content-Range", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			partial(w, "", content[first:last+1])
		}), msg: []string{`Content-Range ""`}},
		{name: "Content-Length right, body shorter", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n%s",
				first, last, size, last-first+1, content[first:first+100]))
		}), msg: []string{"after 100 bytes", "unexpected EOF"}},
		{name: "Content-Length shorter than the range", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n%s",
				first, last, size, last-first, content[first:last+1]))
		}), msg: []string{fmt.Sprintf("Content-Length %d, want %d", hostileChunk-1, hostileChunk)}},
		{name: "body longer than its Content-Length", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n%sGARBAGE GARBAGE\r\n\r\n",
				first, last, size, last-first+1, content[first:last+1]))
		}), want: content, either: true}, // the range is whole; what follows it is on a connection then closed
		{name: "chunked range, right length", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
			w.WriteHeader(http.StatusPartialContent)
			for b := content[first : last+1]; len(b) > 0; b = b[min(len(b), 1000):] {
				w.Write(b[:min(len(b), 1000)])
				w.(http.Flusher).Flush()
			}
		}), want: content},
		{name: "chunked range cut short", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			hijackRaw(t, w, fmt.Appendf(nil, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n",
				first, last, size, 100, content[first:first+100]))
		}), msg: []string{"after 100 bytes"}},
		{name: "connection closed mid-range", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			serve(&abortAfter{ResponseWriter: w, n: 1000}, r)
		}), msg: []string{"after 1000 bytes", "unexpected EOF"}},
		{name: "range stalls before its head", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			<-r.Context().Done()
		}), flags: []string{"--timeout", "1s"}, msg: []string{"nothing received for 1s (--timeout)"}},
		{name: "range stalls midway", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
			w.Header().Set("Content-Length", strconv.Itoa(last-first+1))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(content[first : first+500])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}), flags: []string{"--timeout", "1s"}, msg: []string{"after 500 bytes: nothing received for 1s (--timeout)"}},
		{name: "chunked range stalls before its end", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(content[first : last+1])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}), flags: []string{"--timeout", "1s"}, msg: []string{"nothing received for 1s (--timeout)"}},
		{name: "103 before the 206", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			w.Header().Set("Link", "</x.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			serve(w, r)
		}), want: content},

		// The file changes on the server.
		{name: "file changed, If-Range honoured", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			http.ServeContent(w, r, "blob.bin", getModTime.Add(time.Hour), bytes.NewReader(v2))
		}), msg: []string{"200 OK to a range request"}},
		{name: "file changed, new ETag, If-Range ignored", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				file, etag := content, `"v1"`
				if hostileMidway(r) {
					file, etag = v2, `"v2"`
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), file[first:last+1], "ETag", etag)
			})
		}, msg: []string{`ETag "\"v2\"", want "\"v1\""`}},
		{name: "file changed, new Last-Modified, If-Range ignored", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				file, mod := content, getModTime
				if hostileMidway(r) {
					file, mod = v2, getModTime.Add(time.Hour)
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), file[first:last+1], "Last-Modified", mod.Format(http.TimeFormat))
			})
		}, msg: []string{"Last-Modified", "want"}},
		{name: "weak ETag changed, If-Range ignored", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				file, etag := content, `W/"v1"`
				if hostileMidway(r) {
					file, etag = v2, `W/"v2"`
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), file[first:last+1], "ETag", etag)
			})
		}, msg: []string{"ETag", "want"}},
		{name: "same ETag, Last-Modified apart", h: func(t *testing.T, _ string) http.Handler {
			// Two servers behind one name that date the same file apart: the ETag says it is the same.
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				mod := getModTime
				if hostileMidway(r) {
					mod = mod.Add(time.Minute)
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), content[first:last+1], "ETag", `"v1"`, "Last-Modified", mod.Format(http.TimeFormat))
			})
		}, want: content},
		{name: "same ETag, weakened", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				etag := `"v1"`
				if hostileMidway(r) {
					etag = `W/"v1"`
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), content[first:last+1], "ETag", etag)
			})
		}, want: content},
		{name: "same Last-Modified in another format", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				mod := getModTime.Format(http.TimeFormat)
				if hostileMidway(r) {
					mod = getModTime.Format(time.RFC850)
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), content[first:last+1], "Last-Modified", mod)
			})
		}, want: content},
		{name: "validators dropped midway", h: func(t *testing.T, _ string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first, last, _ := hostileRange(r)
				var kv []string
				if !hostileMidway(r) {
					kv = []string{"ETag", `"v1"`, "Last-Modified", getModTime.Format(http.TimeFormat)}
				}
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), content[first:last+1], kv...)
			})
		}, want: content},

		// Content codings.
		{name: "identity on one range", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), content[first:last+1], "Content-Encoding", "identity")
		}), want: content},
		{name: "gzip on one range", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			gz := gzipBytes(content[first : last+1])
			body := make([]byte, last-first+1) // the length asked for, so that only the coding tells
			copy(body, gz)
			partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), body, "Content-Encoding", "gzip")
		}), msg: []string{`Content-Encoding "gzip", want ""`}},
		{name: "gzip on every response (a .gz served as gzip)", h: handler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, "blob.bin", getModTime, bytes.NewReader(gzFile))
		}), want: gzFile},

		// Redirects.
		{name: "chunks redirected to another path", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/blob.bin" && hostileMidway(r) {
				http.Redirect(w, r, "/elsewhere/blob.bin", http.StatusFound)
				return
			}
			serve(w, r)
		}), want: content},
		{name: "redirect loop on a chunk", h: midway(func(t *testing.T, w http.ResponseWriter, r *http.Request, first, last int) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}), msg: []string{"stopped after 10 redirects"}},
		{name: "redirect loop on the probe", h: handler(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}), msg: []string{"(bytes=0-0): ", "stopped after 10 redirects"}},
		{name: "redirected to localhost", h: func(t *testing.T, base string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Host, "localhost:") {
					http.Redirect(w, r, strings.Replace(base, "127.0.0.1", "localhost", 1)+"/blob.bin", http.StatusMovedPermanently)
					return
				}
				serve(w, r)
			})
		}, want: content},
		{name: "chunk redirected to another file", h: handler(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/blob.bin" && hostileMidway(r) {
				http.Redirect(w, r, "/other.bin", http.StatusFound)
				return
			}
			if r.URL.Path == "/other.bin" {
				first, last, _ := hostileRange(r)
				partial(w, fmt.Sprintf("bytes %d-%d/%d", first, last, size), v2[first:last+1], "Last-Modified", getModTime.Add(time.Hour).Format(http.TimeFormat))
				return
			}
			serve(w, r)
		}), msg: []string{"Last-Modified", "want"}},

		// What an earlier run left.
		{name: ".part files of an earlier run", h: handler(serve), want: content,
			pre: map[string]string{"blob.bin.part": "old run", "blob.bin.abc123.part": "another file", "blob.bin.000000.part": "x"}},
	}
}

func TestGetAgainstHostileServers(t *testing.T) {
	content := randomBytes(5*hostileChunk + 100)
	for _, client := range []string{"eddy", "net"} {
		t.Run(client, func(t *testing.T) {
			for _, tc := range hostileCases(content) {
				t.Run(tc.name, func(t *testing.T) {
					testHostile(t, client, tc)
				})
			}
		})
	}
}

func testHostile(t *testing.T, client string, tc hostileCase) {
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc.h(t, srv.URL).ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	for name, data := range tc.pre {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"get", "--backend", "pool", "--client", client, "--chunk", strconv.Itoa(hostileChunk), "--conns", "2",
		"--out", filepath.Join(dir, "blob.bin")}, tc.flags...)
	code, _, stderr := runCmd(t, t.Context(), append(args, srv.URL+"/blob.bin")...)
	// What an earlier run left is left as it was.
	for name, data := range tc.pre {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != data {
			t.Errorf("%s: %q, %v; want %q as it was", name, b, err, data)
		}
	}
	var names []string
	for _, n := range dirEntries(t, dir) {
		if _, ok := tc.pre[n]; !ok {
			names = append(names, n)
		}
	}
	if tc.want != nil && !(tc.either && code == exitFail) {
		if code != exitOK {
			t.Fatalf("exit %d, want 0; stderr %q", code, stderr)
		}
		if !slices.Equal(names, []string{"blob.bin"}) {
			t.Fatalf("directory holds %q, want blob.bin", names)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "blob.bin"))
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("the file is %d bytes, not the server's %d (equal: %v)", len(got), len(tc.want), bytes.Equal(got, tc.want))
		}
		return
	}
	if code != exitFail {
		got, _ := os.ReadFile(filepath.Join(dir, "blob.bin"))
		t.Fatalf("exit %d, want %d; stderr %q; left %q (the server's first version: %v)", code, exitFail, stderr, names, bytes.Equal(got, randomBytes(5*hostileChunk+100)))
	}
	if len(names) > 0 {
		t.Errorf("left behind: %q", names)
	}
	if !strings.HasPrefix(stderr, "eddy: get: GET ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr is not one error line naming the request: %q", stderr)
	}
	t.Logf("stderr: %s", stderr)
	for _, w := range tc.msg {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not contain %q", stderr, w)
		}
	}
}

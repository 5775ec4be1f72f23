package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// fsBig adds a 40 MiB file to the comparisons of file serving (slow under the race detector).
var fsBig = flag.Bool("http1.fsbig", false, "compare file serving on a 40 MiB file too")

// A differential review of file serving: http.FileServer on http1 (each engine, and TLS) against
// http.FileServer on net/http's own server, compared on the raw bytes a client receives.

// fsTree writes the directory the file-serving review serves, with fixed modification times, and
// returns it.
func fsTree(t *testing.T, withBig bool) string {
	t.Helper()
	dir := t.TempDir()
	mtime := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	write := func(name string, b []byte) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write("empty.txt", nil)
	write("one.bin", []byte{'x'})
	write("k64.bin", reviewPattern(64<<10))
	write("m5.bin", reviewPattern(5<<20))
	if withBig {
		write("m40.bin", reviewPattern(40<<20))
	}
	write("page.html", []byte("<!doctype html><title>x</title>"))
	write("a b.txt", []byte("space\n"))
	write("100%.txt", []byte("percent\n"))
	write("é.txt", []byte("accent\n"))
	write("sub/index.html", []byte("<html>index</html>"))
	write("list/one.txt", []byte("1"))
	write("list/two.txt", []byte("2"))
	for _, d := range []string{"sub", "list", "."} {
		os.Chtimes(filepath.Join(dir, d), mtime, mtime)
	}
	return dir
}

// fsHandler serves dir with http.FileServer, and under /e/ with a strong ETag ("v1") as well. No
// ServeMux: it would clean the dot-dot paths before the file server sees them.
func fsHandler(dir string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	tagged := http.StripPrefix("/e", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		fs.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/e/") {
			tagged.ServeHTTP(w, r)
			return
		}
		fs.ServeHTTP(w, r)
	})
}

// normalize removes the Date lines of a raw exchange and replaces multipart boundaries, which are
// random, by a fixed string. It scans with package bytes rather than regexps, which are slow on
// megabytes under the race detector.
func normalize(raw []byte) string {
	var out []byte
	for s := raw; ; {
		i := bytes.Index(s, []byte("\r\nDate: "))
		if i < 0 {
			out = append(out, s...)
			break
		}
		out = append(out, s[:i]...)
		s = s[i+2:]
		s = s[bytes.Index(s, []byte("\r\n")):]
	}
	for s := out; ; {
		i := bytes.Index(s, []byte("boundary="))
		if i < 0 {
			break
		}
		s = s[i+len("boundary="):]
		j := bytes.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789abcdef", r) })
		if j <= 0 {
			continue
		}
		b := string(s[:j])
		out = bytes.ReplaceAll(out, []byte(b), []byte("BOUNDARY"))
		s = out // boundaries have changed in place: start over on the result
	}
	return string(out)
}

// shorten shows a long normalized exchange as its head, a digest and its length.
func shorten(s string) string {
	if len(s) <= 600 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes, sha256 %x)", s[:400], len(s), sha256.Sum256([]byte(s)))
}

// dialer opens a connection to a server under test: plain TCP or TLS.
type dialer func(t *testing.T) net.Conn

// tcpDialer dials addr over plain TCP.
func tcpDialer(addr string) dialer {
	return func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// exchangeAll sends raw on a new connection and returns everything received until the server
// closes it (the last request says Connection: close), failing after 20 s.
func exchangeAll(t *testing.T, d dialer, raw string) []byte {
	t.Helper()
	c := d(t)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%q: the connection was still open after 20 s, read %d bytes", raw, buf.Len())
	}
	return buf.Bytes()
}

// fileServeCases are the requests the review sends to both servers. Each ends with Connection:
// close, or is a pipelined sequence whose last request does.
func fileServeCases(withBig bool) []string {
	const lm = "Mon, 04 Mar 2024 05:06:07 GMT"
	req := func(method, target string, hdr ...string) string {
		s := method + " " + target + " HTTP/1.1\r\nHost: x\r\n"
		for _, h := range hdr {
			s += h + "\r\n"
		}
		return s
	}
	closing := func(method, target string, hdr ...string) string {
		return req(method, target, hdr...) + "Connection: close\r\n\r\n"
	}
	// The large files get every case with -http1.fsbig only; by default the 5 MiB file gets a few
	// (the race detector makes each megabyte slow).
	files := []string{"/empty.txt", "/one.bin", "/k64.bin"}
	var cs []string
	if withBig {
		files = append(files, "/m5.bin", "/m40.bin")
	} else {
		f := "/m5.bin"
		cs = append(cs,
			closing("GET", f),
			closing("HEAD", f),
			closing("GET", f, "Range: bytes=3000000-3099999"),
			closing("GET", f, "Range: bytes=-70000"),
			closing("GET", f, "Range: bytes=0-9,100000-199999,-3"),
			closing("GET", f, "Range: bytes=10-20000", "If-Range: "+lm),
			closing("GET", f, "If-Modified-Since: "+lm),
			req("GET", f, "Range: bytes=3-70000")+"\r\n"+req("HEAD", f)+"\r\n"+
				req("GET", f, "Range: bytes=0-1,5-6")+"\r\n"+closing("GET", "/page.html"),
		)
	}
	for _, f := range files {
		cs = append(cs,
			closing("GET", f),
			closing("HEAD", f),
			closing("GET", f, "Range: bytes=0-0"),
			closing("GET", f, "Range: bytes=1-"),
			closing("GET", f, "Range: bytes=-1"),
			closing("GET", f, "Range: bytes=-70000"),
			closing("GET", f, "Range: bytes=0-"),
			closing("GET", f, "Range: bytes=100-199"),
			closing("GET", f, "Range: bytes=20000-"),
			closing("GET", f, "Range: bytes=0-9,20-29"),
			closing("GET", f, "Range: bytes=0-9,100000-,-3"),
			closing("GET", f, "Range: bytes=0-50000,40000-60000"),
			closing("GET", f, "Range: bytes=99999999-"),
			closing("GET", f, "Range: bytes=-0"),
			closing("GET", f, "Range: bytes=5-2"),
			closing("GET", f, "Range: items=0-1"),
			closing("HEAD", f, "Range: bytes=10-20000"),
			closing("GET", f, "Range: bytes=10-20000", "If-Range: "+lm),
			closing("GET", f, "Range: bytes=10-20000", "If-Range: Tue, 05 Mar 2024 05:06:07 GMT"),
			closing("GET", f, "Range: bytes=10-20000", `If-Range: "etag"`),
			closing("GET", f, "If-Modified-Since: "+lm),
			closing("GET", f, "If-Modified-Since: Sun, 03 Mar 2024 05:06:07 GMT"),
			closing("HEAD", f, "If-Modified-Since: "+lm),
			closing("GET", f, "If-None-Match: *"),
			closing("GET", f, `If-None-Match: "x"`),
			closing("GET", f, "If-Unmodified-Since: Sun, 03 Mar 2024 05:06:07 GMT"),
			"GET "+f+" HTTP/1.0\r\n\r\n",
			"GET "+f+" HTTP/1.0\r\nConnection: keep-alive\r\nRange: bytes=2-\r\n\r\n"+closing("GET", "/one.bin"),
			// Keep-alive and pipelining after a file response.
			req("GET", f)+"\r\n"+req("GET", f, "Range: bytes=3-70000")+"\r\n"+req("HEAD", f)+"\r\n"+
				req("GET", f, "Range: bytes=0-1,5-6")+"\r\n"+closing("GET", "/page.html"),
		)
	}
	cs = append(cs,
		closing("GET", "/"),
		closing("HEAD", "/"),
		closing("GET", "/list"),
		closing("GET", "/list/"),
		closing("GET", "/list/?x=1"),
		closing("GET", "/sub"),
		closing("GET", "/sub/"),
		closing("HEAD", "/sub/"),
		closing("GET", "/sub/index.html"),
		closing("GET", "/sub/index.html?q"),
		closing("GET", "/sub/", "Range: bytes=0-3"),
		closing("GET", "/sub/", "If-Modified-Since: "+lm),
		closing("GET", "/page.html"),
		closing("GET", "/a%20b.txt"),
		closing("GET", "/100%25.txt"),
		closing("GET", "/%C3%A9.txt"),
		closing("GET", "/é.txt"),
		closing("GET", "/nope.txt"),
		closing("GET", "/../empty.txt"),
		closing("GET", "/sub/../one.bin"),
		closing("GET", "/%2e%2e/one.bin"),
		closing("GET", "/..%2fone.bin"),
		closing("GET", "/sub/..%2f..%2fone.bin"),
		closing("GET", "//one.bin"),
		closing("GET", "/one.bin/"),
		closing("GET", "/list/one.txt/"),
		closing("GET", "/sub/index.html/"),
		closing("POST", "/one.bin", "Content-Length: 3")+"abc",
		closing("OPTIONS", "*"),
		closing("GET", "http://x/one.bin"),
		closing("GET", "/one.bin%00"),
		closing("GET", "/list%2Fone.txt"),
		closing("GET", "/k64.bin", "Expect: 100-continue"),
		closing("GET", "/k64.bin", "Range: bytes=0-1,1-2"),
		closing("GET", "/k64.bin", "Range: bytes= 0-1"),
		closing("GET", "/k64.bin", "Range: bytes=0-"+strings.Repeat(",0-", 20)),
		closing("GET", "/k64.bin", "Range: bytes=0-1", "Range: bytes=2-3"),
		closing("GET", "/k64.bin", "Range: bytes=0-1", `If-Range: W/"x"`),
		closing("GET", "/e/k64.bin", `If-None-Match: "v1"`),
		closing("HEAD", "/e/k64.bin", `If-None-Match: W/"v1"`),
		closing("GET", "/e/k64.bin", `If-None-Match: "v0", "v1"`, "Range: bytes=0-1"),
		closing("GET", "/e/k64.bin", `If-None-Match: "v0"`, "If-Modified-Since: "+lm),
		closing("GET", "/e/k64.bin", "Range: bytes=100-200000", `If-Range: "v1"`),
		closing("GET", "/e/k64.bin", "Range: bytes=100-200000", `If-Range: "v0"`),
		closing("GET", "/e/k64.bin", "Range: bytes=100-200000", `If-Range: W/"v1"`),
		closing("GET", "/e/k64.bin", `If-Match: "v0"`),
		closing("GET", "/e/k64.bin", `If-Match: "v1"`, "Range: bytes=-70000"),
		closing("PUT", "/e/k64.bin", `If-Match: "v0"`, "Content-Length: 0"),
		req("POST", "/k64.bin", "Content-Length: 5")+"\r\nhello"+closing("GET", "/k64.bin", "Range: bytes=-20000"),
		req("POST", "/k64.bin", "Transfer-Encoding: chunked")+"\r\n5\r\nhello\r\n0\r\n\r\n"+closing("GET", "/one.bin"),
		req("HEAD", "/m5.bin")+"\r\n"+req("GET", "/m5.bin", "Range: bytes=5000000-")+"\r\n"+req("GET", "/sub")+"\r\n"+
			req("GET", "/list/")+"\r\n"+req("GET", "/empty.txt")+"\r\n"+closing("GET", "/m5.bin", "If-Modified-Since: "+lm),
	)
	return cs
}

// TestFSFileServerMatchesNetHTTP serves one directory with http.FileServer on net/http and on
// http1 over each engine, and compares the raw answers to requests for files of several sizes with
// ranges, conditionals, HEAD, directories, escaped names, dot-dot paths, pipelining and keep-alive.
func TestFSFileServerMatchesNetHTTP(t *testing.T) {
	dir := fsTree(t, *fsBig)
	h := fsHandler(dir)
	ref := tcpDialer(netHTTPRef(t, h, nil))
	cases := fileServeCases(*fsBig)
	want := make([]string, len(cases))
	for i, raw := range cases {
		want[i] = normalize(exchangeAll(t, ref, raw))
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ours := tcpDialer(start(t, engine, &http1.Server{Handler: h}))
		for i, raw := range cases {
			got := normalize(exchangeAll(t, ours, raw))
			if got != want[i] {
				t.Errorf("%q:\nhttp1 answered\n%s\nnet/http answered\n%s", raw, shorten(got), shorten(want[i]))
			}
		}
	})
}

// tlsDialer dials addr over TLS with cfg.
func tlsDialer(addr string, cfg *tls.Config) dialer {
	return func(t *testing.T) net.Conn {
		t.Helper()
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// TestFSFileServerOverTLSMatchesNetHTTP is the comparison over TLS, where http1 copies files
// rather than sending them with sendfile.
func TestFSFileServerOverTLSMatchesNetHTTP(t *testing.T) {
	dir := fsTree(t, *fsBig)
	h := fsHandler(dir)
	serverCfg, clientCfg := testtls.Configs()
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4) // resumed: full handshakes are slow under -race
	refSrv := httptest.NewUnstartedServer(h)
	refSrv.Config.ErrorLog = newLogger(io.Discard)
	refSrv.TLS = serverCfg.Clone()
	refSrv.TLS.NextProtos = []string{"http/1.1"}
	refSrv.StartTLS()
	t.Cleanup(refSrv.Close)
	ref := tlsDialer(refSrv.Listener.Addr().String(), clientCfg)
	cases := fileServeCases(*fsBig)
	if !*fsBig {
		// TLS under -race is slow per megabyte: of the 5 MiB file, the first case only (all of it).
		cases = append(cases[:1], slices.DeleteFunc(cases[1:], func(c string) bool { return strings.Contains(c, "/m5.bin") })...)
	}
	want := make([]string, len(cases))
	for i, raw := range cases {
		want[i] = normalize(exchangeAll(t, ref, raw))
	}
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ours := tlsDialer(startTLS(t, engine, &http1.Server{Handler: h}, certFile, keyFile), clientCfg)
		for i, raw := range cases {
			got := normalize(exchangeAll(t, ours, raw))
			if got != want[i] {
				t.Errorf("%q:\nhttp1 answered\n%s\nnet/http answered\n%s", raw, shorten(got), shorten(want[i]))
			}
		}
	})
}

// fsTarget is a server under test in the reviews of files changing or clients going away mid-send.
type fsTarget struct {
	name string
	dial func(t *testing.T, rcvbuf int) net.Conn
}

// dialSmall dials addr with a small receive buffer (0: the default), over TLS when cfg is not nil.
func dialSmall(addr string, cfg *tls.Config) func(t *testing.T, rcvbuf int) net.Conn {
	return func(t *testing.T, rcvbuf int) net.Conn {
		t.Helper()
		// The buffer is set before connecting: shrunk after, it can stall the connection
		// (the window already offered is larger than the buffer).
		d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			if rcvbuf <= 0 {
				return nil
			}
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if cfg == nil {
			return c
		}
		cfg = cfg.Clone()
		cfg.ServerName = "example.com"
		tc := tls.Client(c, cfg)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc
	}
}

// fsTargets starts h on net/http and on http1 over each engine, in plain TCP and TLS, and calls f
// for each as a subtest.
func fsTargets(t *testing.T, h http.Handler, f func(t *testing.T, tg fsTarget)) {
	serverCfg, clientCfg := testtls.Configs()
	certFile, keyFile := testtls.Files(t)
	for _, secure := range []bool{false, true} {
		suffix := ""
		if secure {
			suffix = "+tls"
		}
		t.Run("nethttp"+suffix, func(t *testing.T) {
			ref := httptest.NewUnstartedServer(h)
			ref.Config.ErrorLog = newLogger(io.Discard)
			var cfg *tls.Config
			if secure {
				ref.TLS = serverCfg.Clone()
				ref.StartTLS()
				cfg = clientCfg
			} else {
				ref.Start()
			}
			defer ref.Close()
			f(t, fsTarget{"nethttp" + suffix, dialSmall(ref.Listener.Addr().String(), cfg)})
		})
		forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
			t.Run(suffix, func(t *testing.T) {
				srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
				var addr string
				var cfg *tls.Config
				if secure {
					addr = startTLS(t, engine, srv, certFile, keyFile)
					cfg = clientCfg
				} else {
					addr = start(t, engine, srv)
				}
				f(t, fsTarget{string(engine) + suffix, dialSmall(addr, cfg)})
			})
		})
	}
}

// readHead reads a response head off br and returns its Content-Length, failing on anything but
// 200.
func readHead(t *testing.T, br *bufio.Reader) int64 {
	t.Helper()
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("status line %q", line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64)
	if err != nil {
		t.Fatalf("Content-Length %q", hdr.Get("Content-Length"))
	}
	return n
}

// reviewPattern returns n bytes of a fixed pattern, byte(i*131 + i>>12), which repeats every
// 1 MiB: the first MiB is computed, the rest copied from it (a byte at a time, under -race, 16 MiB
// took a second).
func reviewPattern(n int) []byte {
	const period = 1 << 20
	b := make([]byte, n)
	for i := range min(n, period) {
		b[i] = byte(i*131 + i>>12)
	}
	for i := period; i < n; {
		i += copy(b[i:], b[:i])
	}
	return b
}

// TestFSFileChangedWhileServed: a file that is truncated, or grows, while http.FileServer
// sends it. The server must not hang, must not send more than the Content-Length it announced, and
// must close the connection if it sent fewer; with a file that grew, the announced length goes out
// and the connection stays usable. As net/http does.
func TestFSFileChangedWhileServed(t *testing.T) {
	const size = 8 << 20
	blob := reviewPattern(size)
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	h := http.FileServer(http.Dir(dir))
	fsTargets(t, h, func(t *testing.T, tg fsTarget) {
		for _, shrink := range []bool{true, false} {
			if err := os.WriteFile(path, blob, 0o644); err != nil {
				t.Fatal(err)
			}
			c := tg.dial(t, 16<<10)
			c.SetDeadline(time.Now().Add(15 * time.Second))
			io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReaderSize(c, 4096)
			cl := readHead(t, br)
			if cl != size {
				t.Fatalf("Content-Length %d, want %d", cl, size)
			}
			got := make([]byte, 0, size)
			buf := make([]byte, 16<<10)
			for len(got) < 64<<10 {
				n, err := br.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					t.Fatal(err)
				}
			}
			if shrink {
				if err := os.Truncate(path, 256<<10); err != nil {
					t.Fatal(err)
				}
			} else {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(blob[:1<<20])
				f.Close()
			}
			// Read up to one byte past the announced length, or until the connection ends.
			var rerr error
			for int64(len(got)) <= cl {
				if int64(len(got)) == cl {
					// All announced bytes arrived: nothing more may follow before a next request.
					c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				}
				n, err := br.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					rerr = err
					break
				}
			}
			if ne, ok := rerr.(net.Error); ok && ne.Timeout() && int64(len(got)) < cl {
				t.Fatalf("shrink=%v: %d of %d bytes, then the connection stayed open (hang)", shrink, len(got), cl)
			}
			if int64(len(got)) > cl {
				t.Fatalf("shrink=%v: %d bytes after a Content-Length of %d", shrink, len(got), cl)
			}
			// Only what the file keeps is compared: a truncation may change the bytes of pages
			// that a zero-copy send left in the socket's buffers, whatever the server.
			if k := min(len(got), 256<<10); !bytes.Equal(got[:k], blob[:k]) {
				t.Fatalf("shrink=%v: the first %d bytes received are not the file's", shrink, k)
			}
			if !shrink && int64(len(got)) != cl {
				t.Fatalf("grown: %d of %d bytes, %v", len(got), cl, rerr)
			}
			if int64(len(got)) == cl {
				// The response was whole: the connection serves another request.
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("shrink=%v: after a whole response, the next request: %v", shrink, err)
				}
				b, err := io.ReadAll(resp.Body)
				if resp.StatusCode != 206 || !bytes.Equal(b, blob[:10]) || err != nil {
					t.Fatalf("shrink=%v: next request: %s %q %v", shrink, resp.Status, b, err)
				}
			}
			t.Logf("shrink=%v: %d of %d bytes, %v", shrink, len(got), cl, rerr)
			c.Close()
		}
	})
}

// TestFSSlowAndGoneClients: a client with a small receive buffer that reads in small pieces
// with pauses gets the whole file and keeps its connection; clients that go away mid-file (closing,
// or resetting; a whole file or a multipart range) end their handlers and leave no descriptor open.
func TestFSSlowAndGoneClients(t *testing.T) {
	const size = 5 << 20
	blob := reviewPattern(size)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{}, 16)
	fs := http.FileServer(http.Dir(dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { returned <- struct{}{} }()
		fs.ServeHTTP(w, r)
	})
	fsTargets(t, h, func(t *testing.T, tg fsTarget) {
		// The slow reader.
		c := tg.dial(t, 8<<10)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReaderSize(c, 2048)
		if cl := readHead(t, br); cl != size {
			t.Fatalf("Content-Length %d", cl)
		}
		got := make([]byte, 0, size)
		buf := make([]byte, 3000)
		for i := 0; len(got) < size; i++ {
			n, err := br.Read(buf[:min(len(buf), size-len(got))])
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("slow reader: %d of %d bytes: %v", len(got), size, err)
			}
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		<-returned
		if !bytes.Equal(got, blob) {
			t.Fatal("slow reader: the body is not the file")
		}
		io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-5\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("slow reader: the next request: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		<-returned
		if resp.StatusCode != 206 || !bytes.Equal(b, blob[size-5:]) {
			t.Fatalf("slow reader: next request: %s %q", resp.Status, b)
		}
		c.Close()

		// Clients that go away.
		before := countFDs(t)
		const clients = 6
		for i := range clients {
			c := tg.dial(t, 16<<10)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			rng := ""
			if i >= 4 {
				rng = "Range: bytes=0-2000000,3000000-\r\n" // multipart, copied through a pipe
			}
			io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n"+rng+"\r\n")
			if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
				t.Fatal(err)
			}
			raw := c
			if tc, ok := c.(*tls.Conn); ok {
				raw = tc.NetConn()
			}
			if i%2 == 1 {
				raw.(*net.TCPConn).SetLinger(0)
			}
			raw.Close()
		}
		for range clients {
			select {
			case <-returned:
			case <-time.After(10 * time.Second):
				t.Fatal("a handler did not return within 10 s of its client's departure")
			}
		}
		if after := fdsSettled(t, before); after > before {
			t.Errorf("%d descriptors open before, %d after %d clients went away mid-file", before, after, clients)
		}
	})
}

// TestFSWriteTimeoutEndsAStalledFile: a client that stops reading a file has its connection
// closed once the server's WriteTimeout passes, its handler returns, and no descriptor is left.
func TestFSWriteTimeoutEndsAStalledFile(t *testing.T) {
	const size = 16 << 20
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), reviewPattern(size), 0o644); err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{}, 4)
	fs := http.FileServer(http.Dir(dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { returned <- struct{}{} }()
		fs.ServeHTTP(w, r)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, secure := range []bool{false, true} {
			srv := &http1.Server{Handler: h, WriteTimeout: 300 * time.Millisecond, ErrorLog: newLogger(io.Discard)}
			_, clientCfg := testtls.Configs()
			var d func(*testing.T, int) net.Conn
			if secure {
				certFile, keyFile := testtls.Files(t)
				d = dialSmall(startTLS(t, engine, srv, certFile, keyFile), clientCfg)
			} else {
				d = dialSmall(start(t, engine, srv), nil)
			}
			exchangeAll(t, func(t *testing.T) net.Conn { return d(t, 0) }, "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\nConnection: close\r\n\r\n")
			<-returned
			before := countFDs(t)
			c := d(t, 16<<10)
			io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			// The client reads nothing: the server's sending stalls until WriteTimeout.
			select {
			case <-returned:
			case <-time.After(10 * time.Second):
				t.Fatalf("tls=%v: the handler did not return within 10 s of the WriteTimeout", secure)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("tls=%v: the connection stayed open after %d bytes", secure, n)
			}
			if n >= size {
				t.Fatalf("tls=%v: %d bytes arrived", secure, n)
			}
			c.Close()
			if after := fdsSettled(t, before); after > before {
				t.Errorf("tls=%v: %d descriptors open before, %d after", secure, before, after)
			}
		}
	})
}

// truncOnSeek truncates its file to size at the first seek to an offset from the start: in
// http.ServeContent, between the look at the file's size and the copy of the range.
type truncOnSeek struct {
	*os.File
	size int64
	done bool
}

// Seek truncates the file at the first seek from the start, then seeks.
func (f *truncOnSeek) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekStart && !f.done {
		f.done = true
		f.Truncate(f.size)
	}
	return f.File.Seek(off, whence)
}

// TestFSFileTruncatedBeforeTheCopy: a file that shrinks after http.ServeContent has announced
// its length and before the copy starts gets the same answer as from net/http: the bytes the file
// still has, and the connection closed (which http1 announces when it can, a documented difference).
func TestFSFileTruncatedBeforeTheCopy(t *testing.T) {
	const size = 1 << 20
	blob := reviewPattern(size)
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to, _ := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "f.bin", time.Time{}, &truncOnSeek{File: f, size: to})
	})
	ref := tcpDialer(netHTTPRef(t, h, nil))
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ours := tcpDialer(start(t, engine, &http1.Server{Handler: h}))
		for _, to := range []int{0, 100, 1000, 20000, 300000} {
			for _, rng := range []string{"bytes=0-", "bytes=10-", "bytes=0-599999"} {
				raw := fmt.Sprintf("GET /?to=%d HTTP/1.1\r\nHost: x\r\nRange: %s\r\n\r\n", to, rng)
				var answers [2]string
				for i, d := range []dialer{ref, ours} {
					if err := os.WriteFile(path, blob, 0o644); err != nil {
						t.Fatal(err)
					}
					// Both must close the connection (exchangeAll waits for it); http1 says so in
					// a head that goes out when the handler returns (doc.go), net/http does not.
					answers[i] = strings.Replace(normalize(exchangeAll(t, d, raw)), "Connection: close\r\n", "", 1)
				}
				if answers[0] != answers[1] {
					t.Errorf("%q:\nhttp1 answered\n%s\nnet/http answered\n%s", raw, shorten(answers[1]), shorten(answers[0]))
				}
			}
		}
	})
}

// TestFSLargeListingMatchesNetHTTP: a directory listing too long to be buffered goes out
// chunked, in chunks of other sizes than net/http's (its buffers differ), with the same head and
// the same decoded body.
func TestFSLargeListingMatchesNetHTTP(t *testing.T) {
	dir := t.TempDir()
	for i := range 300 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%04d-<&>.txt", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := http.FileServer(http.Dir(dir))
	raw := "GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	want := exchange(t, netHTTPRef(t, h, nil), raw, "GET", "HEAD", "GET")
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := exchange(t, start(t, engine, &http1.Server{Handler: h}), raw, "GET", "HEAD", "GET")
		for i := range got {
			got[i].header.Del("Date")
			want[i].header.Del("Date")
			if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
				t.Errorf("response %d: http1 %+v\nnet/http %+v", i, *got[i], *want[i])
			}
		}
	})
}

// TestFSTimeoutsSpareALongDownload: ReadHeaderTimeout, ReadTimeout and IdleTimeout bound the
// reading of requests and the wait between them, not the sending of a response: a file that a slow
// client takes longer than all of them to read arrives whole, as with net/http. With
// ReadHeaderTimeout alone the connection then serves another request (with ReadTimeout, both servers
// close it, as it has passed; IdleTimeout may have passed too, once the last bytes were queued).
func TestFSTimeoutsSpareALongDownload(t *testing.T) {
	const size = 8 << 20
	blob := reviewPattern(size)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	h := http.FileServer(http.Dir(dir))
	const timeout = 200 * time.Millisecond
	check := func(t *testing.T, d func(*testing.T, int) net.Conn, reuse bool) {
		c := d(t, 16<<10)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReaderSize(c, 4096)
		if cl := readHead(t, br); cl != size {
			t.Fatalf("Content-Length %d", cl)
		}
		got := make([]byte, 0, size)
		buf := make([]byte, 64<<10)
		start := time.Now()
		for pauses := 0; len(got) < size; {
			n, err := br.Read(buf[:min(len(buf), size-len(got))])
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("%d of %d bytes after %v: %v", len(got), size, time.Since(start), err)
			}
			if len(got) < 2<<20 && len(got)>>16 >= pauses {
				// A pause every 64 KiB of the first 2 MiB: 320 ms, longer than every timeout
				// together, while the server still has more to send than the socket buffers hold.
				pauses++
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !bytes.Equal(got, blob) {
			t.Fatal("the body is not the file")
		}
		if !reuse {
			return
		}
		io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the next request: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 206 || !bytes.Equal(b, blob[:5]) {
			t.Fatalf("next request: %s %q", resp.Status, b)
		}
	}
	for _, all := range []bool{false, true} {
		rt := time.Duration(0)
		if all {
			rt = timeout
		}
		t.Run(fmt.Sprintf("all=%v", all), func(t *testing.T) {
			t.Run("nethttp", func(t *testing.T) {
				check(t, dialSmall(netHTTPRef(t, h, func(s *http.Server) {
					s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout = timeout, rt, rt
				}), nil), !all)
			})
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				srv := &http1.Server{Handler: h, ReadHeaderTimeout: timeout, ReadTimeout: rt, IdleTimeout: rt}
				check(t, dialSmall(start(t, engine, srv), nil), !all)
			})
		})
	}
}

// TestFSShutdownDuringADownload: Shutdown lets a file response in progress finish, and the
// connection then closes; a Shutdown whose context ends first returns its error, and Close then ends
// the download, its handler and its descriptors.
func TestFSShutdownDuringADownload(t *testing.T) {
	const size = 8 << 20
	blob := reviewPattern(size)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{}, 4)
	fs := http.FileServer(http.Dir(dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { returned <- struct{}{} }()
		fs.ServeHTTP(w, r)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, patient := range []bool{true, false} {
			srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
			d := dialSmall(startBare(t, engine, srv), nil)
			before := countFDs(t)
			c := d(t, 16<<10)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReaderSize(c, 4096)
			readHead(t, br)
			wait := 10 * time.Second
			if !patient {
				wait = 100 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			done := make(chan error, 1)
			go func() { done <- srv.Shutdown(ctx) }()
			time.Sleep(50 * time.Millisecond) // Shutdown has begun
			if patient {
				b, err := io.ReadAll(br)
				if err != nil || !bytes.Equal(b, blob) {
					t.Fatalf("during Shutdown: %d of %d bytes, %v (want the file, then the connection closed)", len(b), size, err)
				}
				if err := <-done; err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			} else {
				if err := <-done; err != context.DeadlineExceeded {
					t.Fatalf("Shutdown with a stalled download: %v, want its context's error", err)
				}
				srv.Close()
				n, err := io.Copy(io.Discard, br)
				if ne, ok := err.(net.Error); ok && ne.Timeout() || n >= size {
					t.Fatalf("after Close: %d more bytes, %v", n, err)
				}
			}
			cancel()
			select {
			case <-returned:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not return")
			}
			c.Close()
			if after := fdsSettled(t, before); after > before {
				t.Errorf("patient=%v: %d descriptors before, %d after", patient, before, after)
			}
		}
	})
}

// reviewPattern (copied past its first period) gives byte(i*131 + i>>12) at every offset.
func TestReviewPatternIsThePattern(t *testing.T) {
	for _, n := range []int{0, 5, 1<<20 - 1, 1 << 20, 3<<20 + 777} {
		b := reviewPattern(n)
		if len(b) != n {
			t.Fatalf("reviewPattern(%d): %d bytes", n, len(b))
		}
		for i := range b {
			if b[i] != byte(i*131+i>>12) {
				t.Fatalf("reviewPattern(%d): byte %d is %d, want %d", n, i, b[i], byte(i*131+i>>12))
			}
		}
	}
}

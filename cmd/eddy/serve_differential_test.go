package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Differential test (session 31): eddy serve against net/http's http.FileServer(http.Dir(root)) on the
// same tree, request by request, each on a keep-alive connection that the next request reuses (so a
// response with a byte too many or too few shows as a broken next response). Status, the headers that
// matter, the body and whether the connection stays open are compared; then the table is sent again
// pipelined, on every engine. The differences that serve documents are listed in servedDiffs; any
// other is an error.

// diffTree writes the tree under a parent that also holds files outside the root, and returns the root
// and the parent.
func diffTree(t *testing.T) (root, parent string) {
	t.Helper()
	parent = t.TempDir()
	root = filepath.Join(parent, "root")
	rnd := rand.NewChaCha8([32]byte{95})
	blob := func(n int) []byte { b := make([]byte, n); rnd.Read(b); return b }
	files := map[string][]byte{
		"empty.txt":             nil,
		"one.txt":               []byte("x"),
		"mid.bin":               blob(1 << 20),
		"big.bin":               blob(20 << 20),
		"page.html":             []byte("<p>page</p>"),
		"style.css":             []byte("body{}"),
		"data.json":             []byte(`{"a":1}`),
		"noext":                 []byte("<!DOCTYPE html><html><body>sniffed</body></html>"),
		"png":                   append([]byte("\x89PNG\r\n\x1a\n"), blob(100)...),
		"with space.txt":        []byte("spaced"),
		"ünï cödé.txt":          []byte("utf-8 name"),
		"pct%41.txt":            []byte("a literal percent"),
		"back\\slash.txt":       []byte("backslash in the name"),
		".hidden":               []byte("dotfile"),
		"sub/index.html":        []byte("<p>index</p>"),
		"sub/inner.txt":         []byte("inner"),
		"list/a.txt":            []byte("a"),
		"list/b.txt":            []byte("b"),
		"list/c d.txt":          []byte("c d"),
		"list/<x>&\"q'.txt":     []byte("markup in the name"),
		"noperm/locked.txt":     []byte("locked"),
		"../secret.txt":         []byte("SECRET outside the root"),
		"../outdir/outfile.txt": []byte("OUTSIDE dir file"),
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"link_in":      "one.txt",
		"link_out":     "../secret.txt",
		"link_dir_out": "../outdir",
		"link_dangle":  "nowhere",
		"link_sub":     "sub",
		// Files whose size says other than what reading them gives (dangling where the system has
		// none): procfs says 0 and cannot seek to its end, sysfs says 4096 and has a line.
		"link_proc":    "/proc/version",
		"link_sys":     "/sys/kernel/mm/transparent_hugepage/enabled",
		"link_devnull": "/dev/null",
		"link_loop":    "link_loop",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	// A file nobody may read, and a directory nobody may enter: as root, the permission check does not
	// apply and both are served; as another user both fail alike on the two servers.
	os.Chmod(filepath.Join(root, "noperm", "locked.txt"), 0)
	os.Chmod(filepath.Join(root, "noperm"), 0)
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "noperm"), 0o755) })
	// A sparse file of 5 GiB with marked regions past 2 GiB and across 4 GiB: ranges at offsets
	// that do not fit 32 bits (the engines' sendfile and splice take 64-bit offsets).
	f, err := os.Create(filepath.Join(root, "sparse.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5 << 30); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{3<<30 - 100000, 4<<30 - 50000} {
		if _, err := f.WriteAt(blob(100000), off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	// A fixed modification time, so that the conditional requests name it.
	mt := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, name := range []string{"one.txt", "mid.bin", "empty.txt", "big.bin", "sparse.bin"} {
		os.Chtimes(filepath.Join(root, name), mt, mt)
	}
	return root, parent
}

// diffReq is one request of the table: its method, target, extra header lines and body.
type diffReq struct {
	name   string
	method string
	target string
	header string // "Name: value\r\n" lines
	body   string
	proto  string // "HTTP/1.1" if empty
}

func (r diffReq) raw() string {
	proto := r.proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	s := r.method + " " + r.target + " " + proto + "\r\nHost: x\r\n" + r.header
	if r.body != "" && !strings.Contains(r.header, "chunked") {
		s += fmt.Sprintf("Content-Length: %d\r\n", len(r.body))
	}
	return s + "\r\n" + r.body
}

const diffMtime = "Mon, 06 May 2024 07:08:09 GMT"

var diffTable = []diffReq{
	// Files of every size, GET and HEAD.
	{name: "GET empty", method: "GET", target: "/empty.txt"},
	{name: "HEAD empty", method: "HEAD", target: "/empty.txt"},
	{name: "GET 1 byte", method: "GET", target: "/one.txt"},
	{name: "HEAD 1 byte", method: "HEAD", target: "/one.txt"},
	{name: "GET 1 MiB", method: "GET", target: "/mid.bin"},
	{name: "HEAD 1 MiB", method: "HEAD", target: "/mid.bin"},
	{name: "GET 20 MiB", method: "GET", target: "/big.bin"},
	{name: "HEAD 20 MiB", method: "HEAD", target: "/big.bin"},
	// Directories, index.html.
	{name: "GET root", method: "GET", target: "/"},
	{name: "HEAD root", method: "HEAD", target: "/"},
	{name: "GET dir no slash", method: "GET", target: "/list"},
	{name: "GET dir no slash query", method: "GET", target: "/list?q=1"},
	{name: "GET dir listing", method: "GET", target: "/list/"},
	{name: "GET dir with index", method: "GET", target: "/sub/"},
	{name: "GET dir with index no slash", method: "GET", target: "/sub"},
	{name: "GET index.html by name", method: "GET", target: "/sub/index.html"},
	{name: "GET file with slash", method: "GET", target: "/one.txt/"},
	// Missing.
	{name: "GET missing", method: "GET", target: "/missing.txt"},
	{name: "HEAD missing", method: "HEAD", target: "/missing.txt"},
	{name: "GET missing in missing dir", method: "GET", target: "/nodir/missing.txt"},
	{name: "GET under a file", method: "GET", target: "/one.txt/x"},
	// Traversal.
	{name: "dotdot", method: "GET", target: "/../secret.txt"},
	{name: "dotdot encoded", method: "GET", target: "/%2e%2e/secret.txt"},
	{name: "dotdot slash encoded", method: "GET", target: "/%2E%2E%2Fsecret.txt"},
	{name: "dotdot in sub", method: "GET", target: "/sub/../../secret.txt"},
	{name: "dotdot relative target", method: "GET", target: "../secret.txt"},
	{name: "dotdot absolute form", method: "GET", target: "http://x/../secret.txt"},
	{name: "absolute form", method: "GET", target: "http://x/one.txt"},
	{name: "backslash dotdot", method: "GET", target: "/..\\secret.txt"},
	{name: "backslash encoded", method: "GET", target: "/%2e%2e%5csecret.txt"},
	{name: "backslash name", method: "GET", target: "/back%5Cslash.txt"},
	{name: "NUL", method: "GET", target: "/one.txt%00"},
	{name: "NUL dotdot", method: "GET", target: "/%00/../secret.txt"},
	{name: "double slash", method: "GET", target: "//one.txt"},
	{name: "double slash dir", method: "GET", target: "//sub"},
	{name: "double slash inside", method: "GET", target: "/sub//inner.txt"},
	{name: "dot segment", method: "GET", target: "/./one.txt"},
	{name: "encoded slash", method: "GET", target: "/sub%2finner.txt"},
	// Symbolic links (followed, even out of the root: documented).
	{name: "link inside", method: "GET", target: "/link_in"},
	{name: "link outside", method: "GET", target: "/link_out"},
	{name: "link dir outside", method: "GET", target: "/link_dir_out/outfile.txt"},
	{name: "link dir outside listing", method: "GET", target: "/link_dir_out/"},
	{name: "link dangling", method: "GET", target: "/link_dangle"},
	{name: "link to dir", method: "GET", target: "/link_sub/"},
	{name: "link loop", method: "GET", target: "/link_loop"},
	{name: "link procfs", method: "GET", target: "/link_proc"},
	{name: "after procfs", method: "GET", target: "/one.txt"},
	{name: "link sysfs", method: "GET", target: "/link_sys"},
	{name: "after sysfs", method: "GET", target: "/one.txt"},
	{name: "link /dev/null", method: "GET", target: "/link_devnull"},
	// Permissions.
	{name: "dir mode 000", method: "GET", target: "/noperm/"},
	{name: "file mode 000", method: "GET", target: "/noperm/locked.txt"},
	// Dotfiles.
	{name: "dotfile", method: "GET", target: "/.hidden"},
	// Ranges.
	{name: "range single", method: "GET", target: "/mid.bin", header: "Range: bytes=100-199\r\n"},
	{name: "range first byte", method: "GET", target: "/mid.bin", header: "Range: bytes=0-0\r\n"},
	{name: "range suffix", method: "GET", target: "/mid.bin", header: "Range: bytes=-70000\r\n"},
	{name: "range suffix too long", method: "GET", target: "/mid.bin", header: "Range: bytes=-9999999\r\n"},
	{name: "range open-ended", method: "GET", target: "/mid.bin", header: "Range: bytes=1000000-\r\n"},
	{name: "range open-ended big", method: "GET", target: "/big.bin", header: "Range: bytes=10000000-\r\n"},
	{name: "range past end clipped", method: "GET", target: "/mid.bin", header: "Range: bytes=1048000-2000000\r\n"},
	{name: "range multiple", method: "GET", target: "/mid.bin", header: "Range: bytes=0-9,100000-199999,-5\r\n"},
	{name: "range overlapping", method: "GET", target: "/mid.bin", header: "Range: bytes=0-99,50-149\r\n"},
	{name: "range overlapping over size", method: "GET", target: "/one.txt", header: "Range: bytes=0-,0-\r\n"},
	{name: "range unsatisfiable", method: "GET", target: "/mid.bin", header: "Range: bytes=2000000-\r\n"},
	{name: "range unsatisfiable HEAD", method: "HEAD", target: "/mid.bin", header: "Range: bytes=2000000-\r\n"},
	{name: "range inverted", method: "GET", target: "/mid.bin", header: "Range: bytes=200-100\r\n"},
	{name: "range suffix zero", method: "GET", target: "/mid.bin", header: "Range: bytes=-0\r\n"},
	{name: "range garbage", method: "GET", target: "/mid.bin", header: "Range: bytes=a-b\r\n"},
	{name: "range other unit", method: "GET", target: "/mid.bin", header: "Range: items=0-1\r\n"},
	{name: "range on empty", method: "GET", target: "/empty.txt", header: "Range: bytes=0-0\r\n"},
	{name: "range suffix on empty", method: "GET", target: "/empty.txt", header: "Range: bytes=-1\r\n"},
	{name: "range on 1 byte multi", method: "GET", target: "/one.txt", header: "Range: bytes=0-0,-1\r\n"},
	{name: "range HEAD", method: "HEAD", target: "/big.bin", header: "Range: bytes=5-1000004\r\n"},
	{name: "range past 2 GiB", method: "GET", target: "/sparse.bin", header: "Range: bytes=3221125472-3221225471\r\n"},
	{name: "range across 4 GiB", method: "GET", target: "/sparse.bin", header: "Range: bytes=4294917296-4295017295\r\n"},
	{name: "range multi past 4 GiB", method: "GET", target: "/sparse.bin", header: "Range: bytes=4294917296-4294937295,4294967290-4294987295\r\n"},
	{name: "range suffix 5 GiB", method: "GET", target: "/sparse.bin", header: "Range: bytes=-20000\r\n"},
	{name: "HEAD 5 GiB", method: "HEAD", target: "/sparse.bin"},
	{name: "range on dir", method: "GET", target: "/list/", header: "Range: bytes=0-9\r\n"},
	// Conditional requests.
	{name: "IMS equal", method: "GET", target: "/mid.bin", header: "If-Modified-Since: " + diffMtime + "\r\n"},
	{name: "IMS older", method: "GET", target: "/one.txt", header: "If-Modified-Since: Mon, 06 May 2024 07:08:08 GMT\r\n"},
	{name: "IMS garbage", method: "GET", target: "/one.txt", header: "If-Modified-Since: yesterday\r\n"},
	{name: "IMS HEAD", method: "HEAD", target: "/big.bin", header: "If-Modified-Since: " + diffMtime + "\r\n"},
	{name: "IUS older", method: "GET", target: "/one.txt", header: "If-Unmodified-Since: Mon, 06 May 2024 07:08:08 GMT\r\n"},
	{name: "INM star", method: "GET", target: "/one.txt", header: "If-None-Match: *\r\n"},
	{name: "INM etag", method: "GET", target: "/one.txt", header: "If-None-Match: \"abc\"\r\n"},
	{name: "IM etag", method: "GET", target: "/one.txt", header: "If-Match: \"abc\"\r\n"},
	{name: "IM star", method: "GET", target: "/one.txt", header: "If-Match: *\r\n"},
	{name: "If-Range date match", method: "GET", target: "/mid.bin", header: "Range: bytes=10-19\r\nIf-Range: " + diffMtime + "\r\n"},
	{name: "If-Range date old", method: "GET", target: "/mid.bin", header: "Range: bytes=10-19\r\nIf-Range: Mon, 06 May 2024 07:08:08 GMT\r\n"},
	{name: "If-Range etag", method: "GET", target: "/mid.bin", header: "Range: bytes=10-19\r\nIf-Range: \"abc\"\r\n"},
	// Content types.
	{name: "type html", method: "GET", target: "/page.html"},
	{name: "type css", method: "GET", target: "/style.css"},
	{name: "type json", method: "GET", target: "/data.json"},
	{name: "type sniffed html", method: "GET", target: "/noext"},
	{name: "type sniffed png", method: "GET", target: "/png"},
	{name: "type sniffed binary", method: "GET", target: "/mid.bin", header: "Range: bytes=0-511\r\n"},
	// Methods.
	{name: "POST", method: "POST", target: "/one.txt", body: "hello"},
	{name: "PUT", method: "PUT", target: "/one.txt", body: "put body"},
	{name: "DELETE", method: "DELETE", target: "/one.txt"},
	{name: "OPTIONS file", method: "OPTIONS", target: "/one.txt"},
	{name: "OPTIONS star", method: "OPTIONS", target: "*"},
	{name: "POST big file", method: "POST", target: "/mid.bin", body: strings.Repeat("b", 70000)},
	{name: "POST chunked", method: "POST", target: "/mid.bin", header: "Transfer-Encoding: chunked\r\n", body: "5\r\nhello\r\n0\r\n\r\n"},
	{name: "POST expect 100-continue", method: "POST", target: "/one.txt", header: "Expect: 100-continue\r\n", body: "early"},
	{name: "after expect", method: "GET", target: "/one.txt"},
	{name: "target too long", method: "GET", target: "/" + strings.Repeat("a", 9000)},
	// Queries and names.
	{name: "query", method: "GET", target: "/one.txt?a=b&c"},
	{name: "query with dotdot", method: "GET", target: "/one.txt?../secret.txt"},
	{name: "fragment-ish", method: "GET", target: "/one.txt%23frag"},
	{name: "space encoded", method: "GET", target: "/with%20space.txt"},
	{name: "space plus", method: "GET", target: "/with+space.txt"},
	{name: "utf-8 encoded", method: "GET", target: "/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9.txt"},
	{name: "percent literal", method: "GET", target: "/pct%2541.txt"},
	{name: "percent decoded name", method: "GET", target: "/pct%41.txt"},
	{name: "bad escape", method: "GET", target: "/one%zz.txt"},
	{name: "listing with space", method: "GET", target: "/list/c%20d.txt"},
	// HTTP/1.0 (closes after, unless keep-alive is asked for).
	{name: "HTTP/1.0 keep-alive", method: "GET", target: "/mid.bin", header: "Connection: keep-alive\r\n", proto: "HTTP/1.0"},
	{name: "HTTP/1.0", method: "GET", target: "/one.txt", proto: "HTTP/1.0"},
	{name: "after HTTP/1.0", method: "GET", target: "/one.txt"},
	{name: "Connection close", method: "GET", target: "/mid.bin", header: "Connection: close\r\n"},
	{name: "after close", method: "GET", target: "/mid.bin", header: "Range: bytes=-1\r\n"},
}

// servedDiffs are the differences serve documents: request name to the field that differs and why.
var servedDiffs = map[string]map[string]string{
	"dotdot relative target": {"body": badRequestWhy},
	"bad escape":             {"body": badRequestWhy},
	// http1's doc: a request line longer than DefaultMaxRequestLineBytes (8 KiB) is answered with 414,
	// and the connection closed; net/http reads it, and http.Dir's open fails (ENAMETOOLONG: 500).
	"target too long": {"status": longWhy, "Content-Length": longWhy, "X-Content-Type-Options": longWhy, "body": longWhy, "connection closed": longWhy},
}

const longWhy = "http1 refuses a request line over 8 KiB with 414"

// badRequestWhy: http1's doc, "Errors and limits": a refused request is answered with a plain text body
// naming the reason ("400 Bad Request: invalid request-target"), net/http's says "400 Bad Request".
const badRequestWhy = "http1 names the reason in a refused request's body"

// diffResult is one response, normalised for comparison.
type diffResult struct {
	status  int
	header  map[string]string
	body    []byte
	closed  bool   // the server closed the connection after it (said so, or EOF)
	bodyErr string // reading the body failed
}

// diffHeaders are the headers compared.
var diffHeaders = []string{"Content-Length", "Content-Range", "Content-Type", "Last-Modified", "Location",
	"Accept-Ranges", "Etag", "Transfer-Encoding", "Content-Encoding", "X-Content-Type-Options", "Allow",
	"Cache-Control", "Vary", "Connection"}

// diffConn sends requests on one keep-alive connection, reconnecting after a close.
type diffConn struct {
	t    *testing.T
	addr string
	c    net.Conn
	br   *bufio.Reader
	last string // the request before, whose response may have broken the connection
}

func (d *diffConn) do(r diffReq) diffResult {
	t := d.t
	t.Helper()
	if d.c == nil {
		c, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		d.c, d.br = c, bufio.NewReader(c)
	}
	d.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(d.c, r.raw()); err != nil {
		t.Fatalf("%s: write on %s: %v (the connection kept after %q broke)", r.name, d.addr, err, d.last)
	}
	return d.read(r)
}

// pipeline sends reqs at once on a new connection, and reads their responses; the connection may
// close after the last one only.
func (d *diffConn) pipeline(reqs []diffReq) []diffResult {
	t := d.t
	t.Helper()
	c, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	d.c, d.br, d.last = c, bufio.NewReader(c), ""
	written := make(chan error, 1)
	go func() {
		var all strings.Builder
		for _, r := range reqs {
			all.WriteString(r.raw())
		}
		_, err := io.WriteString(c, all.String())
		written <- err
	}()
	var out []diffResult
	for i, r := range reqs {
		if d.c == nil {
			t.Fatalf("%s: the pipelined connection closed after %q", r.name, reqs[i-1].name)
		}
		out = append(out, d.read(r))
	}
	if err := <-written; err != nil {
		t.Fatalf("writing the pipelined requests: %v", err)
	}
	d.c = nil
	return out
}

// read reads the response to r.
func (d *diffConn) read(r diffReq) diffResult {
	t := d.t
	t.Helper()
	last := d.last
	d.last = r.name
	resp, err := http.ReadResponse(d.br, &http.Request{Method: r.method})
	if err != nil {
		t.Fatalf("%s: reading the response on %s: %v (the connection kept after %q broke or lost sync)", r.name, d.addr, err, last)
	}
	res := diffResult{status: resp.StatusCode, header: map[string]string{}}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		res.bodyErr = err.Error()
	}
	for _, h := range diffHeaders {
		if v, ok := resp.Header[h]; ok {
			res.header[h] = strings.Join(v, ", ")
		}
	}
	if len(resp.TransferEncoding) > 0 {
		res.header["Transfer-Encoding"] = strings.Join(resp.TransferEncoding, ", ")
	}
	// Multipart boundaries are random: name them alike.
	if mt, params, err := mime.ParseMediaType(res.header["Content-Type"]); err == nil && mt == "multipart/byteranges" {
		body = bytes.ReplaceAll(body, []byte(params["boundary"]), []byte("BOUNDARY"))
		res.header["Content-Type"] = strings.ReplaceAll(res.header["Content-Type"], params["boundary"], "BOUNDARY")
	}
	res.body = body
	res.closed = resp.Close || err != nil
	if res.closed {
		d.c.Close()
		d.c = nil
		d.last = ""
	}
	return res
}

// idle checks that the connection, if open, has nothing more to read: no stray bytes after the last
// response, and no close.
func (d *diffConn) idle() {
	if d.c == nil {
		return
	}
	d.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if b, err := d.br.Peek(1); err == nil {
		d.t.Errorf("%s: stray bytes %q after the response to %q", d.addr, b, d.last)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		d.t.Errorf("%s: the connection closed after the response to %q, without saying so: %v", d.addr, d.last, err)
	}
}

func (d *diffConn) close() {
	if d.c != nil {
		d.c.Close()
	}
}

// compare returns the fields that differ, as "field: eddy X, net/http Y".
func (e diffResult) compare(n diffResult) []string {
	var out []string
	if e.status != n.status {
		out = append(out, fmt.Sprintf("status: serve %d, net/http %d", e.status, n.status))
	}
	for _, h := range diffHeaders {
		ev, eok := e.header[h]
		nv, nok := n.header[h]
		if ev != nv || eok != nok {
			out = append(out, fmt.Sprintf("%s: serve %q, net/http %q", h, ev, nv))
		}
	}
	if !bytes.Equal(e.body, n.body) {
		out = append(out, fmt.Sprintf("body: serve %d bytes %q, net/http %d bytes %q", len(e.body), e.body[:min(len(e.body), 60)], len(n.body), n.body[:min(len(n.body), 60)]))
	}
	if e.closed != n.closed {
		out = append(out, fmt.Sprintf("connection closed: serve %v, net/http %v", e.closed, n.closed))
	}
	if e.bodyErr != n.bodyErr {
		out = append(out, fmt.Sprintf("body error: serve %q, net/http %q", e.bodyErr, n.bodyErr))
	}
	return out
}

func TestServeMatchesFileServer(t *testing.T) {
	root, _ := diffTree(t)
	ref := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer ref.Close()
	if len(diffTable) < 50 {
		t.Fatalf("%d requests in the table, want 50 or more", len(diffTable))
	}
	for _, engine := range loadEngines() {
		t.Run(engine, func(t *testing.T) {
			l, _ := startServe(t, serveConfig{dir: root, engine: engine, loops: 1})
			ec := &diffConn{t: t, addr: l.Addr.String()}
			nc := &diffConn{t: t, addr: ref.Listener.Addr().String()}
			defer ec.close()
			defer nc.close()
			defer func() {
				if !t.Failed() {
					ec.idle()
				}
			}()
			check := func(r diffReq, e, n diffResult) {
				t.Helper()
				if bytes.Contains(e.body, []byte("SECRET")) && !strings.HasPrefix(r.name, "link") {
					t.Errorf("%s: serve leaked the file outside the root", r.name)
				}
				var unexpected []string
				for _, d := range e.compare(n) {
					field, _, _ := strings.Cut(d, ":")
					if why, ok := servedDiffs[r.name][field]; ok {
						t.Logf("%-28s %s (documented: %s)", r.name, d, why)
						continue
					}
					unexpected = append(unexpected, d)
				}
				if len(unexpected) > 0 {
					t.Errorf("%s (%q): %s", r.name, r.raw()[:min(len(r.raw()), 120)], strings.Join(unexpected, "; "))
				}
			}
			var ref, got []diffResult
			for _, r := range diffTable {
				e, n := ec.do(r), nc.do(r)
				ref, got = append(ref, n), append(got, e)
				if testing.Verbose() {
					t.Logf("%-28s serve %d len=%q cr=%q ct=%q loc=%q %d bytes closed=%v err=%q | net/http %d len=%q %d bytes closed=%v err=%q",
						r.name, e.status, e.header["Content-Length"], e.header["Content-Range"], e.header["Content-Type"], e.header["Location"],
						len(e.body), e.closed, e.bodyErr, n.status, n.header["Content-Length"], len(n.body), n.closed, n.bodyErr)
				}
				check(r, e, n)
			}
			if t.Failed() {
				return
			}
			// The same requests pipelined, in runs that end where serve closes the connection: each
			// response must be the one it gave alone (so none has a byte too many or too few).
			ec.close()
			ec.c = nil
			for i := 0; i < len(diffTable); {
				j := i
				for j < len(diffTable)-1 && !got[j].closed {
					j++
				}
				for k, e := range ec.pipeline(diffTable[i : j+1]) {
					check(diffTable[i+k], e, ref[i+k])
				}
				i = j + 1
			}
		})
	}
}

// A file that grows and shrinks while it is served (between the stat that sets Content-Length and the
// send, and during the send): every response either carries exactly its Content-Length of the file's
// bytes, the connection staying in step for the next request, or is cut short and the connection
// closed. Never more bytes than it says, never a hang, never a response out of step. net/http's
// FileServer runs the same requests as a control (logged).
func TestServeFileChangingWhileServed(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "flux.bin")
	const small, big = 10 << 10, 600 << 10 // on both sides of http1's sendFileMin (16 KiB)
	pattern := make([]byte, big)
	for i := range pattern {
		pattern[i] = byte(i % 251)
	}
	if err := os.WriteFile(p, pattern, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer ref.Close()
	for _, engine := range append(loadEngines(), "net/http") {
		t.Run(strings.ReplaceAll(engine, "/", "_"), func(t *testing.T) {
			addr := ref.Listener.Addr().String()
			if engine != "net/http" {
				l, _ := startServe(t, serveConfig{dir: root, engine: engine, loops: 1})
				addr = l.Addr.String()
			}
			stop := make(chan struct{})
			mutated := make(chan struct{})
			go func() { // the file flips between its sizes, rewritten in place
				defer close(mutated)
				f, err := os.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				for i := 0; ; i++ {
					select {
					case <-stop:
						f.Truncate(big)
						f.WriteAt(pattern, 0)
						return
					default:
					}
					size := int64(small + i*7919%(big-small))
					st, err := f.Stat()
					if err != nil {
						t.Error(err)
						return
					}
					// Only shrunk by truncation and grown by writes of the pattern: no byte of the file
					// ever differs from the pattern.
					if i%2 == 0 && st.Size() > size {
						f.Truncate(size)
					} else if i%2 == 1 && st.Size() < size {
						f.WriteAt(pattern[st.Size():size], st.Size())
					}
					time.Sleep(50 * time.Microsecond)
				}
			}()
			defer func() { close(stop); <-mutated }()
			var c net.Conn
			var br *bufio.Reader
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			ranges := []string{"", "Range: bytes=1000-\r\n", "Range: bytes=-40000\r\n", "Range: bytes=20000-29999\r\n", "Range: bytes=0-99,30000-\r\n"}
			var whole, cut, refused int
			deadline := time.Now().Add(500 * time.Millisecond)
			for i := 0; i < 30 || time.Now().Before(deadline); i++ {
				if c == nil {
					var err error
					if c, err = net.Dial("tcp", addr); err != nil {
						t.Fatal(err)
					}
					br = bufio.NewReader(c)
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				method := "GET"
				if i%7 == 6 {
					method = "HEAD"
				}
				rg := ranges[i%len(ranges)]
				if _, err := io.WriteString(c, method+" /flux.bin HTTP/1.1\r\nHost: x\r\n"+rg+"\r\n"); err != nil {
					t.Fatalf("request %d: write on a connection kept open: %v", i, err)
				}
				resp, err := http.ReadResponse(br, &http.Request{Method: method})
				if err != nil {
					t.Fatalf("request %d (%s %q): the response is out of step or missing: %v", i, method, rg, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err == nil && (method == "HEAD" || resp.ContentLength < 0 || int64(len(body)) == resp.ContentLength):
					if resp.StatusCode == 416 {
						refused++
					} else {
						whole++
					}
					var start int64
					if cr := resp.Header.Get("Content-Range"); cr != "" {
						fmt.Sscanf(cr, "bytes %d-", &start)
					}
					if method == "GET" && (resp.StatusCode == 200 || resp.StatusCode == 206 && resp.Header.Get("Content-Range") != "") &&
						(start+int64(len(body)) > big || !patternOrZero(body, pattern[start:start+int64(len(body))])) {
						t.Fatalf("request %d (%q): %s, Content-Range %q: the body is not the file's bytes", i, rg, resp.Status, resp.Header.Get("Content-Range"))
					}
					if resp.Close {
						c.Close()
						c = nil
					}
				case errors.Is(err, io.ErrUnexpectedEOF):
					cut++ // cut short: the connection must be over
					if _, err := br.Peek(1); err == nil {
						t.Fatalf("request %d: %d of %d bytes, then more bytes on the connection", i, len(body), resp.ContentLength)
					}
					c.Close()
					c = nil
				case err != nil:
					t.Fatalf("request %d (%s %q): %s, Content-Length %d, %d bytes: %v", i, method, rg, resp.Status, resp.ContentLength, len(body), err)
				default:
					t.Fatalf("request %d: %d bytes read for Content-Length %d", i, len(body), resp.ContentLength)
				}
			}
			t.Logf("%d whole responses, %d cut short (connection closed), %d 416", whole, cut, refused)
		})
	}
}

// patternOrZero reports whether every byte of b is the pattern's or zero: a read that races a
// truncation can see the zeros the kernel clears the page's tail with (net/http's too).
func patternOrZero(b, pattern []byte) bool {
	for i := range b {
		if b[i] != pattern[i] && b[i] != 0 {
			return false
		}
	}
	return true
}

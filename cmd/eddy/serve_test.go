package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveEngines are the engines the file server is tested on: the one the platform picks and the
// portable one.
var serveEngines = []string{"auto", "std"}

// startServe serves cfg on a free loopback port and returns the bound address and a stop function that
// cancels the server and returns what serveFiles returned. The cleanup stops it too.
func startServe(t *testing.T, cfg serveConfig) (listening, func() error) {
	t.Helper()
	cfg.addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() { done <- serveFiles(ctx, cfg, nil, func(l listening) { ready <- l }) }()
	var result error
	stopped := false
	stop := func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("server did not stop within 15s")
		}
		return result
	}
	t.Cleanup(func() { stop() })
	select {
	case l := <-ready:
		return l, stop
	case err := <-done:
		stopped = true
		t.Fatalf("server failed to start: %v", err)
	}
	panic("unreachable")
}

// fileDir writes a directory to serve: a text file, a binary file of size bytes and a subdirectory.
func fileDir(t *testing.T, size int) (dir string, blob []byte) {
	t.Helper()
	dir = t.TempDir()
	blob = make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(blob)
	for name, b := range map[string][]byte{"blob.bin": blob, "hello.txt": []byte("hello, eddy\n"), "sub/inner.txt": []byte("inner\n")} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, blob
}

// httpClient returns a client whose connections are closed when the test ends.
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func fetch(t *testing.T, cl *http.Client, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestServeFilesRangesNotFoundAndListing(t *testing.T) {
	dir, blob := fileDir(t, 1<<20)
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			l, stop := startServe(t, serveConfig{dir: dir, engine: engine, loops: 2})
			base := "http://" + l.Addr.String()
			cl := httpClient(t)
			if resp, b := fetch(t, cl, base+"/blob.bin"); resp.StatusCode != 200 || !bytes.Equal(b, blob) {
				t.Fatalf("GET /blob.bin: %s, %d bytes", resp.Status, len(b))
			}
			if resp, b := fetch(t, cl, base+"/hello.txt"); resp.StatusCode != 200 || string(b) != "hello, eddy\n" {
				t.Fatalf("GET /hello.txt: %s %q", resp.Status, b)
			}
			if resp, b := fetch(t, cl, base+"/blob.bin", "Range", "bytes=4096-200000"); resp.StatusCode != 206 || !bytes.Equal(b, blob[4096:200001]) {
				t.Fatalf("Range: %s, %d bytes", resp.Status, len(b))
			}
			if resp, _ := fetch(t, cl, base+"/missing.txt"); resp.StatusCode != 404 {
				t.Fatalf("GET /missing.txt: %s, want 404", resp.Status)
			}
			resp, b := fetch(t, cl, base+"/")
			if resp.StatusCode != 200 || !strings.Contains(string(b), `href="hello.txt"`) || !strings.Contains(string(b), `href="sub/"`) {
				t.Fatalf("listing of /: %s %q", resp.Status, b)
			}
			if resp, b := fetch(t, cl, base+"/sub/"); resp.StatusCode != 200 || !strings.Contains(string(b), "inner.txt") {
				t.Fatalf("listing of /sub/: %s %q", resp.Status, b)
			}
			if err := stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
		})
	}
}

func TestServeStopsGracefully(t *testing.T) {
	dir, blob := fileDir(t, 16<<20)
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			l, stop := startServe(t, serveConfig{dir: dir, engine: engine, loops: 2})
			c, err := net.Dial("tcp", l.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /blob.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			first := make([]byte, 64<<10)
			if _, err := io.ReadFull(c, first); err != nil { // the response is under way
				t.Fatal(err)
			}
			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			rest, err := io.ReadAll(c) // the response in progress completes, then the server closes
			if err != nil {
				t.Fatalf("reading the rest: %v", err)
			}
			resp := append(first, rest...)
			i := bytes.Index(resp, []byte("\r\n\r\n"))
			if i < 0 || !bytes.HasPrefix(resp, []byte("HTTP/1.1 200")) || !bytes.Equal(resp[i+4:], blob) {
				t.Fatalf("response during the stop: %d bytes, head %q", len(resp), resp[:min(len(resp), 80)])
			}
			if err := <-stopped; err != nil {
				t.Fatalf("stop: %v", err)
			}
			if c2, err := net.DialTimeout("tcp", l.Addr.String(), time.Second); err == nil {
				c2.Close()
				t.Fatal("the server still accepts after the stop")
			}
		})
	}
}

func TestServeCommandLine(t *testing.T) {
	dir, _ := fileDir(t, 10)
	file := filepath.Join(dir, "hello.txt")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"help", "serve"}, exitOK, "-dir", ""},
		{"negative loops", []string{"serve", "--loops", "-1"}, exitUsage, "", "eddy: serve: --loops -1"},
		{"bad engine", []string{"serve", "--engine", "fast"}, exitUsage, "", `eddy: serve: --engine "fast"`},
		{"missing dir", []string{"serve", "--dir", filepath.Join(dir, "nope")}, exitFail, "", "no such file or directory"},
		{"file as dir", []string{"serve", "--dir", file}, exitFail, "", "not a directory"},
		{"bad address", []string{"serve", "--dir", dir, "--addr", "udp://127.0.0.1:0"}, exitUsage, "", `eddy: serve: --addr: bad address "udp://127.0.0.1:0"`},
		{"runs for a duration", []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--duration", "50ms"}, exitOK, "", "eddy serve: stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, t.Context(), tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q / %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
	_, _, stderr := runCmd(t, t.Context(), "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--duration", "10ms")
	if !strings.Contains(stderr, "eddy serve: serving "+dir+" on http://127.0.0.1:") {
		t.Fatalf("no log line with the address:\n%s", stderr)
	}
}

// rawHTTP sends req on a new connection and returns the response read by net/http (method for framing).
func rawHTTP(t *testing.T, addr, req, method string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%q: body: %v", req, err)
	}
	return resp, b
}

// No request target reaches a file outside --dir: dot segments, encoded or not, backslashes and
// absolute-form targets are all kept inside, on every engine.
func TestServeKeepsInsideDir(t *testing.T) {
	parent := t.TempDir()
	os.WriteFile(filepath.Join(parent, "secret.txt"), []byte("SECRET"), 0o644)
	dir := filepath.Join(parent, "pub")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("ok"), 0o644)
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			l, _ := startServe(t, serveConfig{dir: dir, engine: engine, loops: 1})
			addr := l.Addr.String()
			for _, target := range []string{
				"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/..%2fsecret.txt",
				"../secret.txt", "/sub/../../secret.txt", "/./../secret.txt", "//../secret.txt",
				"http://x/../secret.txt", "/..\\secret.txt", "/%2e%2e%5csecret.txt",
			} {
				resp, b := rawHTTP(t, addr, "GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
				if bytes.Contains(b, []byte("SECRET")) {
					t.Errorf("GET %s: %s served the file outside --dir", target, resp.Status)
				}
			}
		})
	}
}

// HEAD, conditional and range requests, pipelined on one connection, get what net/http's FileServer
// gives: the length without a body, 304, suffix, unsatisfiable and multipart ranges.
func TestServeHeadConditionalAndRanges(t *testing.T) {
	dir, blob := fileDir(t, 1<<20)
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			l, _ := startServe(t, serveConfig{dir: dir, engine: engine, loops: 1})
			c, err := net.Dial("tcp", l.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			// HEAD, then a conditional GET, then a plain GET, pipelined on one connection.
			fi, _ := os.Stat(filepath.Join(dir, "blob.bin"))
			ims := fi.ModTime().UTC().Add(time.Second).Format(http.TimeFormat)
			io.WriteString(c, "HEAD /blob.bin HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /blob.bin HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: "+ims+"\r\n\r\n"+
				"GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-70000\r\n\r\n"+
				"GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=2000000-\r\n\r\n"+
				"GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999,500000-600000\r\n\r\n"+
				"GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=17-\r\n\r\n")
			br := bufio.NewReader(c)
			read := func(method string) (*http.Response, []byte) {
				resp, err := http.ReadResponse(br, &http.Request{Method: method})
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, b
			}
			if resp, b := read("HEAD"); resp.StatusCode != 200 || resp.ContentLength != int64(len(blob)) || len(b) != 0 {
				t.Errorf("HEAD: %s, length %d, %d body bytes", resp.Status, resp.ContentLength, len(b))
			}
			if resp, b := read("GET"); resp.StatusCode != 304 || len(b) != 0 {
				t.Errorf("If-Modified-Since: %s, %d bytes", resp.Status, len(b))
			}
			if resp, b := read("GET"); resp.StatusCode != 206 || !bytes.Equal(b, blob[len(blob)-70000:]) {
				t.Errorf("suffix range: %s, %d bytes", resp.Status, len(b))
			}
			if resp, _ := read("GET"); resp.StatusCode != 416 {
				t.Errorf("range past the end: %s", resp.Status)
			}
			if resp, b := read("GET"); resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") ||
				!bytes.Contains(b, blob[1000:2000]) || !bytes.Contains(b, blob[500000:600001]) {
				t.Errorf("multi-range: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(b))
			}
			if resp, b := read("GET"); resp.StatusCode != 206 || !bytes.Equal(b, blob[17:]) {
				t.Errorf("range from 17: %s, %d bytes", resp.Status, len(b))
			}
		})
	}
}

// A file truncated while the server sends it: the connection ends (the client sees fewer bytes than
// Content-Length and EOF), it does not hang.
func TestServeFileShrinksWhileServed(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 20
	p := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(p, bytes.Repeat([]byte("abcdefgh"), size/8), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			os.WriteFile(p, bytes.Repeat([]byte("abcdefgh"), size/8), 0o644)
			l, _ := startServe(t, serveConfig{dir: dir, engine: engine, loops: 1})
			d := net.Dialer{}
			c, err := d.Dial("tcp", l.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			c.SetDeadline(time.Now().Add(15 * time.Second))
			io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, 256<<10)
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, 1<<20); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			n, err := io.Copy(io.Discard, resp.Body)
			t.Logf("after truncation: %d more bytes, %v, in %v", n, err, time.Since(start))
			if err == nil {
				t.Errorf("read the whole %d bytes of a file truncated to 1 MiB", size)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("the connection hung after the file was truncated: %v", err)
			}
		})
	}
}

// A directory without its slash, and index.html by name, are redirected as net/http redirects them; a
// directory with an index.html is served that page.
func TestServeRedirectsAndIndex(t *testing.T) {
	dir, _ := fileDir(t, 10)
	os.WriteFile(filepath.Join(dir, "sub", "index.html"), []byte("<p>index</p>"), 0o644)
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			l, _ := startServe(t, serveConfig{dir: dir, engine: engine, loops: 1})
			addr := l.Addr.String()
			if resp, _ := rawHTTP(t, addr, "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n", "GET"); resp.StatusCode != 301 || resp.Header.Get("Location") != "sub/" {
				t.Errorf("GET /sub: %s, Location %q; want 301 to sub/", resp.Status, resp.Header.Get("Location"))
			}
			if resp, _ := rawHTTP(t, addr, "GET /sub/index.html HTTP/1.1\r\nHost: x\r\n\r\n", "GET"); resp.StatusCode != 301 || resp.Header.Get("Location") != "./" {
				t.Errorf("GET /sub/index.html: %s, Location %q; want 301 to ./", resp.Status, resp.Header.Get("Location"))
			}
			if resp, b := rawHTTP(t, addr, "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n", "GET"); resp.StatusCode != 200 || string(b) != "<p>index</p>" {
				t.Errorf("GET /sub/: %s %q; want the index page", resp.Status, b)
			}
			if resp, b := rawHTTP(t, addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"); resp.StatusCode != 200 || len(b) != 0 {
				t.Errorf("HEAD /: %s, %d body bytes", resp.Status, len(b))
			}
		})
	}
}

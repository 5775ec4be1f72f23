package main

import (
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
		{"bad address", []string{"serve", "--dir", dir, "--addr", "udp://127.0.0.1:0"}, exitFail, "", "bad address"},
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

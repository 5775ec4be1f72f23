package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy/internal/testtls"
)

// startHello serves cfg on a free loopback port until the test ends and returns the base URL. The cleanup
// stops the server and fails the test if it did not stop cleanly.
func startHello(t *testing.T, cfg helloConfig) string {
	t.Helper()
	cfg.addr = "tcp://127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() { done <- serveHello(ctx, cfg, func(l listening) { ready <- l }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("server did not stop within 10s")
		}
	})
	select {
	case l := <-ready:
		if cfg.tls.on() {
			return "https://" + l.Addr.String()
		}
		return "http://" + l.Addr.String()
	case err := <-done:
		t.Fatalf("server failed to start: %v", err)
	}
	panic("unreachable")
}

func TestHelloServersAnswerHelloWorld(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	servers := []struct {
		name string
		cfg  helloConfig
	}{
		{"native auto", helloConfig{style: "native", engine: "auto", loops: 1}},
		{"nethttp auto", helloConfig{style: "nethttp", engine: "auto", loops: 1}},
		{"native std", helloConfig{style: "native", engine: "std"}},
		{"baseline", helloConfig{baseline: true}},
		{"native auto tls", helloConfig{style: "native", engine: "auto", loops: 1, tls: tlsFiles{certFile, keyFile}}},
		{"nethttp std tls", helloConfig{style: "nethttp", engine: "std", tls: tlsFiles{certFile, keyFile}}},
		{"baseline tls", helloConfig{baseline: true, tls: tlsFiles{certFile, keyFile}}},
	}
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/", http.StatusOK, helloBody},
		{http.MethodGet, "/nope", http.StatusNotFound, "404 page not found\n"},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, "Method Not Allowed\n"},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			base := startHello(t, s.cfg)
			client := testtls.Client(t) // speaks HTTP/1.1 to https:// and http:// alike
			client.Timeout = 5 * time.Second
			for _, tt := range tests {
				req, _ := http.NewRequest(tt.method, base+tt.path, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", tt.method, tt.path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
				}
				if tt.body != "" && string(body) != tt.body {
					t.Errorf("%s %s: body %q, want %q", tt.method, tt.path, body, tt.body)
				}
				if (resp.TLS != nil) != s.cfg.tls.on() || resp.ProtoMajor != 1 {
					t.Errorf("%s %s: TLS %v, %s", tt.method, tt.path, resp.TLS != nil, resp.Proto)
				}
				if tt.status == http.StatusOK && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestHelloCommand(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--style", "fancy"}, exitUsage, `eddy: hello: --style "fancy"`},
		{[]string{"--engine", "fast"}, exitUsage, `eddy: hello: --engine "fast"`},
		{[]string{"--loops", "-1"}, exitUsage, "eddy: hello: --loops -1"},
		{[]string{"--addr", "127.0.0.1:0", "--engine", "std", "--duration", "100ms"}, exitOK, "eddy hello: stopped"},
		{[]string{"--addr", "127.0.0.1:0", "--baseline", "--duration", "100ms"}, exitOK, "(net/http)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, t.Context(), append([]string{"hello"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// With --tls-cert, the startup line gives the https:// URL, as eddy serve's does; without, the bare
// address that eddy bench reads back.
func TestHelloSaysHTTPS(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "std"}, "eddy hello: listening on 127.0.0.1:"},
		{[]string{"--engine", "std", "--tls-cert", certFile, "--tls-key", keyFile}, "eddy hello: listening on https://127.0.0.1:"},
		{[]string{"--loops", "1", "--tls-cert", certFile, "--tls-key", keyFile}, "eddy hello: listening on https://127.0.0.1:"},
		{[]string{"--baseline", "--tls-cert", certFile, "--tls-key", keyFile}, "eddy hello: listening on https://127.0.0.1:"},
	} {
		args := append([]string{"hello", "--addr", "127.0.0.1:0", "--duration", "50ms"}, tt.args...)
		code, _, stderr := runCmd(t, t.Context(), args...)
		if code != exitOK || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", strings.Join(args, " "), code, stderr, exitOK, tt.want)
		}
		if strings.Contains(stderr, "1 loops") {
			t.Errorf("%s: %q", strings.Join(args, " "), stderr)
		}
	}
}

// serveHello cleans up after a server that cannot start (the port is taken): the worker pool that
// http1.Server made for the nethttp style's handlers is stopped, as serveFiles does it.
func TestHelloFailedStartLeaksNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opt := goleak.IgnoreCurrent()
	cfg := helloConfig{addr: ln.Addr().String(), style: "nethttp", engine: "std"}
	err = serveHello(context.Background(), cfg, func(listening) { t.Error("ready called") })
	if err == nil {
		t.Fatal("serveHello on a taken port: no error")
	}
	goleak.VerifyNone(t, opt)
}

//go:build unix

package main

import (
	"io"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServeStopsGracefullyOnSignal(t *testing.T) {
	dir, _ := fileDir(t, 10)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, lines := startSelf(t, "serve", "--dir", dir, "--addr", "127.0.0.1:0")
			defer cmd.Process.Kill() // only if the test fails before Wait
			if !lines.Scan() {
				t.Fatalf("no log line from the server: %v", lines.Err())
			}
			m := regexp.MustCompile(`on (http://\S+)`).FindStringSubmatch(lines.Text())
			if m == nil {
				t.Fatalf("log line %q does not name the address", lines.Text())
			}
			cl := httpClient(t)
			resp, err := cl.Get(m[1] + "hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello, eddy\n" {
				t.Fatalf("GET hello.txt: %q", b)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest strings.Builder
			for lines.Scan() {
				rest.WriteString(lines.Text() + "\n")
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case err := <-waited:
				if err != nil {
					t.Errorf("exit: %v; stderr:\n%s", err, rest.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("the server did not exit within 15s of the signal")
			}
			if !strings.Contains(rest.String(), "eddy serve: stopped") {
				t.Errorf("no stop logged:\n%s", rest.String())
			}
		})
	}
}

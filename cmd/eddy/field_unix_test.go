//go:build unix

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Field test (session 30): an "eddy get" whose terminal goes away (SIGHUP: the window closed, the ssh
// session dropped) died of the signal midway and left its FILE.<random>.part behind, as large as the
// file, under a name no later run reuses; SIGINT and SIGTERM removed it. A hangup now stops it as they
// do: "interrupted", exit 1, nothing left behind.
func TestGetSIGHUPLeavesNoPartFile(t *testing.T) {
	const size = 1 << 20
	// Answers the probe (bytes=0-0) with the size, and every ranged request after it with its head and
	// a few bytes of its body, then nothing more: the download is under way, its .part file written,
	// when the signal comes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	quit := make(chan struct{})
	defer func() { close(quit); ln.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-quit; c.Close() }()
				br := bufio.NewReader(c)
				for {
					var from, to int
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
						if v, ok := strings.CutPrefix(strings.ToLower(line), "range: bytes="); ok {
							fmt.Sscanf(v, "%d-%d", &from, &to)
						}
					}
					fmt.Fprintf(c, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n", from, to, size, to-from+1)
					if to == 0 {
						c.Write([]byte{'x'})
						continue
					}
					c.Write(make([]byte, 100))
					<-quit
					return
				}
			}()
		}
	}()
	dir := t.TempDir()
	cmd, lines := startSelf(t, "get", "--timeout", "0", "--conns", "2", "--chunk", "64KiB", "--out", filepath.Join(dir, "f"), "http://"+ln.Addr().String()+"/f")
	defer cmd.Process.Kill() // only if the test fails before Wait
	for deadline := time.Now().Add(10 * time.Second); ; {
		if names := dirEntries(t, dir); len(names) > 0 && strings.HasSuffix(names[0], ".part") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no .part file within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	said := make(chan struct{})
	go func() {
		defer close(said)
		for lines.Scan() {
			stderr.WriteString(lines.Text() + "\n")
		}
	}()
	waited := make(chan error, 1)
	go func() { <-said; waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFail {
			t.Errorf("exit: %v, want status %d; stderr %q", err, exitFail, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("eddy get did not exit within 10s of SIGHUP")
	}
	if s := stderr.String(); !strings.Contains(s, "eddy: get: interrupted") {
		t.Errorf("stderr %q: want it to say interrupted", s)
	}
	if names := dirEntries(t, dir); len(names) > 0 {
		t.Errorf("left behind: %q", names)
	}
}

// A server started with SIGHUP ignored (nohup, or a background job of a script) keeps it ignored: a
// hangup neither stops it nor kills it (signal.Notify would undo an inherited "ignore").
func TestServeUnderNohupIgnoresSIGHUP(t *testing.T) {
	dir, _ := fileDir(t, 10)
	cmd, lines := startSelfCmd(t, exec.Command("sh", "-c", `trap "" HUP; exec "$0" -test.run='^$'`, os.Args[0]), "serve", "--dir", dir, "--addr", "127.0.0.1:0")
	defer cmd.Process.Kill() // only if the test fails before Wait
	if !lines.Scan() {
		t.Fatalf("no log line from the server: %v", lines.Err())
	}
	m := regexp.MustCompile(`on (http://\S+)`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("log line %q does not name the address", lines.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // time for a hangup taken to stop it or kill it
	cl := httpClient(t)
	resp, err := cl.Get(m[1] + "hello.txt")
	if err != nil {
		t.Fatalf("GET after SIGHUP: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello, eddy\n" {
		t.Fatalf("GET hello.txt after SIGHUP: %q", b)
	}
	stopSelf(t, cmd, lines, syscall.SIGTERM, 15*time.Second, "eddy serve: stopped")
}

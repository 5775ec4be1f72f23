package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Field test (session 30): eddy serve stopped while a client reads none of a large download waits for
// the stop's bound, then closes that connection. eddy echo and eddy hello say so; eddy serve said only
// "stopped", as after a stop that cut nothing short, and the user was not told that a download had been
// cut off.
func TestServeStopTimeoutIsLogged(t *testing.T) {
	defer func(d time.Duration) { serveStopTimeout = d }(serveStopTimeout)
	serveStopTimeout = 300 * time.Millisecond
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("x"), 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"serve", "--dir", dir, "--engine", engine, "--addr", "127.0.0.1:0"}, &syncBuffer{}, &stderr)
			}()
			serving := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/`)
			var m []string
			for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				m = serving.FindStringSubmatch(stderr.String())
			}
			if m == nil {
				cancel()
				t.Fatalf("no serving line: %q", stderr.String())
			}
			// Requests for the large file, none of whose responses is read: the first backs up, and the
			// server reads no more.
			floodUnread(t, m[1], bytes.Repeat([]byte("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 100))
			cancel()
			var code int
			select {
			case code = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("the server did not stop within 15s")
			}
			want := "eddy serve: the graceful stop took longer than 300ms: the connections still open were closed\neddy serve: stopped\n"
			if code != exitOK || !strings.HasSuffix(stderr.String(), want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitOK, want)
			}
		})
	}
}

// Field test (session 30): "eddy load --url .../missing" against a server that answers every request
// at once with a 404 reported the requests in flight when the window closed as unanswered errors
// ("26914 bad statuses, 6 unanswered"), as if the server had stopped answering: the rule that makes
// every pending request an error in a run with no reply at all counted only the good replies.
func TestLoadBadStatusesAreNoUnansweredRequests(t *testing.T) {
	addr := startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--url", "http://"+addr+"/missing", "--engine", engine, "--conns", "4", "--duration", "500ms")
		if code != exitFail || r.RoundTrips != 0 || r.StatusErrors == 0 {
			t.Fatalf("exit %d, round trips %d, status errors %d; want %d, 0, some\n%s", code, r.RoundTrips, r.StatusErrors, exitFail, stderr)
		}
		if r.Unanswered != 0 || r.Errors != r.StatusErrors {
			t.Errorf("%d unanswered, %d errors, %d bad statuses, %d pending: want no request unanswered, every error a bad status (%s)",
				r.Unanswered, r.Errors, r.StatusErrors, r.Pending, r.FirstError)
		}
		if strings.Contains(stderr, " unanswered)") {
			t.Errorf("stderr counts unanswered requests:\n%s", stderr)
		}
	})
}

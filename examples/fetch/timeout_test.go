package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The doc comment promises a line per URL saying why it failed. When the job's timeout passed, the
// outcome depended on a race between the requests' context and future.WithTimeout around
// AllSettled: most often the program printed only "fetch: future: timed out", dropping the lines of
// the URLs that had been fetched and of those that had not.
func TestFetchTimeoutReportsEachURL(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select { // answer only when the client gives up (or the test ends)
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Write([]byte("fine"))
	}))
	defer srv.Close()
	defer close(release)
	prog := progtest.Build(t)
	// Many URLs time out together: the more there are, the likelier the old code lost the race.
	const slow = 40
	args := []string{"-conns", "64", "-timeout", "300ms", srv.URL + "/fast"}
	for range slow {
		args = append(args, srv.URL+"/slow")
	}
	args = append(args, srv.URL+"/fast2")
	for range 8 {
		stdout, stderr, err := progtest.Run(t, runTimeout, prog, args...)
		if code := progtest.ExitCode(err); code != 1 {
			t.Fatalf("exit status %d (%v), want 1; stdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		want := []string{srv.URL + "/fast: 200 OK, 4 bytes"}
		for range slow {
			want = append(want, srv.URL+"/slow: error: ")
		}
		want = append(want, srv.URL+"/fast2: 200 OK, 4 bytes")
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want one per URL (%d); stdout:\n%s\nstderr:\n%s", len(lines), len(want), stdout, stderr)
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("line %d: %q, want it to start with %q", i, lines[i], w)
			}
		}
		for _, l := range lines[1 : 1+slow] {
			if !strings.Contains(l, "deadline exceeded") && !strings.Contains(l, "timed out") {
				t.Errorf("a line does not say the URL timed out: %q", l)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

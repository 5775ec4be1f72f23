package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// "--out -" is standard output to curl and wget; eddy get, which writes chunks at their offsets into a
// file it renames into place, cannot write there, and silently saved the download as a file called
// "-" in the current directory (exit 0, nothing on stdout). It is now a usage error that says so.
func TestGetOutDashIsAUsageError(t *testing.T) {
	var requests atomic.Int64
	u := startGetServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		serveBlob([]byte("some content\n"))(w, r)
	}))
	cwd := t.TempDir()
	t.Chdir(cwd)
	code, stdout, stderr := runCmd(t, t.Context(), "get", "--out", "-", u)
	if code != exitUsage || !strings.Contains(stderr, "not standard output") || stdout != "" {
		t.Errorf("get --out -: exit %d, stdout %q, stderr %q; want %d and \"not standard output\"", code, stdout, stderr, exitUsage)
	}
	if names := dirEntries(t, cwd); len(names) > 0 {
		t.Errorf("left in the current directory: %q", names)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent; want none", n)
	}
	// A file called "-" is still a file: named with a directory.
	code, _, stderr = runCmd(t, t.Context(), "get", "--out", "./-", u)
	if code != exitOK {
		t.Fatalf("get --out ./-: exit %d, stderr %q", code, stderr)
	}
	checkDownload(t, cwd, "-", []byte("some content\n"))
}

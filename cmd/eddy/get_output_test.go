package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file name of 250 bytes is a valid name (NAME_MAX is 255), but eddy get cannot save a download
// under it: the temporary file is named FILE.<up to 6 chars>.part beside it, which is too long, and
// the error blamed FILE itself ("cannot write FILE: file name too long"). The temporary name is now
// cut short to fit.
func TestGetLongOutputName(t *testing.T) {
	content := []byte("some content\n")
	u := startGetServer(t, serveBlob(content))
	dir := t.TempDir()
	out := filepath.Join(dir, strings.Repeat("n", 250))
	// The name itself is usable.
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatalf("the name is not valid here: %v", err)
	}
	os.Remove(out)
	code, _, stderr := runCmd(t, t.Context(), "get", "--out", out, u)
	if code != exitOK {
		t.Fatalf("get --out <250-byte name>: exit %d, want 0; stderr:\n%s", code, stderr)
	}
	checkDownload(t, dir, filepath.Base(out), content)
}

// A dangling symbolic link at FILE is a directory entry that exists: without --force eddy get must
// refuse it ("FILE exists (use --force to overwrite it)"), as it refuses any other existing FILE.
// checkOutput used os.Stat, which follows the link and reports "not exist", and the link was silently
// replaced by the download.
func TestGetDanglingSymlinkNeedsForce(t *testing.T) {
	content := []byte("some content\n")
	u := startGetServer(t, serveBlob(content))
	dir := t.TempDir()
	out := filepath.Join(dir, "link")
	target := filepath.Join(dir, "elsewhere", "target")
	if err := os.Symlink(target, out); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, t.Context(), "get", "--out", out, u)
	fi, err := os.Lstat(out)
	if err != nil {
		t.Fatal(err)
	}
	if code != exitFail || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("get --out <dangling symlink> without --force: exit %d (want %d), the link is now %v; stderr:\n%s",
			code, exitFail, fi.Mode(), stderr)
	}
}

// A symbolic link to a directory is refused as the directory is, even with --force; one to a file
// needs --force, and is then replaced by the download (not followed: docs/get.md).
func TestGetSymlinkOutputs(t *testing.T) {
	content := []byte("some content\n")
	u := startGetServer(t, serveBlob(content))
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"tod", "tof"} {
		if err := os.Symlink(map[string]string{"tod": "d", "tof": "f"}[l], filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := runCmd(t, t.Context(), "get", "--force", "--out", filepath.Join(dir, "tod"), u)
	if code != exitFail || !strings.Contains(stderr, "is a directory") {
		t.Errorf("get --force --out <link to a directory>: exit %d, stderr %q; want %d, \"is a directory\"", code, stderr, exitFail)
	}
	code, _, stderr = runCmd(t, t.Context(), "get", "--out", filepath.Join(dir, "tof"), u)
	if code != exitFail || !strings.Contains(stderr, "exists") {
		t.Errorf("get --out <link to a file>: exit %d, stderr %q; want %d, \"exists\"", code, stderr, exitFail)
	}
	code, _, stderr = runCmd(t, t.Context(), "get", "--force", "--out", filepath.Join(dir, "tof"), u)
	if code != exitOK {
		t.Fatalf("get --force --out <link to a file>: exit %d; stderr:\n%s", code, stderr)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "tof")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("tof after the download: %v, %v; want a regular file", fi, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "tof")); err != nil || string(got) != string(content) {
		t.Errorf("tof: %q, %v; want %q", got, err, content)
	}
	if old, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(old) != "old" {
		t.Errorf("the link's target: %q, %v; want it untouched", old, err)
	}
}

// A password in the URL stays out of what get prints: its error messages and its JSON report show the
// URL redacted, as net/http's own errors do. Both printed it before.
func TestGetKeepsThePasswordOutOfItsOutput(t *testing.T) {
	content := []byte("some content\n")
	u := startGetServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blob.bin/short" { // a body cut short: get's own error, which names the URL
			w.Header().Set("Content-Length", "100")
			w.Write(content)
			return
		}
		serveBlob(content)(w, r)
	}))
	secret := strings.Replace(u, "://", "://user:s3cr3tpw@", 1)
	dir := t.TempDir()
	code, stdout, stderr := runCmd(t, t.Context(), "get", "--json", "--out", filepath.Join(dir, "a"), secret)
	if code != exitOK {
		t.Fatalf("get: exit %d; stderr:\n%s", code, stderr)
	}
	code2, stdout2, stderr2 := runCmd(t, t.Context(), "get", "--out", filepath.Join(dir, "b"), secret+"/short")
	if code2 != exitFail {
		t.Errorf("get of a short body: exit %d, want %d", code2, exitFail)
	}
	for _, s := range []string{stdout, stderr, stdout2, stderr2} {
		if strings.Contains(s, "s3cr3tpw") {
			t.Errorf("the password is printed: %q", s)
		}
	}
	if !strings.Contains(stderr2, "user:xxxxx@") {
		t.Errorf("the failure's message does not name the URL, redacted: %q", stderr2)
	}
}

//go:build unix

package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// --force replaced any existing FILE but a directory: a FIFO, a socket or a device was replaced by a
// regular file, and so was the target of a link to one. "eddy get --out /dev/null --force URL", run as
// root, replaced the system's /dev/null, and "--out /dev/stdout --force" the link /dev/stdout. Such a
// FILE is now refused, as a directory is, before any request; a link to a regular file is still
// replaced (not followed).
func TestGetForceRefusesFilesThatAreNotRegular(t *testing.T) {
	content := []byte("some content\n")
	var requests atomic.Int64
	u := startGetServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		serveBlob(content)(w, r)
	}))
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Symlink("fifo", filepath.Join(dir, "tofifo")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		kind string // in the message
		mode os.FileMode
	}{
		{"fifo", "a FIFO", os.ModeNamedPipe},
		{"sock", "a socket", os.ModeSocket},
		{"tofifo", "a FIFO", os.ModeSymlink},
	} {
		for _, force := range []bool{false, true} {
			args := []string{"get", "--out", filepath.Join(dir, tt.name), u}
			if force {
				args = append(args, "--force")
			}
			code, _, stderr := runCmd(t, t.Context(), args...)
			if code != exitFail || !strings.Contains(stderr, "is not a regular file ("+tt.kind+")") {
				t.Errorf("%q: exit %d, stderr %q; want %d and \"is not a regular file (%s)\"", args, code, stderr, exitFail, tt.kind)
			}
			if fi, err := os.Lstat(filepath.Join(dir, tt.name)); err != nil || fi.Mode().Type() != tt.mode {
				t.Errorf("%q: %s is now %v, %v; want it untouched (%v)", args, tt.name, fi.Mode().Type(), err, tt.mode)
			}
		}
	}
	if names := dirEntries(t, dir); !slices.Equal(names, []string{"fifo", "sock", "tofifo"}) {
		t.Errorf("directory holds %q, want just fifo, sock and tofifo", names)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent; want the output refused before any", n)
	}
}

// --force replaced FILE with a file of the default mode: a private file (0600) downloaded again became
// readable by all (0644 under the usual umask), and an executable lost its x bits. The new file now
// takes the permissions of the one it replaces, as with curl -o or wget -O, which write into it; a
// new file, or one that replaces a symbolic link, gets the default mode.
func TestGetForceKeepsThePermissions(t *testing.T) {
	content := []byte("new content\n")
	u := startGetServer(t, serveBlob(content))
	dir := t.TempDir()
	for _, perm := range []os.FileMode{0o600, 0o755, 0o640} {
		out := filepath.Join(dir, "f")
		if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(out, perm); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCmd(t, t.Context(), "get", "--force", "--out", out, u)
		if code != exitOK {
			t.Fatalf("get --force: exit %d, stderr %q", code, stderr)
		}
		checkDownload(t, dir, "f", content)
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != perm {
			t.Errorf("replacing a file of mode %v: the download has mode %v, %v; want %v", perm, fi.Mode().Perm(), err, perm)
		}
		os.Remove(out)
	}
}

package aio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPwriteProbes runs both probes of positioned writes (the 64-bit one and the 32-bit
// one, pwriteRefusedAtEnd, which a 32-bit program uses on any kernel) on files of several kinds:
// they agree on which refuse pwrite(2) with ESPIPE, and neither writes anything, nor changes the
// modification time, of a writable regular file or of /dev/null's neighbours.
func TestPwriteProbes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	want := []byte("0123456789 the content that must stay as it is")
	old := time.Unix(1_000_000_000, 0)
	cases := []struct {
		name string
		flag int
		want bool // pwrite(2) fails with ESPIPE
	}{
		{path, os.O_RDWR, false},
		{path, os.O_WRONLY, false},
		{path, os.O_WRONLY | os.O_APPEND, false},
		{path, os.O_RDONLY, false},
		{"/dev/null", os.O_RDWR, false},
		{"/dev/zero", os.O_WRONLY, false},
		{"/proc/version", os.O_RDONLY, true},
		{"/proc/thread-self/comm", os.O_WRONLY, true},
		{"/proc/thread-self/comm", os.O_RDWR, true},
		{"/proc/self/mem", os.O_RDWR, false}, // unsigned offsets: past rw_verify_area, nothing mapped there
	}
	for _, c := range cases {
		if c.name == path {
			if err := os.WriteFile(path, want, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
		f, err := os.OpenFile(c.name, c.flag, 0)
		if err != nil {
			t.Logf("%s (%#x): %v; skipped", c.name, c.flag, err)
			continue
		}
		fd := int(f.Fd())
		got64, got32 := pwriteRefused(fd, c.flag), pwriteRefusedAtEnd(fd)
		f.Close()
		if got64 != c.want || got32 != c.want {
			t.Errorf("%s (%#x): pwriteRefused %v, pwriteRefusedAtEnd %v; want %v", c.name, c.flag, got64, got32, c.want)
		}
		if c.name == path {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("%s (%#x): the probes changed the file: %d bytes, %q...", c.name, c.flag, len(b), b[:min(len(b), 24)])
			}
			if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(old) {
				t.Errorf("%s (%#x): the probes changed the modification time (%v)", c.name, c.flag, err)
			}
		}
	}
}

package aio_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
)

// TestPwriteProbeWritesNothing opens writable files of several kinds with aio (every backend)
// and checks that opening wrote nothing: the content, the size and the modification time are as
// before. The probe of positioned writes (pwriteRefused) must fail before the file's write on every
// architecture; a 32-bit program on a 64-bit kernel (GOARCH=386 on amd64) passes its count to the
// kernel zero-extended, so a count with the 32-bit sign bit is a valid 2 GiB there.
func TestPwriteProbeWritesNothing(t *testing.T) {
	for _, b := range []aio.Backend{aio.Pool, aio.Uring} {
		t.Run(string(b), func(t *testing.T) {
			a, err := aio.New(aio.WithBackend(b))
			if err != nil {
				t.Skipf("backend %s: %v", b, err)
			}
			defer a.Close()
			for _, flag := range []int{os.O_RDWR, os.O_WRONLY, os.O_RDWR | os.O_APPEND, os.O_WRONLY | os.O_SYNC} {
				path := filepath.Join(t.TempDir(), "f")
				want := []byte("0123456789 the content that must stay as it is")
				if err := os.WriteFile(path, want, 0o600); err != nil {
					t.Fatal(err)
				}
				old := time.Unix(1_000_000_000, 0)
				if err := os.Chtimes(path, old, old); err != nil {
					t.Fatal(err)
				}
				f, err := a.Open(path, flag, 0)
				if err != nil {
					t.Fatalf("flag %#x: %v", flag, err)
				}
				f.Close()
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("flag %#x: opening changed the file: %d bytes %q..., want %q", flag, len(got), got[:min(len(got), 64)], want)
				}
				if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(old) {
					t.Errorf("flag %#x: opening changed the modification time: %v (%v)", flag, st.ModTime(), err)
				}
			}
		})
	}
}

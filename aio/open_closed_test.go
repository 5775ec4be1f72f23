package aio_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// TestOpenAfterIOCloseLeavesTheFile: Open of a closed IO fails with ErrClosed and does nothing to the
// file system. It opened the file with os.OpenFile first and refused it only then, so O_TRUNC emptied
// an existing file and O_CREATE made a new one (found by the differential against os.File).
func TestOpenAfterIOCloseLeavesTheFile(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		content := pattern(4, 0, 5000)
		name := tempPath(t, content)
		fresh := filepath.Join(filepath.Dir(name), "fresh")
		a.Close()
		for _, tc := range []struct {
			name string
			flag int
		}{
			{name, os.O_RDWR | os.O_TRUNC},
			{name, os.O_WRONLY | os.O_CREATE | os.O_TRUNC},
			{fresh, os.O_RDWR | os.O_CREATE},
		} {
			f, err := a.Open(tc.name, tc.flag, 0o644)
			if f != nil || !errors.Is(err, aio.ErrClosed) {
				if f != nil {
					f.Close()
				}
				t.Fatalf("Open(%s, %#x) after IO.Close = %v, %v; want nil, aio.ErrClosed", tc.name, tc.flag, f, err)
			}
		}
		checkBytes(t, "the file after Opens with O_TRUNC of a closed IO", fileBytes(t, name), content)
		if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open with O_CREATE of a closed IO made the file: Stat = %v", err)
		}
	})
}

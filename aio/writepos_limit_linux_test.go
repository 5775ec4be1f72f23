package aio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// A Write that the file system's size limit (its s_maxbytes, found by truncating a sparse file)
// refuses in whole or after its first byte leaves the file's position where os.File.Write leaves
// it, on each backend, with and without O_APPEND: unchanged after a refusal, also on an O_APPEND
// file whose position is not at its end (io_uring could take the end for a failed append), and
// after the byte written otherwise. No child process is needed, as RLIMIT_FSIZE would.
func TestWritePositionAtTheSizeLimit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var most int64
	for bit := int64(62); bit >= 0; bit-- {
		if os.Truncate(probe, most|1<<bit) == nil {
			most |= 1 << bit
		}
	}
	if most < 1<<32 {
		t.Skipf("the file system takes files of %d bytes at most", most)
	}
	// open makes a file of size bytes, open with flag, at position pos.
	open := func(name string, flag int, size, pos int64) *os.File {
		if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(name, size); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(name, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(pos, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, be := range backends {
		if be == aio.Uring && uringUnavailable() != nil {
			continue
		}
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			flag      int
			size, pos int64
		}{
			{os.O_RDWR, most, most},                     // refused
			{os.O_RDWR, most - 1, most - 1},             // one byte, then refused
			{os.O_RDWR | os.O_APPEND, most, 0},          // refused, the position at the start
			{os.O_RDWR | os.O_APPEND, most - 1, 0},      // one byte at the end, then refused
			{os.O_WRONLY | os.O_APPEND, most - 1, 1000}, // the same, write-only
		} {
			what := fmt.Sprintf("%s: flag %#x, size %d, position %d", be, tc.flag, tc.size, tc.pos)
			of := open(filepath.Join(dir, "os"), tc.flag, tc.size, tc.pos)
			on, oerr := of.Write([]byte("abc"))
			opos, _ := of.Seek(0, io.SeekCurrent)
			of.Close()
			osf := open(filepath.Join(dir, string(be)), tc.flag, tc.size, tc.pos)
			f, err := a.NewFile(osf)
			if err != nil {
				t.Fatal(err)
			}
			n, err := f.Write(ctx, []byte("abc")).Await(ctx)
			pos, _ := osf.Seek(0, io.SeekCurrent) // the same open file description
			f.Close()
			if n != on || errors.Is(err, syscall.EFBIG) != errors.Is(oerr, syscall.EFBIG) || pos != opos {
				t.Errorf("%s: Write %d, %v, position %d; os.File.Write %d, %v, position %d", what, n, err, pos, on, oerr, opos)
			}
		}
		a.Close()
	}
}

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// TestShortWriteAtPosition: a Write at the file's position that the kernel takes in part and then
// refuses (here at the RLIMIT_FSIZE of a child process) reports the bytes it wrote and the error, and
// leaves the file, and its position, as os.File.Write leaves them. On io_uring the kernel retries a short write of a regular
// file itself and, when the retry fails, completes the request with the count of the first part but
// without moving the file's position: the backend wrote the rest again from the old position, over
// what it had just written, reported every byte written and no error, and the file lost them (a Write
// of 3 MiB at 0 under a 1 MiB limit left the file holding the buffer's last MiB); with O_APPEND the
// data went to the end, but the position stayed where it was, and the next Read read from there.
// Found by a differential against os.File (TestOSFileDiffFileSizeLimit).
func TestShortWriteAtPosition(t *testing.T) {
	out := inFsizeChild(t, "AIO_SHORTWRITE_CHILD", shortWriteChild)
	for _, be := range backends {
		if be == aio.Uring && uringUnavailable() != nil {
			continue
		}
		for _, first := range shortWriteFirsts {
			for _, app := range []bool{false, true} {
				line := fmt.Sprintf("%s first=%d append=%v: same as os", be, first, app)
				if !strings.Contains(string(out), line+"\n") {
					t.Errorf("child printed:\n%s\nwant a line %q", out, line)
				}
			}
		}
	}
}

// shortWriteFirsts are the sizes of a first Write, before one of 3 MiB under a 1 MiB limit.
var shortWriteFirsts = []int{0, 1000, 1<<20 - 10}

type shortWriteCase struct {
	first int
	app   bool
}

func shortWriteCases() []shortWriteCase {
	var cs []shortWriteCase
	for _, first := range shortWriteFirsts {
		cs = append(cs, shortWriteCase{first, false}, shortWriteCase{first, true})
	}
	return cs
}

// shortWriteChild writes first bytes and then 3 MiB with os.File.Write and with Write on each
// backend, to a file opened with O_APPEND or not, with RLIMIT_FSIZE at 1 MiB, and prints what differs
// from os.
func shortWriteChild(dir string) {
	ctx := context.Background()
	big := pattern(8, 0, 3<<20)
	for _, c := range shortWriteCases() {
		first, app := c.first, c.app
		flag := os.O_RDWR | os.O_CREATE | os.O_EXCL
		if app {
			flag |= os.O_APPEND
		}
		head := pattern(3, 0, first)
		name := filepath.Join(dir, fmt.Sprint("os", first, app))
		of, err := os.OpenFile(name, flag, 0o644)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		of.Write(head)
		on, oerr := of.Write(big)
		on2, oerr2 := of.Write(big[:10]) // at the limit: fails
		on3, oerr3 := of.Read(make([]byte, 10))
		of.Close()
		want, _ := os.ReadFile(name)
		for _, be := range backends {
			a, err := aio.New(aio.WithBackend(be))
			if err != nil {
				fmt.Printf("%s: %v\n", be, err)
				continue
			}
			name := filepath.Join(dir, fmt.Sprint(be, first, app))
			f, err := a.Open(name, flag, 0o644)
			if err != nil {
				fmt.Println("open:", err)
				os.Exit(1)
			}
			f.Write(ctx, head).Await(ctx)
			n, err := f.Write(ctx, big).Await(ctx)
			n2, err2 := f.Write(ctx, big[:10]).Await(ctx)
			n3, err3 := f.Read(ctx, make([]byte, 10)).Await(ctx) // where the position is
			f.Close()
			a.Close()
			got, _ := os.ReadFile(name)
			switch {
			case n != on || errors.Is(err, syscall.EFBIG) != errors.Is(oerr, syscall.EFBIG):
				fmt.Printf("%s first=%d append=%v: Write = %d, %v; os.File.Write %d, %v\n", be, first, app, n, err, on, oerr)
			case n2 != on2 || errors.Is(err2, syscall.EFBIG) != errors.Is(oerr2, syscall.EFBIG):
				fmt.Printf("%s first=%d append=%v: the next Write = %d, %v; os.File.Write %d, %v\n", be, first, app, n2, err2, on2, oerr2)
			case n3 != on3 || err3 != oerr3:
				fmt.Printf("%s first=%d append=%v: a Read after = %d, %v; os.File.Read %d, %v\n", be, first, app, n3, err3, on3, oerr3)
			case !bytes.Equal(got, want):
				fmt.Printf("%s first=%d append=%v: file of %d bytes differs from os's of %d: %s\n", be, first, app, len(got), len(want), diffAt(got, want))
			default:
				fmt.Printf("%s first=%d append=%v: same as os\n", be, first, app)
			}
		}
	}
}

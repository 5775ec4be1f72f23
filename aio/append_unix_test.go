//go:build unix

package aio_test

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
)

// TestNewFileOfAnAppendFd: a descriptor opened with O_APPEND outside package os refuses WriteAt too
// (pwrite would append there, whatever the offset), on both backends, and the file is unchanged.
func TestNewFileOfAnAppendFd(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		content := pattern(6, 0, 100)
		name := tempPath(t, content)
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_APPEND|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.NewFile(os.NewFile(uintptr(fd), name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n, err := await(t, f.WriteAt(context.Background(), []byte("XYZ"), 10))
		if n != 0 || err == nil {
			t.Fatalf("WriteAt on an O_APPEND descriptor = %d, %v; want an error", n, err)
		}
		checkBytes(t, "file", fileBytes(t, name), content)
		// Reading works.
		buf := make([]byte, 10)
		if n, err := await(t, f.ReadAt(context.Background(), buf, 5)); n != 10 || err != nil {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		checkBytes(t, "ReadAt", buf, content[5:15])
	})
}

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
)

// openKmsgAtEnd opens /dev/kmsg non-blocking, positioned after the last record, or skips the test.
func openKmsgAtEnd(t *testing.T) *os.File {
	t.Helper()
	osf, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("/dev/kmsg: %v", err)
	}
	if _, err := osf.Seek(0, 2); err != nil {
		osf.Close()
		t.Skipf("/dev/kmsg seek: %v", err)
	}
	return osf
}

// ReadAt of a descriptor in non-blocking mode never waits with package os: os.File.ReadAt (pread(2))
// of /dev/kmsg with nothing new returns EAGAIN at once, and so does the pool backend. The io_uring
// backend's read waited in the kernel's poll instead, and its future never completed, not even when
// new records arrived (only a Close or a cancellation ended it; found in session 19). It now makes the
// call itself for a character device in non-blocking mode (uringBackend.now).
func TestReadAtOfANonblockingDeviceDoesNotWait(t *testing.T) {
	ref := openKmsgAtEnd(t)
	_, oerr := ref.ReadAt(make([]byte, 8192), 0)
	ref.Close()
	if !errors.Is(oerr, unix.EAGAIN) {
		t.Skipf("os.File.ReadAt of a non-blocking /dev/kmsg gives %v here, not EAGAIN", oerr)
	}
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, err := a.NewFile(openKmsgAtEnd(t))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fut := f.ReadAt(context.Background(), make([]byte, 8192), 0)
		select {
		case <-fut.Done():
		case <-time.After(2 * time.Second):
			t.Fatalf("ReadAt of a non-blocking /dev/kmsg still pending after 2s; os.File.ReadAt returns %v at once", oerr)
		}
		n, err := fut.Result()
		if n == 0 && !errors.Is(err, unix.EAGAIN) {
			t.Errorf("ReadAt = %d, %v; want EAGAIN as os.File.ReadAt gives", n, err)
		}
	})
}

// The calls made at once for a non-blocking character device keep os.File's results: /dev/null reads
// nothing (io.EOF) and takes every byte, /dev/zero fills the buffer.
func TestNonblockingDeviceAtOffsets(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		for _, tc := range []struct {
			name   string
			read   int
			rerr   error
			writes bool
		}{{"/dev/null", 0, io.EOF, true}, {"/dev/zero", 4096, nil, true}} {
			osf, err := os.OpenFile(tc.name, os.O_RDWR|unix.O_NONBLOCK, 0)
			if err != nil {
				t.Skipf("%s: %v", tc.name, err)
			}
			f, err := a.NewFile(osf)
			if err != nil {
				t.Fatal(err)
			}
			buf := bytes.Repeat([]byte{1}, 4096)
			n, err := f.ReadAt(context.Background(), buf, 1<<20).Await(context.Background())
			if n != tc.read || !errors.Is(err, tc.rerr) || n > 0 && buf[0] != 0 {
				t.Errorf("%s: ReadAt = %d, %v; want %d, %v", tc.name, n, err, tc.read, tc.rerr)
			}
			n, err = f.WriteAt(context.Background(), buf, 1<<20).Await(context.Background())
			if n != len(buf) || err != nil {
				t.Errorf("%s: WriteAt = %d, %v; want %d, nil", tc.name, n, err, len(buf))
			}
			if err := f.Close(); err != nil {
				t.Error(err)
			}
		}
	})
}

//go:build linux

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
)

// A second File.Close, made while the first waits for an operation in flight, waits too: File.Close
// documents "When Close returns, no operation of the file uses its buffer any more". It returned at
// once, and the kernel went on writing the buffer (found by a review; IO.Close already waited:
// TestSecondIOCloseWaits). Checked by the bytes: what the buffer holds when the second Close returns
// must be what it holds once the read has completed.
func TestSecondFileCloseWaits(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		const size = 64 << 20
		name := filepath.Join(t.TempDir(), "big")
		if err := os.WriteFile(name, bytes.Repeat([]byte{0xab}, size), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := a.Open(name, os.O_RDONLY|syscall.O_DIRECT, 0)
		if err != nil {
			t.Skip(err)
		}
		buf := make([]byte, size) // page-aligned: a large allocation
		fut := f.ReadAt(context.Background(), buf, 0)
		time.Sleep(2 * time.Millisecond) // the pool's worker takes it from the line
		first := make(chan error, 1)
		go func() { first <- f.Close() }()
		// wait until the first Close has begun (an empty ReadAt then fails with os.ErrClosed)
		for {
			if _, err := f.ReadAt(context.Background(), nil, 0).Result(); errors.Is(err, os.ErrClosed) {
				break
			}
			runtime.Gosched()
		}
		f.Close()
		snap := bytes.Clone(buf)
		<-first
		await(t, fut)
		if !bytes.Equal(snap, buf) {
			t.Error("the buffer was written after the second File.Close returned")
		}
	})
}

// os.File.ReadAt and WriteAt with an empty buffer return 0, nil on any open file (their loop makes no
// system call), and so do aio's; they failed with ESPIPE on a pipe (found by a review).
func TestEmptyReadAtOfPipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		defer pr.Close()
		on, oerr := pr.ReadAt(nil, 0)
		f, _ := pipeFile(t, a, true)
		n, err := await(t, f.ReadAt(context.Background(), nil, 0))
		if n != on || err != oerr {
			t.Errorf("empty ReadAt of a pipe = %d, %v; os.File.ReadAt gives %d, %v", n, err, on, oerr)
		}
	})
}

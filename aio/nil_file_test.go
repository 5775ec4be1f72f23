package aio_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// TestNilFile: the methods of a nil *File fail with os.ErrInvalid, as os.File's do, rather than
// panic (a File variable left nil by a failed Open, say).
func TestNilFile(t *testing.T) {
	var f *aio.File
	var o *os.File
	ctx := context.Background()
	p := make([]byte, 4)
	call := func(what string, fn func() error) {
		t.Helper()
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = errors.New("panic")
					t.Errorf("%s of a nil *File panicked: %v", what, r)
				}
			}()
			err = fn()
		}()
		if err != nil && err.Error() == "panic" {
			return
		}
		if !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%s of a nil *File: %v, want os.ErrInvalid", what, err)
		}
	}
	// os.File's, for reference.
	if _, err := o.ReadAt(p, 0); !errors.Is(err, os.ErrInvalid) {
		t.Fatalf("os: %v", err)
	}
	call("ReadAt", func() error { _, err := await(t, f.ReadAt(ctx, p, 0)); return err })
	call("WriteAt", func() error { _, err := await(t, f.WriteAt(ctx, p, 0)); return err })
	call("Read", func() error { _, err := await(t, f.Read(ctx, p)); return err })
	call("Write", func() error { _, err := await(t, f.Write(ctx, p)); return err })
	call("empty Write", func() error { _, err := await(t, f.Write(ctx, nil)); return err })
	call("Sync", func() error { _, err := await(t, f.Sync(ctx)); return err })
	call("Stat", func() error { _, err := f.Stat(); return err })
	call("Close", func() error { return f.Close() })
}

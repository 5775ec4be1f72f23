package aio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// npOutcome is what one ReadAt or WriteAt gave: the count, and the error as os.File shows it.
func npOutcome(n int, err error) string {
	if err == nil {
		return fmt.Sprintf("%d <nil>", n)
	}
	if err == io.EOF {
		return fmt.Sprintf("%d EOF", n)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) {
		return fmt.Sprintf("%d %T %v", n, err, err)
	}
	var errno syscall.Errno
	if errors.As(pe.Err, &errno) {
		return fmt.Sprintf("%d *PathError{%s %s errno %d (%v)}", n, pe.Op, pe.Path, int(errno), errno)
	}
	return fmt.Sprintf("%d *PathError{%s %s %v}", n, pe.Op, pe.Path, pe.Err)
}

// npStep is one positioned operation of the comparison.
type npStep struct {
	write bool
	data  string // what a write writes; a read reads len(data) bytes
	off   int64
}

func (s npStep) String() string {
	if s.write {
		return fmt.Sprintf("WriteAt(%q, %d)", s.data, s.off)
	}
	return fmt.Sprintf("ReadAt(%d B, %d)", len(s.data), s.off)
}

// npRun runs s on osf, or on af when it is not nil, and returns the outcome and, for a read, the bytes.
func npRun(t *testing.T, osf *os.File, af *aio.File, s npStep) (string, string) {
	t.Helper()
	var n int
	var err error
	p := []byte(s.data)
	if !s.write {
		p = make([]byte, len(s.data))
	}
	switch {
	case af == nil && s.write:
		n, err = osf.WriteAt(p, s.off)
	case af == nil:
		n, err = osf.ReadAt(p, s.off)
	case s.write:
		n, err = await(t, af.WriteAt(context.Background(), p, s.off))
	default:
		n, err = await(t, af.ReadAt(context.Background(), p, s.off))
	}
	got := ""
	if !s.write && n > 0 {
		got = string(p[:n])
	}
	return npOutcome(n, err), got
}

// TestWriteAtWithoutPwrite: on files without positioned writes that may be written (a writable
// seq_file, /proc/thread-self/comm; a pipe; a FIFO) and on one whose pwrite ignores the offset
// (/dev/null), aio's ReadAt and WriteAt give what os.File's give, on every backend: the same count,
// the same *os.PathError and errno, and nothing written where os.File writes nothing. io_uring's
// WRITE at an offset does not check FMODE_PWRITE: it renamed the thread where os.File says ESPIPE.
func TestWriteAtWithoutPwrite(t *testing.T) {
	ios := ocIOs(t)

	t.Run("comm", func(t *testing.T) {
		// /proc/thread-self is the opening thread's: keep this goroutine on it until the name is
		// back.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		const comm = "/proc/thread-self/comm"
		old, err := os.ReadFile(comm)
		if err != nil {
			t.Skipf("%s: %v", comm, err)
		}
		restore, err := os.OpenFile(comm, os.O_WRONLY, 0)
		if err != nil {
			t.Skipf("%s: %v", comm, err)
		}
		defer func() {
			if _, err := restore.Write(bytes.TrimSuffix(old, []byte("\n"))); err != nil {
				t.Errorf("restoring the thread's name: %v", err)
			}
			restore.Close()
			if now, _ := os.ReadFile(comm); !bytes.Equal(now, old) {
				t.Errorf("the thread's name is %q after the test, was %q", now, old)
			}
		}()
		name := func() string {
			b, _ := os.ReadFile(comm)
			return string(b)
		}
		steps := []npStep{
			{write: true, data: "test-at5", off: 5},
			{write: true, data: "test-at0", off: 0},
			{write: true, data: "", off: 3},
			{data: strings.Repeat("r", 64), off: 0},
			{data: strings.Repeat("r", 4), off: 2},
		}
		for _, flag := range []int{os.O_RDWR, os.O_WRONLY} {
			flagName := map[int]string{os.O_RDWR: "O_RDWR", os.O_WRONLY: "O_WRONLY"}[flag]
			for _, s := range steps {
				// The reference: os.File, with the thread's name before and after.
				restore.Write([]byte("test-base"))
				before := name()
				osf, err := os.OpenFile(comm, flag, 0)
				if err != nil {
					t.Fatal(err)
				}
				want, wantData := npRun(t, osf, nil, s)
				osf.Close()
				wantName := name()
				for label, a := range ios {
					restore.Write([]byte("test-base"))
					if name() != before {
						t.Fatalf("name %q, want %q", name(), before)
					}
					af, err := a.Open(comm, flag, 0)
					if err != nil {
						t.Fatalf("%s: Open: %v", label, err)
					}
					got, gotData := npRun(t, nil, af, s)
					if err := af.Close(); err != nil {
						t.Errorf("%s: Close: %v", label, err)
					}
					if got != want || gotData != wantData {
						t.Errorf("%s %s %s: aio %s %q; os.File %s %q", label, flagName, s, got, gotData, want, wantData)
					}
					if n := name(); n != wantName {
						t.Errorf("%s %s %s: the thread's name is %q after aio, %q after os.File", label, flagName, s, n, wantName)
					}
				}
			}
		}
	})

	t.Run("pipe", func(t *testing.T) {
		for label, a := range ios {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			// The reference on the same pipe: os.File refuses at once, writing nothing.
			want, _ := npRun(t, w, nil, npStep{write: true, data: "abc", off: 5})
			wantR, _ := npRun(t, r, nil, npStep{data: "abc", off: 0})
			ar, err := a.NewFile(r)
			if err != nil {
				t.Fatal(err)
			}
			aw, err := a.NewFile(w)
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int64{0, 5} {
				if got, _ := npRun(t, nil, aw, npStep{write: true, data: "abc", off: off}); got != want || !strings.Contains(got, "errno 29") {
					t.Errorf("%s: pipe WriteAt at %d: aio %s; os.File %s", label, off, got, want)
				}
				if got, _ := npRun(t, nil, ar, npStep{data: "abc", off: off}); got != wantR || !strings.Contains(got, "errno 29") {
					t.Errorf("%s: pipe ReadAt at %d: aio %s; os.File %s", label, off, got, wantR)
				}
			}
			// Nothing went into the pipe: a Write and a Read through it find only what Write wrote.
			if n, err := await(t, aw.Write(context.Background(), []byte("z"))); n != 1 || err != nil {
				t.Fatalf("%s: Write: %d %v", label, n, err)
			}
			buf := make([]byte, 8)
			if n, err := await(t, ar.Read(context.Background(), buf)); n != 1 || err != nil || buf[0] != 'z' {
				t.Errorf("%s: the pipe held %q (%v) after the refused WriteAts; want %q", label, buf[:n], err, "z")
			}
			aw.Close()
			ar.Close()
		}
	})

	t.Run("fifo", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skip(err)
		}
		// O_RDWR opens a FIFO at once on Linux.
		osf, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantW, _ := npRun(t, osf, nil, npStep{write: true, data: "abc", off: 7})
		wantR, _ := npRun(t, osf, nil, npStep{data: "abc", off: 0})
		osf.Close()
		for label, a := range ios {
			af, err := a.Open(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			gotW, _ := npRun(t, nil, af, npStep{write: true, data: "abc", off: 7})
			gotR, _ := npRun(t, nil, af, npStep{data: "abc", off: 0})
			if gotW != wantW || gotR != wantR || !strings.Contains(gotW, "errno 29") {
				t.Errorf("%s: FIFO WriteAt %s, ReadAt %s; os.File %s, %s", label, gotW, gotR, wantW, wantR)
			}
			af.Close()
		}
	})

	t.Run("devnull", func(t *testing.T) {
		steps := []npStep{{write: true, data: "abc", off: 7}, {write: true, data: "abc", off: 0}, {data: "abc", off: 3}}
		for _, s := range steps {
			osf, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := npRun(t, osf, nil, s)
			osf.Close()
			for label, a := range ios {
				af, err := a.Open(os.DevNull, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := npRun(t, nil, af, s); got != want {
					t.Errorf("%s: /dev/null %s: aio %s; os.File %s", label, s, got, want)
				}
				af.Close()
			}
		}
	})
}

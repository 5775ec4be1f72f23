//go:build unix

package aio_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// A Read and a Write of aio move the position the descriptor's open file description holds, which a
// dup of the descriptor (an os.File) shares, as read(2) and write(2) do: turns taken between the two
// see each other's moves, on both backends (96fd018 made io_uring's at the position lseek reads).
func TestPositionSharedWithDup(t *testing.T) {
	data := pattern(7, 0, 1<<12)
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		name := tempPath(t, data)
		osf, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer osf.Close()
		fd, err := syscall.Dup(int(osf.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.NewFile(os.NewFile(uintptr(fd), name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ctx := context.Background()
		buf := make([]byte, 100)
		var got []byte
		for i := range 3 {
			n, err := await(t, f.Read(ctx, buf))
			if err != nil || n != len(buf) {
				t.Fatalf("aio Read %d: %d, %v", i, n, err)
			}
			got = append(got, buf[:n]...)
			if n, err := io.ReadFull(osf, buf); err != nil || n != len(buf) {
				t.Fatalf("os Read %d: %d, %v", i, n, err)
			}
			got = append(got, buf...)
		}
		if !bytes.Equal(got, data[:600]) {
			t.Fatalf("reads taking turns did not read the file in order")
		}
		// A Write at the shared position, then the os.File reads on after it.
		w := bytes.Repeat([]byte{'w'}, 50)
		if n, err := await(t, f.Write(ctx, w)); err != nil || n != len(w) {
			t.Fatalf("aio Write: %d, %v", n, err)
		}
		if pos, _ := osf.Seek(0, io.SeekCurrent); pos != 650 {
			t.Fatalf("position after the aio Write: %d, want 650", pos)
		}
		if _, err := io.ReadFull(osf, buf[:10]); err != nil || !bytes.Equal(buf[:10], data[650:660]) {
			t.Fatalf("os Read after the aio Write: %v", err)
		}
		// The os.File seeks; aio's next Read starts there.
		if _, err := osf.Seek(4000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		n, err := await(t, f.Read(ctx, buf))
		if err != nil || n != 96 || !bytes.Equal(buf[:n], data[4000:]) {
			t.Fatalf("aio Read after a Seek: %d, %v", n, err)
		}
		if n, err := await(t, f.Read(ctx, buf)); n != 0 || err != io.EOF {
			t.Fatalf("aio Read at the end: %d, %v", n, err)
		}
		b, _ := os.ReadFile(name)
		if !bytes.Equal(b[600:650], w) || !bytes.Equal(b[:600], data[:600]) || !bytes.Equal(b[650:], data[650:]) {
			t.Fatalf("file after the Write differs")
		}
	})
}

// O_APPEND with another writer appending between aio's Writes: each aio Write goes to the end, and the
// position is left at the end, as write(2) leaves it.
func TestAppendWithOtherWriter(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		name := tempPath(t, []byte("start:"))
		f := open(t, a, name, os.O_RDWR|os.O_APPEND)
		other, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		ctx := context.Background()
		want := []byte("start:")
		for i := range 4 {
			if _, err := other.Write([]byte("other;")); err != nil {
				t.Fatal(err)
			}
			want = append(want, "other;"...)
			p := []byte{'a' + byte(i), ';'}
			if n, err := await(t, f.Write(ctx, p)); err != nil || n != len(p) {
				t.Fatalf("Write %d: %d, %v", i, n, err)
			}
			want = append(want, p...)
			// At the end: a Read finds nothing.
			if n, err := await(t, f.Read(ctx, make([]byte, 8))); n != 0 || err != io.EOF {
				t.Fatalf("Read after Write %d: %d, %v (the position is not at the end)", i, n, err)
			}
		}
		if b, _ := os.ReadFile(name); !bytes.Equal(b, want) {
			t.Fatalf("file %q, want %q", b, want)
		}
	})
}

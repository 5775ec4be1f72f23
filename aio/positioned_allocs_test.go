//go:build unix

package aio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestPositionedFullAllocatesNothing: the pool backend's pread and pwrite (preadFull, pwriteFull),
// which every ReadAt and WriteAt of that backend makes on a worker, allocate nothing in steady
// state. The function they gave RawConn.Control was a closure over their arguments and results:
// three allocations per call (the closure, n and err), and a write made its io.ErrShortWrite error
// before it knew whether it needed one, a fourth.
func TestPositionedFullAllocatesNothing(t *testing.T) {
	if raceOn {
		t.Skip("the race detector's sync.Pool drops what it is given: allocations are not steady")
	}
	name := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("0123456789abcdef"), 512) // 8 KiB
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(WithBackend(Pool))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := a.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	block := data[4096:]
	read := func() {
		clear(buf)
		if n, err := f.preadFull(buf, 4096); n != len(buf) || err != nil || !bytes.Equal(buf, block) {
			t.Fatalf("preadFull = %d, %v (bytes equal: %v); want %d, nil", n, err, bytes.Equal(buf, block), len(buf))
		}
	}
	write := func() {
		if n, err := f.pwriteFull(block, 4096); n != len(block) || err != nil {
			t.Fatalf("pwriteFull = %d, %v; want %d, nil", n, err, len(block))
		}
	}
	read()
	write()
	if n := testing.AllocsPerRun(200, read); n != 0 {
		t.Errorf("preadFull: %v allocations per call, want 0", n)
	}
	if n := testing.AllocsPerRun(200, write); n != 0 {
		t.Errorf("pwriteFull: %v allocations per call, want 0", n)
	}

	// What the calls report is unchanged: a read that reaches the end counts what it read and ends
	// with io.EOF; one past the end reads nothing.
	if n, err := f.preadFull(buf, int64(len(data))-100); n != 100 || err != io.EOF || !bytes.Equal(buf[:100], data[len(data)-100:]) {
		t.Fatalf("preadFull at the end = %d, %v; want 100, io.EOF", n, err)
	}
	if n, err := f.preadFull(buf, int64(len(data))+10); n != 0 || err != io.EOF {
		t.Fatalf("preadFull past the end = %d, %v; want 0, io.EOF", n, err)
	}
	// A failing call is an *os.PathError naming the operation and the file.
	ro, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var pe *os.PathError
	if n, err := ro.pwriteFull(block, 0); n != 0 || !errors.As(err, &pe) || pe.Op != "write" || pe.Path != name {
		t.Fatalf("pwriteFull on a read-only file = %d, %v; want 0 and a write *os.PathError on %s", n, err, name)
	}
	if n, err := f.preadFull(buf, -1); n != 0 || !errors.As(err, &pe) || pe.Op != "read" || pe.Path != name {
		t.Fatalf("preadFull at -1 = %d, %v; want 0 and a read *os.PathError on %s", n, err, name)
	}
}

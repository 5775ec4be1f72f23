package aio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestAllocsPerOperation pins the allocations of a ReadAt and (on the pool) a WriteAt of a page-cached file,
// one in flight, waited for without Await's channel: the operation record, its promise's state and
// the cancel function of its future (a method value), on io_uring, where such a read completes in
// the call; on the pool, the go statement of a worker started for it, when one is. It was 4 on
// io_uring (a context derived for every operation, behind Future.Cancel: the context and its cancel
// function, in place of the method value) and 9 or more on the pool, which also set up a watch of
// that context (context.AfterFunc) for every operation, also for one an idle worker takes at once.
// A context that can be done costs nothing more when the operation does not wait.
func TestAllocsPerOperation(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates on its own: the counts are not steady")
	}
	name := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(name); err != nil { // into the page cache
		t.Fatal(err)
	}
	for _, be := range []Backend{Uring, Pool} {
		t.Run(string(be), func(t *testing.T) {
			a, err := New(WithBackend(be))
			if err != nil {
				if be == Uring {
					t.Skipf("io_uring unavailable: %v", err)
				}
				t.Fatal(err)
			}
			defer a.Close()
			f, err := a.Open(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := 3.0
			if be == Pool {
				want = 4
			}
			cctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			buf := make([]byte, 4096)
			block := data[4096:8192]
			for _, c := range []struct {
				name string
				ctx  context.Context
			}{{"Background", context.Background()}, {"cancellable", cctx}} {
				read := func() {
					clear(buf)
					fut := f.ReadAt(c.ctx, buf, 4096)
					for !fut.Resolved() {
						runtime.Gosched()
					}
					if n, err := fut.Result(); n != len(buf) || err != nil || !bytes.Equal(buf, block) {
						t.Fatalf("ReadAt = %d, %v (bytes equal: %v); want %d, nil", n, err, bytes.Equal(buf, block), len(buf))
					}
				}
				write := func() {
					fut := f.WriteAt(c.ctx, block, 4096) // the same bytes: the file stays as it is
					for !fut.Resolved() {
						runtime.Gosched()
					}
					if n, err := fut.Result(); n != len(block) || err != nil {
						t.Fatalf("WriteAt = %d, %v; want %d, nil", n, err, len(block))
					}
				}
				read()
				write()
				if n := testing.AllocsPerRun(200, read); n > want {
					t.Errorf("%s: ReadAt with a %s context: %v allocations per operation, want at most %v", be, c.name, n, want)
				}
				if be == Uring {
					// A buffered write may be punted to the kernel's io-wq workers (the filesystem
					// decides), and then completes through the reaper, with a context watch when
					// the context can be done: its count depends on the timing (4 to 7 seen).
					continue
				}
				if n := testing.AllocsPerRun(200, write); n > want {
					t.Errorf("%s: WriteAt with a %s context: %v allocations per operation, want at most %v", be, c.name, n, want)
				}
			}
		})
	}
}

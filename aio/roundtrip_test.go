package aio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// randSize returns a size from 1 B to max, spread evenly over the powers of two so that small and
// large transfers both come up.
func randSize(rng *rand.Rand, max int) int {
	bits := rng.IntN(24) // up to 8 MiB = 1<<23
	n := 1 + rng.IntN(1<<bits)
	return min(n, max)
}

// TestRoundTripRandom writes random data of random sizes (1 B to 8 MiB) at random offsets with
// WriteAt, checks each write against what os.File reads there, reads random ranges back with ReadAt
// and checks them against a model of the file, and checks the whole file at the end.
func TestRoundTripRandom(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, uint64(len(a.Backend()))))
		name := tempPath(t, nil)
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)
		ref, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		var model []byte
		sizes := []int{1, 8 << 20, 4096, 4095, 4097, 2, 1 << 20}
		for i := range 36 {
			size := randSize(rng, 8<<20)
			if i < len(sizes) {
				size = sizes[i]
			}
			off := rng.Int64N(12 << 20)
			if i%5 == 0 {
				off = int64(rng.IntN(4)) * 4096 // aligned, at the start
			}
			data := randBytes(rng, size)
			n, err := await(t, f.WriteAt(ctx, data, off))
			if n != size || err != nil {
				t.Fatalf("WriteAt(%d B at %d) = %d, %v", size, off, n, err)
			}
			if end := off + int64(size); end > int64(len(model)) {
				model = append(model, make([]byte, end-int64(len(model)))...)
			}
			copy(model[off:], data)

			// What os sees where we wrote.
			got := make([]byte, size)
			if n, err := ref.ReadAt(got, off); n != size {
				t.Fatalf("os ReadAt after WriteAt: %d, %v", n, err)
			}
			checkBytes(t, fmt.Sprintf("os.ReadAt of WriteAt(%d B at %d)", size, off), got, data)

			// What ReadAt sees in a random range (within the file, or across its end).
			rsize := randSize(rng, 8<<20)
			roff := rng.Int64N(int64(len(model)))
			buf := make([]byte, rsize)
			n, err = await(t, f.ReadAt(ctx, buf, roff))
			want := model[roff:min(roff+int64(rsize), int64(len(model)))]
			if n != len(want) {
				t.Fatalf("ReadAt(%d B at %d) of a %d-byte file = %d, %v; want %d", rsize, roff, len(model), n, err, len(want))
			}
			if n < rsize && err != io.EOF {
				t.Fatalf("ReadAt(%d B at %d) = %d, %v; want io.EOF with a short count", rsize, roff, n, err)
			}
			if n == rsize && err != nil {
				t.Fatalf("ReadAt(%d B at %d) = %d, %v; want no error with a full count", rsize, roff, n, err)
			}
			checkBytes(t, fmt.Sprintf("ReadAt(%d B at %d)", rsize, roff), buf[:n], want)
		}
		if _, err := await(t, f.Sync(ctx)); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		checkBytes(t, "whole file", fileBytes(t, name), model)
		fi, err := f.Stat()
		if err != nil || fi.Size() != int64(len(model)) {
			t.Fatalf("Stat = %v, %v; want size %d", fi, err, len(model))
		}
	})
}

// TestReadWhatOSWrote reads with ReadAt what os.File wrote, at random offsets and sizes.
func TestReadWhatOSWrote(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(7, 7))
		content := randBytes(rng, 9<<20+123)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDONLY)
		for range 40 {
			size := randSize(rng, 8<<20)
			off := rng.Int64N(int64(len(content)))
			buf := make([]byte, size)
			n, err := await(t, f.ReadAt(ctx, buf, off))
			want := content[off:min(off+int64(size), int64(len(content)))]
			if n != len(want) || (n < size) != (err == io.EOF) || (n == size && err != nil) {
				t.Fatalf("ReadAt(%d B at %d) = %d, %v; want %d", size, off, n, err, len(want))
			}
			checkBytes(t, "ReadAt", buf[:n], want)
		}
	})
}

// TestConcurrentDisjoint has many goroutines write and read back their own regions of one file at
// once, each keeping several operations in flight, and checks every read and the whole file.
func TestConcurrentDisjoint(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		const (
			workers = 32
			region  = 256 << 10
			ops     = 8
		)
		name := tempPath(t, nil)
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 99))
				base := int64(w) * region
				// Several writes in flight at once, on disjoint pieces of the region.
				piece := region / ops
				var writes []future.Future[int]
				var datas [][]byte
				for i := range ops {
					size := 1 + rng.IntN(piece)
					data := pattern(byte(w), base+int64(i*piece), size)
					datas = append(datas, data)
					writes = append(writes, f.WriteAt(ctx, data, base+int64(i*piece)))
				}
				for i, fut := range writes {
					n, err := fut.Await(ctx)
					if n != len(datas[i]) || err != nil {
						errs <- fmt.Errorf("worker %d WriteAt %d: %d, %v", w, i, n, err)
						return
					}
				}
				// Several reads in flight at once.
				var reads []future.Future[int]
				bufs := make([][]byte, ops)
				for i := range ops {
					bufs[i] = make([]byte, len(datas[i]))
					reads = append(reads, f.ReadAt(ctx, bufs[i], base+int64(i*piece)))
				}
				for i, fut := range reads {
					n, err := fut.Await(ctx)
					if n != len(datas[i]) || err != nil {
						errs <- fmt.Errorf("worker %d ReadAt %d: %d, %v", w, i, n, err)
						return
					}
					if string(bufs[i]) != string(datas[i]) {
						errs <- fmt.Errorf("worker %d ReadAt %d: wrong data", w, i)
						return
					}
				}
			})
		}
		within(t, "the workers", wg.Wait)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		// The whole file: each region holds its pieces, zeros elsewhere (the pieces' sizes are random:
		// recompute them from the same seeds).
		want := make([]byte, 0, workers*region)
		for w := range workers {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			base := int64(w) * region
			reg := make([]byte, region)
			piece := region / ops
			for i := range ops {
				size := 1 + rng.IntN(piece)
				copy(reg[i*piece:], pattern(byte(w), base+int64(i*piece), size))
			}
			want = append(want, reg...)
		}
		got := fileBytes(t, name)
		// The file ends at the end of the last piece written.
		checkBytes(t, "whole file", got, want[:len(got)])
		for _, b := range want[len(got):] {
			if b != 0 {
				t.Fatalf("file is %d bytes, shorter than the data written", len(got))
			}
		}
	})
}

// TestLargerThanBuffer reads a file through a buffer much smaller than it, as io.SectionReader
// would, and finds its end with a short read and io.EOF.
func TestLargerThanBuffer(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		content := pattern(3, 0, 3<<20+777)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDONLY)
		buf := make([]byte, 64<<10)
		var got []byte
		var off int64
		for {
			n, err := await(t, f.ReadAt(ctx, buf, off))
			got = append(got, buf[:n]...)
			off += int64(n)
			if err == io.EOF {
				if n == len(buf) {
					t.Fatalf("ReadAt = %d, io.EOF: a full count with io.EOF, where os.File says nil", n)
				}
				break
			}
			if err != nil {
				t.Fatalf("ReadAt at %d: %d, %v", off, n, err)
			}
			if n != len(buf) {
				t.Fatalf("ReadAt at %d = %d, nil: a short count without an error", off, n)
			}
		}
		checkBytes(t, "file read in pieces", got, content)

		// And the whole file in one ReadAt larger than it.
		all := make([]byte, len(content)+4096)
		n, err := await(t, f.ReadAt(ctx, all, 0))
		if n != len(content) || err != io.EOF {
			t.Fatalf("ReadAt of more than the file = %d, %v; want %d, io.EOF", n, err, len(content))
		}
		checkBytes(t, "one ReadAt", all[:n], content)
	})
}

// TestReadAcrossEOF reads ranges that start inside the file and end after it: the count is what
// the file has, the error io.EOF, and the bytes right.
func TestReadAcrossEOF(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(5, 5))
		for _, size := range []int{1, 100, 4096, 4097, 65536 + 3, 1<<20 + 1} {
			content := randBytes(rng, size)
			name := tempPath(t, content)
			f := open(t, a, name, os.O_RDONLY)
			for range 5 {
				off := rng.Int64N(int64(size))
				blen := int(int64(size)-off) + 1 + rng.IntN(8192)
				buf := make([]byte, blen)
				n, err := await(t, f.ReadAt(ctx, buf, off))
				if n != size-int(off) || err != io.EOF {
					t.Fatalf("file of %d B: ReadAt(%d B at %d) = %d, %v; want %d, io.EOF", size, blen, off, n, err, size-int(off))
				}
				checkBytes(t, "bytes before EOF", buf[:n], content[off:])
			}
			// Exactly to the end: a full count, and no error (os.File says nil here too).
			buf := make([]byte, 10)
			if size >= 10 {
				n, err := await(t, f.ReadAt(ctx, buf, int64(size-10)))
				wantN, wantErr := (&osReader{t, name}).readAt(buf, int64(size-10))
				if n != wantN || !sameErr(err, wantErr) {
					t.Fatalf("ReadAt to the exact end = %d, %v; os says %d, %v", n, err, wantN, wantErr)
				}
			}
			f.Close()
		}
	})
}

type osReader struct {
	t    testing.TB
	name string
}

func (r *osReader) readAt(p []byte, off int64) (int, error) {
	f, err := os.Open(r.name)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	return f.ReadAt(p, off)
}

// TestReadAtAndAfterEOF reads at the end of the file and after it: 0, io.EOF.
func TestReadAtAndAfterEOF(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		for _, size := range []int{0, 1, 4096, 100000} {
			name := tempPath(t, pattern(1, 0, size))
			f := open(t, a, name, os.O_RDWR)
			for _, off := range []int64{int64(size), int64(size) + 1, int64(size) + 4096, 1 << 40} {
				for _, blen := range []int{1, 4096, 1 << 20} {
					n, err := await(t, f.ReadAt(ctx, make([]byte, blen), off))
					if n != 0 || err != io.EOF {
						t.Fatalf("file of %d B: ReadAt(%d B at %d) = %d, %v; want 0, io.EOF", size, blen, off, n, err)
					}
				}
			}
			f.Close()
		}
	})
}

// TestEmptyBuffer: an empty ReadAt or WriteAt is (0, nil) wherever it is, and changes nothing.
func TestEmptyBuffer(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		content := pattern(9, 0, 1000)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDWR)
		for _, off := range []int64{0, 500, 1000, 5000, 1 << 40} {
			for _, p := range [][]byte{nil, {}, make([]byte, 0, 10)} {
				fut := f.ReadAt(ctx, p, off)
				if n, err := await(t, fut); n != 0 || err != nil {
					t.Fatalf("ReadAt(empty at %d) = %d, %v; want 0, nil", off, n, err)
				}
				fut = f.WriteAt(ctx, p, off)
				if n, err := await(t, fut); n != 0 || err != nil {
					t.Fatalf("WriteAt(empty at %d) = %d, %v; want 0, nil", off, n, err)
				}
			}
		}
		checkBytes(t, "file after empty writes", fileBytes(t, name), content)
	})
}

// TestSync: Sync succeeds on a written file and on a read-only one, and the data is there.
func TestSync(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		name := tempPath(t, nil)
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)
		data := pattern(4, 0, 100000)
		if n, err := await(t, f.WriteAt(ctx, data, 0)); n != len(data) || err != nil {
			t.Fatalf("WriteAt = %d, %v", n, err)
		}
		// Several syncs at once, and writes between them.
		var syncs []future.Future[struct{}]
		var writes []future.Future[int]
		extra := pattern(5, 0, 80)
		for i := range 8 {
			syncs = append(syncs, f.Sync(ctx))
			writes = append(writes, f.WriteAt(ctx, extra[i*10:i*10+10], int64(len(data)+i*10)))
		}
		for _, s := range syncs {
			if _, err := await(t, s); err != nil {
				t.Fatalf("Sync: %v", err)
			}
		}
		for _, w := range writes {
			if n, err := await(t, w); n != 10 || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
		}
		if _, err := await(t, f.Sync(ctx)); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		ro := open(t, a, name, os.O_RDONLY)
		if _, err := await(t, ro.Sync(ctx)); err != nil {
			t.Fatalf("Sync of a read-only file: %v", err)
		}
		want := append(append([]byte(nil), data...), extra...)
		checkBytes(t, "file", fileBytes(t, name), want)
	})
}

// TestSyncOfPipe: fsync of a pipe fails (EINVAL), as os.File.Sync does, with an *os.PathError.
func TestSyncOfPipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		osErr := w.Sync()
		if osErr == nil {
			t.Skip("os.File.Sync of a pipe succeeds here")
		}
		f, err := a.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = await(t, f.Sync(context.Background()))
		pathErr(t, "Sync of a pipe", err)
		if !errors.Is(err, syscall.EINVAL) || !errors.Is(osErr, syscall.EINVAL) {
			t.Fatalf("Sync of a pipe: %v; os.File.Sync says %v", err, osErr)
		}
	})
}

// TestNameAndStat: Name is the name opened, Stat the file's.
func TestNameAndStat(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		name := tempPath(t, make([]byte, 1234))
		f := open(t, a, name, os.O_RDONLY)
		if f.Name() != name {
			t.Fatalf("Name() = %q, want %q", f.Name(), name)
		}
		fi, err := f.Stat()
		if err != nil || fi.Size() != 1234 || !fi.Mode().IsRegular() {
			t.Fatalf("Stat = %v, %v", fi, err)
		}
		f.Close()
		if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Stat after Close: %v, want os.ErrClosed", err)
		}
	})
}

// TestDirectory: reading a directory fails as os.File.ReadAt does (EISDIR).
func TestDirectory(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		dir := t.TempDir()
		osf, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, osErr := osf.ReadAt(make([]byte, 10), 0)
		osf.Close()
		f := open(t, a, dir, os.O_RDONLY)
		n, err := await(t, f.ReadAt(context.Background(), make([]byte, 10), 0))
		if n != 0 || !errors.Is(err, syscall.EISDIR) {
			t.Fatalf("ReadAt of a directory = %d, %v; want EISDIR (os says %v)", n, err, osErr)
		}
		pathErr(t, "ReadAt of a directory", err)
	})
}

// TestHugeOffsets compares ReadAt and WriteAt at offsets near the largest int64 with os.File's.
func TestHugeOffsets(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		name := tempPath(t, pattern(2, 0, 100))
		osf, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer osf.Close()
		f := open(t, a, name, os.O_RDWR)
		for _, off := range []int64{1 << 40, 1 << 62, math.MaxInt64 - 100, math.MaxInt64 - 1, math.MaxInt64} {
			wantN, wantErr := osf.ReadAt(make([]byte, 10), off)
			n, err := await(t, f.ReadAt(ctx, make([]byte, 10), off))
			if n != wantN || !sameErr(err, wantErr) {
				t.Errorf("ReadAt(10 B at %d) = %d, %v; os.File says %d, %v", off, n, err, wantN, wantErr)
			}
			if off == 1<<40 {
				continue // a sparse write that would succeed: not worth the blocks
			}
			wantN, wantErr = osf.WriteAt(make([]byte, 10), off)
			n, err = await(t, f.WriteAt(ctx, make([]byte, 10), off))
			if n != wantN || !sameErr(err, wantErr) {
				t.Errorf("WriteAt(10 B at %d) = %d, %v; os.File says %d, %v", off, n, err, wantN, wantErr)
			}
		}
	})
}

// sameErr reports whether got is the error want is: both nil, both io.EOF, or the same errno.
func sameErr(got, want error) bool {
	if got == nil || want == nil || want == io.EOF {
		return got == want
	}
	var errno syscall.Errno
	if errors.As(want, &errno) {
		return errors.Is(got, errno)
	}
	return got.Error() == want.Error()
}

// TestSpecialFiles compares ReadAt and WriteAt of character devices and procfs with os.File's.
func TestSpecialFiles(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		cases := []struct {
			name string
			flag int
			off  int64
			n    int
			w    bool
		}{
			{"/dev/zero", os.O_RDONLY, 12345, 1 << 20, false},
			{"/dev/null", os.O_RDONLY, 0, 100, false},
			{"/dev/null", os.O_WRONLY, 77, 100, true},
			{"/dev/full", os.O_WRONLY, 0, 100, true},
			{"/proc/version", os.O_RDONLY, 0, 1 << 16, false},
			{"/proc/version", os.O_RDONLY, 5, 10, false},
		}
		for _, c := range cases {
			osf, err := os.OpenFile(c.name, c.flag, 0)
			if err != nil {
				t.Logf("%s: %v", c.name, err)
				continue
			}
			want := make([]byte, c.n)
			var wantN int
			var wantErr error
			if c.w {
				wantN, wantErr = osf.WriteAt(want, c.off)
			} else {
				wantN, wantErr = osf.ReadAt(want, c.off)
			}
			osf.Close()
			f, err := a.Open(c.name, c.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, c.n)
			var n int
			if c.w {
				n, err = await(t, f.WriteAt(ctx, got, c.off))
			} else {
				n, err = await(t, f.ReadAt(ctx, got, c.off))
			}
			f.Close()
			if n != wantN || !sameErr(err, wantErr) {
				t.Errorf("%s (write %v) %d B at %d = %d, %v; os.File says %d, %v", c.name, c.w, c.n, c.off, n, err, wantN, wantErr)
				continue
			}
			if !c.w {
				checkBytes(t, c.name, got[:n], want[:wantN])
			}
		}
	})
}

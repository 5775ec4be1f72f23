package aio_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// small makes the io_uring backend keep 2 operations in the kernel, and the pool run 1 at a time:
// everything else waits in line.
var small = []aio.Option{aio.WithQueueDepth(2), aio.WithWorkers(1)}

// TestMoreThanQueueDepth keeps 2,000 writes, then 2,000 reads, then 2,000 mixed operations in
// flight on an IO that runs 2 (io_uring) or 1 (pool) at a time: all complete, and the data is right.
func TestMoreThanQueueDepth(t *testing.T) {
	eachBackend(t, small, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		const ops = 2000
		rng := rand.New(rand.NewPCG(11, 11))
		sizes := make([]int, ops)
		offs := make([]int64, ops)
		var end int64
		for i := range sizes {
			sizes[i] = 1 + rng.IntN(4096)
			offs[i] = end
			end += int64(sizes[i]) + int64(rng.IntN(100))
		}
		name := tempPath(t, nil)
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)

		writes := make([]future.Future[int], ops)
		for i := range ops {
			writes[i] = f.WriteAt(ctx, pattern(1, offs[i], sizes[i]), offs[i])
		}
		all := future.AllSettled(writes...)
		outs, _ := await(t, all)
		for i, o := range outs {
			if o.Value != sizes[i] || o.Err != nil {
				t.Fatalf("WriteAt %d = %d, %v", i, o.Value, o.Err)
			}
		}
		content := fileBytes(t, name)
		for i := range ops {
			checkBytes(t, fmt.Sprintf("write %d", i), content[offs[i]:offs[i]+int64(sizes[i])], pattern(1, offs[i], sizes[i]))
		}

		bufs := make([][]byte, ops)
		reads := make([]future.Future[int], ops)
		for i := range ops {
			bufs[i] = make([]byte, sizes[i])
			reads[i] = f.ReadAt(ctx, bufs[i], offs[i])
		}
		for i := range ops {
			n, err := await(t, reads[i])
			if n != sizes[i] || err != nil {
				t.Fatalf("ReadAt %d = %d, %v", i, n, err)
			}
			checkBytes(t, fmt.Sprintf("read %d", i), bufs[i], pattern(1, offs[i], sizes[i]))
		}

		// Mixed: rewrite the even ones with new data while reading the odd ones, plus syncs.
		mixed := make([]future.Future[int], ops)
		var syncs []future.Future[struct{}]
		for i := range ops {
			if i%2 == 0 {
				mixed[i] = f.WriteAt(ctx, pattern(2, offs[i], sizes[i]), offs[i])
			} else {
				clear(bufs[i])
				mixed[i] = f.ReadAt(ctx, bufs[i], offs[i])
			}
			if i%500 == 0 {
				syncs = append(syncs, f.Sync(ctx))
			}
		}
		for i := range ops {
			n, err := await(t, mixed[i])
			if n != sizes[i] || err != nil {
				t.Fatalf("op %d = %d, %v", i, n, err)
			}
			if i%2 == 1 {
				checkBytes(t, fmt.Sprintf("read %d", i), bufs[i], pattern(1, offs[i], sizes[i]))
			}
		}
		for _, s := range syncs {
			if _, err := await(t, s); err != nil {
				t.Fatalf("Sync: %v", err)
			}
		}
		content = fileBytes(t, name)
		for i := 0; i < ops; i += 2 {
			checkBytes(t, fmt.Sprintf("rewrite %d", i), content[offs[i]:offs[i]+int64(sizes[i])], pattern(2, offs[i], sizes[i]))
		}
	})
}

// TestManyGoroutinesSmallQueue: 64 goroutines each keep 32 operations in flight on their own file
// region, through an IO that runs 2 (or 1) at a time.
func TestManyGoroutinesSmallQueue(t *testing.T) {
	eachBackend(t, small, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		name := tempPath(t, nil)
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)
		const (
			gs    = 64
			per   = 32
			block = 512
		)
		var wg sync.WaitGroup
		errs := make(chan error, gs)
		for g := range gs {
			wg.Go(func() {
				base := int64(g) * per * block
				futs := make([]future.Future[int], per)
				for i := range per {
					off := base + int64(i*block)
					futs[i] = f.WriteAt(ctx, pattern(byte(g), off, block), off)
				}
				for i, fu := range futs {
					if n, err := fu.Await(ctx); n != block || err != nil {
						errs <- fmt.Errorf("goroutine %d write %d: %d, %v", g, i, n, err)
						return
					}
				}
				buf := make([]byte, per*block)
				if n, err := f.ReadAt(ctx, buf, base).Await(ctx); n != len(buf) || err != nil {
					errs <- fmt.Errorf("goroutine %d read: %d, %v", g, n, err)
					return
				}
				for i := range per {
					off := base + int64(i*block)
					if string(buf[i*block:(i+1)*block]) != string(pattern(byte(g), off, block)) {
						errs <- fmt.Errorf("goroutine %d block %d: wrong data", g, i)
						return
					}
				}
			})
		}
		within(t, "the goroutines", wg.Wait)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestFileCloseWithQueuedOps closes a File with 2,000 operations in flight on an IO that runs 2 (or
// 1) at a time: Close returns, every future completes, each with its full result or with an error
// that matches os.ErrClosed, and what was written is in the file.
func TestFileCloseWithQueuedOps(t *testing.T) {
	eachBackend(t, small, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		const ops, block = 2000, 256
		name := tempPath(t, make([]byte, ops*block))
		f := open(t, a, name, os.O_RDWR)
		futs := make([]future.Future[int], ops)
		bufs := make([][]byte, ops)
		for i := range ops {
			off := int64(i * block)
			if i%2 == 0 {
				futs[i] = f.WriteAt(ctx, pattern(7, off, block), off)
			} else {
				bufs[i] = make([]byte, block)
				futs[i] = f.ReadAt(ctx, bufs[i], off)
			}
		}
		var cerr error
		within(t, "File.Close", func() { cerr = f.Close() })
		if cerr != nil {
			t.Fatalf("Close: %v", cerr)
		}
		closed, done := 0, 0
		content := fileBytes(t, name)
		for i, fu := range futs {
			n, err := await(t, fu)
			switch {
			case err == nil && n == block:
				done++
				off := int64(i * block)
				if i%2 == 0 {
					checkBytes(t, fmt.Sprintf("write %d", i), content[off:off+block], pattern(7, off, block))
				}
			case errors.Is(err, os.ErrClosed):
				closed++
				pathErr(t, fmt.Sprintf("op %d stopped by Close", i), err)
			default:
				t.Fatalf("op %d = %d, %v; want %d, nil or an error matching os.ErrClosed", i, n, err, block)
			}
		}
		t.Logf("%d done, %d stopped by Close", done, closed)
		// Later operations fail at once.
		if _, err := resolvedNow(t, f.ReadAt(ctx, make([]byte, 1), 0), "ReadAt after Close"); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("ReadAt after Close: %v, want os.ErrClosed", err)
		}
	})
}

// TestIOCloseWithQueuedOps closes the IO with 2,000 operations in flight on two files: Close returns,
// every future completes with its full result or ErrClosed, and the files are closed.
func TestIOCloseWithQueuedOps(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(append([]aio.Option{aio.WithBackend(be)}, small...)...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		const ops, block = 2000, 256
		name1 := tempPath(t, make([]byte, ops*block))
		name2 := tempPath(t, make([]byte, ops*block))
		f1 := open(t, a, name1, os.O_RDWR)
		f2 := open(t, a, name2, os.O_RDWR)
		futs := make([]future.Future[int], ops)
		for i := range ops {
			f := f1
			if i%2 == 1 {
				f = f2
			}
			futs[i] = f.WriteAt(ctx, pattern(8, int64(i*block), block), int64(i*block))
		}
		sync1 := f1.Sync(ctx)
		within(t, "IO.Close", func() { err = a.Close() })
		if err != nil {
			t.Fatalf("IO.Close: %v", err)
		}
		for i, fu := range futs {
			n, err := await(t, fu)
			if !(err == nil && n == block) && !errors.Is(err, aio.ErrClosed) {
				t.Fatalf("op %d = %d, %v; want %d, nil or ErrClosed", i, n, err, block)
			}
		}
		if _, err := await(t, sync1); err != nil && !errors.Is(err, aio.ErrClosed) {
			t.Fatalf("Sync = %v; want nil or ErrClosed", err)
		}
		for _, f := range []*aio.File{f1, f2} {
			if err := f.Close(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("File.Close after IO.Close = %v; want os.ErrClosed (IO.Close closes its files)", err)
			}
		}
	})
}

// TestCloseRacesWithSubmitters closes a File, and then the IO, while goroutines keep asking for
// operations on it: nothing panics, every future completes, with a full result or the right error.
func TestCloseRacesWithSubmitters(t *testing.T) {
	for _, opts := range [][]aio.Option{nil, small} {
		eachBackendName(t, func(t *testing.T, be aio.Backend) {
			for round := range 20 {
				a, err := aio.New(append([]aio.Option{aio.WithBackend(be)}, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				name := tempPath(t, make([]byte, 64<<10))
				f, err := a.Open(name, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				g, err := a.Open(name, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				errs := make(chan error, 8)
				for w := range 8 {
					wg.Go(func() {
						<-start
						file := f
						if w%2 == 1 {
							file = g
						}
						buf := make([]byte, 1024)
						for i := range 200 {
							off := int64((w*200 + i) % 64 * 1024)
							var fu future.Future[int]
							if i%2 == 0 {
								fu = file.ReadAt(ctx, buf, off)
							} else {
								fu = file.WriteAt(ctx, pattern(byte(w), off, 1024), off)
							}
							n, err := fu.Await(ctx)
							if err == nil && n == 1024 {
								continue
							}
							if errors.Is(err, os.ErrClosed) || errors.Is(err, aio.ErrClosed) {
								continue
							}
							errs <- fmt.Errorf("round %d worker %d op %d: %d, %v", round, w, i, n, err)
							return
						}
					})
				}
				close(start)
				within(t, "File.Close", func() { f.Close() })
				within(t, "IO.Close", func() { a.Close() })
				within(t, "the submitters", wg.Wait)
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPingPong: goroutines each ask for one small operation at a time and wait for it, thousands of
// times, so that the io_uring loop goes to sleep and is woken over and over: no wake-up is lost.
func TestPingPong(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		content := pattern(3, 0, 4096)
		f := open(t, a, tempPath(t, content), os.O_RDWR)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), hang)
				defer cancel()
				buf := make([]byte, 16)
				for i := range 1500 {
					off := int64((g*1500 + i) % 4000)
					n, err := f.ReadAt(ctx, buf, off).Await(ctx)
					if n != 16 || err != nil {
						errs <- fmt.Errorf("goroutine %d read %d: %d, %v", g, i, n, err)
						return
					}
					if string(buf) != string(content[off:off+16]) {
						errs <- fmt.Errorf("goroutine %d read %d: wrong data", g, i)
						return
					}
				}
			})
		}
		within(t, "the goroutines", wg.Wait)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// TestDeepQueue: a deep io_uring queue (4,096) with 10,000 operations in flight.
func TestDeepQueue(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(4096)}, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		const ops, block = 10000, 64
		content := pattern(4, 0, ops*block)
		f := open(t, a, tempPath(t, content), os.O_RDONLY)
		bufs := make([]byte, ops*block)
		futs := make([]future.Future[int], ops)
		for i := range ops {
			futs[i] = f.ReadAt(ctx, bufs[i*block:(i+1)*block:(i+1)*block], int64(i*block))
		}
		for i, fu := range futs {
			if n, err := await(t, fu); n != block || err != nil {
				t.Fatalf("ReadAt %d = %d, %v", i, n, err)
			}
		}
		checkBytes(t, "all reads", bufs, content)
	})
}

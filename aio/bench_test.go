package aio_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// benchFile makes a 16 MiB file and reads it once, so that the benchmarks read from the page cache.
func benchFile(b *testing.B) string {
	b.Helper()
	name := filepath.Join(b.TempDir(), "bench")
	data := pattern(1, 0, 16<<20)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := os.ReadFile(name); err != nil {
		b.Fatal(err)
	}
	return name
}

const benchBlock = 4096

// benchOff is the offset of the i-th read: 4 KiB blocks spread over the file.
func benchOff(i int) int64 { return int64(i*7919%4096) * benchBlock }

// BenchmarkReadAt4K reads 4 KiB blocks of a page-cached file with one read in flight and with 64,
// through each backend and through os.File.ReadAt on goroutines.
func BenchmarkReadAt4K(b *testing.B) {
	name := benchFile(b)
	for _, inflight := range []int{1, 64} {
		for _, be := range backends {
			b.Run(string(be)+"/inflight="+itoa(inflight), func(b *testing.B) {
				a, err := aio.New(aio.WithBackend(be))
				if err != nil {
					if be == aio.Uring {
						b.Skipf("io_uring unavailable: %v", err)
					}
					b.Fatal(err)
				}
				defer a.Close()
				f, err := a.Open(name, os.O_RDONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				ctx := context.Background()
				bufs := make([][]byte, inflight)
				for i := range bufs {
					bufs[i] = make([]byte, benchBlock)
				}
				futs := make([]future.Future[int], inflight)
				b.SetBytes(benchBlock)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					slot := i % inflight
					if i >= inflight {
						if n, err := futs[slot].Await(ctx); n != benchBlock || err != nil {
							b.Fatalf("ReadAt = %d, %v", n, err)
						}
					}
					futs[slot] = f.ReadAt(ctx, bufs[slot], benchOff(i))
				}
				for slot := range min(inflight, b.N) {
					if n, err := futs[slot].Await(ctx); n != benchBlock || err != nil {
						b.Fatalf("ReadAt = %d, %v", n, err)
					}
				}
			})
		}
		b.Run("os/inflight="+itoa(inflight), func(b *testing.B) {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(benchBlock)
			b.ReportAllocs()
			b.ResetTimer()
			if inflight == 1 {
				buf := make([]byte, benchBlock)
				for i := range b.N {
					if n, err := f.ReadAt(buf, benchOff(i)); n != benchBlock || err != nil {
						b.Fatalf("ReadAt = %d, %v", n, err)
					}
				}
				return
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for range inflight {
				wg.Go(func() {
					buf := make([]byte, benchBlock)
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if n, err := f.ReadAt(buf, benchOff(i)); n != benchBlock || err != nil {
							b.Errorf("ReadAt = %d, %v", n, err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

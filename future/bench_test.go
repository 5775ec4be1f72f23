package future_test

import (
	"context"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// BenchmarkResolveAwait makes a promise, resolves it and awaits its future on one goroutine.
func BenchmarkResolveAwait(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		p := future.NewPromise[int]()
		p.Resolve(1)
		if _, err := p.Future().Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveAwaitAcrossGoroutines awaits a pending future that another goroutine
// resolves: the waiter parks on the future's Done channel.
func BenchmarkResolveAwaitAcrossGoroutines(b *testing.B) {
	ctx := context.Background()
	promises := make(chan future.Promise[int])
	go func() {
		for p := range promises {
			p.Resolve(1)
		}
	}()
	defer close(promises)
	for b.Loop() {
		p := future.NewPromise[int]()
		f := p.Future()
		f.Done()
		promises <- p
		if _, err := f.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAwaitCompleted reads a complete future: the target is 0 allocations.
func BenchmarkAwaitCompleted(b *testing.B) {
	ctx := context.Background()
	f := future.Ready(1)
	for b.Loop() {
		if _, err := f.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAll1000Pending builds All over 1,000 pending futures, resolves them and awaits
// the result; the cost includes making and resolving the 1,000 promises.
func BenchmarkAll1000Pending(b *testing.B) {
	ctx := context.Background()
	ps := make([]future.Promise[int], 1000)
	fs := make([]future.Future[int], 1000)
	for b.Loop() {
		for i := range ps {
			ps[i] = future.NewPromise[int]()
			fs[i] = ps[i].Future()
		}
		all := future.All(fs...)
		for i, p := range ps {
			p.Resolve(i)
		}
		if _, err := all.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAll1000Ready measures All alone, over 1,000 futures that are already complete.
func BenchmarkAll1000Ready(b *testing.B) {
	ctx := context.Background()
	fs := make([]future.Future[int], 1000)
	for i := range fs {
		fs[i] = future.Ready(i)
	}
	for b.Loop() {
		if _, err := future.All(fs...).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapInline chains one inline continuation onto a pending future.
func BenchmarkMapInline(b *testing.B) {
	ctx := context.Background()
	double := func(v int) (int, error) { return 2 * v, nil }
	for b.Loop() {
		p := future.NewPromise[int]()
		g := future.Map(p.Future(), future.Inline, double)
		p.Resolve(1)
		if _, err := g.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGo runs a function on a new goroutine and awaits its future.
func BenchmarkGo(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	for b.Loop() {
		if _, err := future.Go(ctx, fn).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWithTimeoutResolved wraps a pending future in WithTimeout and resolves it in
// time: the cost of arming and stopping the timer and of the continuation.
func BenchmarkWithTimeoutResolved(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		p := future.NewPromise[int]()
		g := future.WithTimeout(p.Future(), time.Hour)
		p.Resolve(1)
		if _, err := g.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRaceAbandonsLongLived races a long-lived pending future against a short one that
// wins: the result is complete while the long-lived input is still pending.
func BenchmarkRaceAbandonsLongLived(b *testing.B) {
	ctx := context.Background()
	long := future.NewPromise[int]()
	defer long.Resolve(0)
	for b.Loop() {
		p := future.NewPromise[int]()
		r := future.Race(long.Future(), p.Future())
		p.Resolve(1)
		if _, err := r.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

package uring

import (
	"testing"
)

// benchNop submits and reaps b.N NOPs, batch per io_uring_enter.
func benchNop(b *testing.B, batch int, opts ...Option) {
	r := newRing(b, 256, opts...)
	if batch > int(r.SQEntries()) {
		b.Fatalf("batch %d larger than the SQ", batch)
	}
	var cqes [256]CQE
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		for i := 0; i < n; i++ {
			sqe := r.GetSQE()
			sqe.PrepNop()
			sqe.UserData = uint64(done + i)
		}
		if _, err := r.SubmitAndWait(uint32(n), -1); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < n; {
			k := r.Reap(cqes[:])
			if k == 0 {
				b.Fatalf("reaped %d of %d", got, n)
			}
			got += k
		}
		done += n
	}
}

// BenchmarkNop is one NOP per io_uring_enter: the floor of a submit-and-reap round trip.
func BenchmarkNop(b *testing.B) { benchNop(b, 1) }

// BenchmarkNopBatch64 is 64 NOPs per io_uring_enter; ns/op is per NOP.
func BenchmarkNopBatch64(b *testing.B) { benchNop(b, 64) }

// BenchmarkNopRegisteredRing is BenchmarkNop through a registered ring fd.
func BenchmarkNopRegisteredRing(b *testing.B) {
	r := newRing(b, 8)
	if err := r.RegisterRingFD(); err != nil {
		b.Fatal(err)
	}
	var cqes [1]CQE
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.GetSQE().PrepNop()
		if _, err := r.SubmitAndWait(1, -1); err != nil {
			b.Fatal(err)
		}
		if r.Reap(cqes[:]) != 1 {
			b.Fatal("no CQE")
		}
	}
}

// BenchmarkNopTimedWait is BenchmarkNop with a timeout, as an event loop with timers waits.
func BenchmarkNopTimedWait(b *testing.B) {
	r := newRing(b, 8)
	var cqes [1]CQE
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.GetSQE().PrepNop()
		if _, err := r.SubmitAndWait(1, waitLimit); err != nil {
			b.Fatal(err)
		}
		if r.Reap(cqes[:]) != 1 {
			b.Fatal("no CQE")
		}
	}
}

// BenchmarkNopWithoutSingleIssuer is BenchmarkNop on a COOP_TASKRUN ring, for comparison.
func BenchmarkNopWithoutSingleIssuer(b *testing.B) { benchNop(b, 1, WithoutSingleIssuer()) }

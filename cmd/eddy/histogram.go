package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records latencies in log-linear buckets, in the manner of an HDR histogram but much smaller:
// values below histSub nanoseconds are exact, and above that each power of two is split into histSub
// equal buckets, so a reported value is within 1/histSub (under 1.6%) of the recorded one. Values above
// histMax are counted in the last bucket.
//
// Record is safe from many goroutines at once (the counters are atomic), so the load generator's
// connections share one histogram instead of keeping one each.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Uint64
}

// Histogram layout: histSubBits bits of precision, up to histMaxBits bits of nanoseconds (about 68 s).
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxBits = 36
	histMax     = 1<<histMaxBits - 1
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// histIndex returns the bucket of v nanoseconds.
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	v = min(v, histMax)
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2*histSub)
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// histHigh returns the largest value that falls in bucket i.
func histHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	top := uint64(i%histSub + histSub)
	return (top+1)<<shift - 1
}

// Record adds one latency; negative ones count as zero.
func (h *histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of values recorded.
func (h *histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest value recorded, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the mean of the values recorded, or 0 when there are none.
func (h *histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value below or at which a fraction q (0..1) of the recorded values lie: the upper
// bound of the bucket that holds it, never more than Max. It returns 0 when nothing was recorded. It
// should be called once recording is over.
func (h *histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n))) // the rank-th smallest value, counting from 1
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(histHigh(i), h.max.Load()))
		}
	}
	return h.Max()
}

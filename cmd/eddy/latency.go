package main

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latencyRecorder records latencies in an HDR histogram, with three significant digits from a nanosecond
// to an hour, and keeps the exact sum and maximum beside it. It has no lock: each loop of the load
// generator records into its own, and the recorders are merged once the loops have stopped.
type latencyRecorder struct {
	h   *hdrhistogram.Histogram
	n   int64
	sum int64 // nanoseconds
	max int64
}

// latencyMax is the largest latency the histogram tells apart; longer ones are recorded as it.
const latencyMax = int64(time.Hour)

func newLatencyRecorder() *latencyRecorder {
	return &latencyRecorder{h: hdrhistogram.New(1, latencyMax, 3)}
}

// record adds one latency in nanoseconds; negative ones count as zero.
func (r *latencyRecorder) record(ns int64) {
	ns = min(max(ns, 0), latencyMax)
	r.h.RecordValue(ns) // in range: cannot fail
	r.n++
	r.sum += ns
	r.max = max(r.max, ns)
}

// merge adds what o recorded.
func (r *latencyRecorder) merge(o *latencyRecorder) {
	r.h.Merge(o.h)
	r.n += o.n
	r.sum += o.sum
	r.max = max(r.max, o.max)
}

// count returns the number of latencies recorded.
func (r *latencyRecorder) count() uint64 { return uint64(r.n) }

// latency summarises the recorded latencies, in nanoseconds: percentiles from the histogram (within
// 0.1%), the mean and the maximum exact.
type latency struct {
	P50  int64 `json:"p50_ns"`
	P90  int64 `json:"p90_ns"`
	P99  int64 `json:"p99_ns"`
	P999 int64 `json:"p999_ns"`
	Max  int64 `json:"max_ns"`
	Mean int64 `json:"mean_ns"`
}

// summary reads the percentiles, once recording is over: nearest rank, the smallest latency that p per
// cent of them are at or below (the histogram's own ValueAtQuantile rounds the rank to the nearest
// sample, and gave one sample below that: p90 of 7 latencies was the 6th).
func (r *latencyRecorder) summary() latency {
	if r.n == 0 {
		return latency{}
	}
	bars := r.h.Distribution()
	q := func(tenths int64) int64 { // p in tenths of a per cent, so that the rank is exact
		rank := max((tenths*r.n+999)/1000, 1)
		var seen int64
		for _, b := range bars {
			if seen += b.Count; seen >= rank {
				return min(b.To, r.max)
			}
		}
		return r.max
	}
	return latency{P50: q(500), P90: q(900), P99: q(990), P999: q(999), Max: r.max, Mean: r.sum / r.n}
}

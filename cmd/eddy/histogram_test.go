package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBucketsBoundValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64N(histMax) >> r.UintN(36)
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, out of range", v, i)
		}
		high := histHigh(i)
		if high < v || float64(high-v) > float64(v)/histSub {
			t.Fatalf("value %d in bucket %d with upper bound %d: off by more than 1/%d", v, i, high, histSub)
		}
		if i > 0 && histHigh(i-1) >= v {
			t.Fatalf("value %d in bucket %d, but bucket %d reaches %d", v, i, i-1, histHigh(i-1))
		}
	}
	if got := histIndex(1 << 62); got != histBuckets-1 {
		t.Errorf("histIndex(huge) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestHistogramQuantilesMatchSortedValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h histogram
	vals := make([]time.Duration, 50000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64() * float64(100*time.Microsecond))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/histSub {
			t.Errorf("quantile %v = %v, want %v within 1/%d", q, got, want, histSub)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
		t.Errorf("max %v, count %d; want %v, %d", h.Max(), h.Count(), vals[len(vals)-1], len(vals))
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Error("an empty histogram reports values")
	}
}

func TestRoundSignificant(t *testing.T) {
	tests := []struct{ in, want time.Duration }{
		{5177301, 5180000},
		{974800, 975000},
		{999, 999},
		{42, 42},
	}
	for _, tt := range tests {
		if got := roundSignificant(tt.in, 3); got != tt.want {
			t.Errorf("roundSignificant(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

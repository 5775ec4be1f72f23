package http1

import (
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes f allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A request head of MaxHeaderBytes made of short lines of one field (200,000 "A:" lines in 800 KB)
// must not make buildHeader size the header by its lines: it made a map and a slice of first values
// for 200,000 keys (15 MiB more for the request; 64 MiB in all for the 800 KB head, against
// net/http's 18 MiB, whose textproto caps its hint at 1,000). What it must cost is what appending
// the 200,000 values to one key's slice costs (net/http pays that too).
func TestManyHeadLinesDoNotSizeTheHeader(t *testing.T) {
	const lines = 200000
	block := strings.Repeat("A:\r\n", lines)
	spans := make([]fieldSpan, lines)
	for i := range spans {
		off := int32(4 * i)
		spans[i] = fieldSpan{name: off, colon: off + 1, value: off + 2, end: off + 2}
	}
	var h map[string][]string
	got := allocated(func() {
		var err error
		if h, _, _, err = buildHeader(block, spans, false, nil); err != nil {
			t.Fatal(err)
		}
	})
	if n := len(h["A"]); n != lines {
		t.Fatalf("buildHeader gave %d values of A, want %d", n, lines)
	}
	var vals []string
	want := allocated(func() {
		for range lines {
			vals = append(vals, "")
		}
	})
	t.Logf("buildHeader allocated %d KiB for %d lines of one field; appending the values alone %d KiB", got>>10, lines, want>>10)
	if got > want+want/4 {
		t.Errorf("buildHeader allocated %d KiB for %d lines of one field, want at most 1.25 times the %d KiB of appending its values", got>>10, lines, want>>10)
	}
}

package http1_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/eddyio/eddy"
)

// The table-driven stream helpers (fillStream, streamMismatch) give the bytes streamByte
// defines, across the table's period, and streamMismatch finds a changed byte at its offset.
func TestStreamHelpersMatchStreamByte(t *testing.T) {
	for _, off := range []int64{0, 1, 8191, streamPeriod - 5, 3*streamPeriod - 1000} {
		b := make([]byte, 5000)
		fillStream(b, off)
		for i := range b {
			if b[i] != streamByte(off+int64(i)) {
				t.Fatalf("fillStream at %d: byte %d is %d, want %d", off, i, b[i], streamByte(off+int64(i)))
			}
		}
		if bad := streamMismatch(b, off); bad != -1 {
			t.Fatalf("streamMismatch at %d of the pattern: %d, want -1", off, bad)
		}
		for _, i := range []int{0, 17, 4999} {
			b[i]++
			if bad := streamMismatch(b, off); bad != off+int64(i) {
				t.Fatalf("streamMismatch at %d with byte %d changed: %d, want %d", off, i, bad, off+int64(i))
			}
			b[i]--
		}
	}
}

// forEachEngineAtOnce is forEachEngine with the engines' subtests running at the same time, for
// tests that spend their time waiting out a timeout and share nothing between engines. (t.Run
// from several goroutines, not t.Parallel: -parallel, GOMAXPROCS by default, is 2 on CI, and the
// subtests wait rather than compute.)
func forEachEngineAtOnce(t *testing.T, f func(t *testing.T, engine eddy.EngineKind)) {
	var wg sync.WaitGroup
	for _, e := range testEngines() {
		wg.Go(func() { t.Run(string(e), func(t *testing.T) { f(t, e) }) })
	}
	wg.Wait()
	skipMissingUring(t)
}

// patternReader and checkPattern (table-driven) give and accept the bytes patternByte defines,
// across the table's period, and checkPattern reports a changed byte at its offset.
func TestProxyPatternHelpersMatchPatternByte(t *testing.T) {
	const n = 3*patternPeriod + 12345
	var all []byte
	r := &patternReader{n: n}
	buf := make([]byte, 70001) // reads that straddle the period
	for {
		k, err := r.Read(buf)
		all = append(all, buf[:k]...)
		if err == io.EOF {
			break
		}
	}
	if len(all) != n {
		t.Fatalf("patternReader gave %d bytes, want %d", len(all), n)
	}
	for i := range all {
		if all[i] != patternByte(int64(i)) {
			t.Fatalf("patternReader: byte %d is %d, want %d", i, all[i], patternByte(int64(i)))
		}
	}
	if got, err := checkPattern(bytes.NewReader(all), nil); got != n || err != nil {
		t.Fatalf("checkPattern of the pattern: %d, %v", got, err)
	}
	for _, at := range []int{0, patternPeriod - 1, patternPeriod, n - 1} {
		all[at]++
		if got, err := checkPattern(bytes.NewReader(all), nil); got != int64(at) || err == nil {
			t.Fatalf("checkPattern with byte %d changed: %d, %v", at, got, err)
		}
		all[at]--
	}
}

package etls

import (
	"bytes"
	"testing"
)

// boundaries returns the offsets at which the records of stream end (the last may lie beyond it).
func boundaries(stream []byte) []int {
	var ends []int
	for off := 0; off+5 <= len(stream); {
		off += 5 + bodyLen(stream[off:off+5])
		ends = append(ends, off)
	}
	return ends
}

// recordStart returns where the record that pos is in starts, given the record ends.
func recordStart(ends []int, pos int) int {
	start := 0
	for _, e := range ends {
		if e <= pos {
			start = e
		}
	}
	return start
}

// checkFramer feeds stream through a framer in pieces of the sizes in cuts (cycled; 0 means one byte)
// and checks that no feed crosses the end of a record, that every feed stops either at the end of a
// record or at the end of what was offered, and that ready agrees with the record ends.
func checkFramer(t *testing.T, stream, cuts []byte) {
	ends := boundaries(stream)
	var f framer
	pos, ci := 0, 0
	nextEnd := func() int {
		for _, e := range ends {
			if e > pos {
				return e
			}
		}
		return -1 // inside a header that the stream does not complete
	}
	for pos < len(stream) {
		size := 1
		if len(cuts) > 0 {
			size = max(1, int(cuts[ci%len(cuts)]))
			ci++
		}
		offer := stream[pos:min(len(stream), pos+size)]
		end := nextEnd()
		// ready: is the rest of the current record inside what is left of the stream, split anywhere?
		// Or, while its header is still being fed, does that header say a length no TLS 1.3
		// record may have (crypto/tls refuses it on the header alone)? The fuzzer found the check
		// without that second rule, which the framer had gained after it.
		wantReady := end >= 0 && end <= len(stream)
		if start := recordStart(ends, pos); pos < start+5 && start+5 <= len(stream) && bodyLen(stream[start:start+5]) > maxRecordBody {
			wantReady = true
		}
		rest := stream[pos:]
		half := len(rest) / 2
		if got := f.ready(rest[:half], rest[half:]); got != wantReady {
			t.Fatalf("at %d: ready = %v, want %v (record ends at %d of %d)", pos, got, wantReady, end, len(stream))
		}
		n := f.limit(offer)
		if n < 1 || n > len(offer) {
			t.Fatalf("at %d: limit %d of %d offered", pos, n, len(offer))
		}
		if end >= 0 && pos+n > end {
			t.Fatalf("at %d: limit %d crosses the record end at %d", pos, n, end)
		}
		if n < len(offer) && pos+n != end {
			t.Fatalf("at %d: limit %d stops short of both the offer (%d) and the record end (%d)", pos, n, len(offer), end)
		}
		f.advance(offer[:n])
		pos += n
		if pos == end && (f.hdrN != 0 || f.body != 0) {
			t.Fatalf("at a record end (%d) the framer is at header %d, body %d", pos, f.hdrN, f.body)
		}
	}
}

// record makes a record of type typ with a body of n bytes.
func record(typ byte, n int) []byte {
	return append([]byte{typ, 3, 3, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{0xAB}, n)...)
}

func TestFramer(t *testing.T) {
	var stream []byte
	for _, n := range []int{0, 1, 17, 16384 + 256, 5, 300} {
		stream = append(stream, record(23, n)...)
	}
	for _, cuts := range [][]byte{nil, {1}, {2, 3}, {7}, {255}, {5, 200, 1, 13}} {
		checkFramer(t, stream, cuts)
		checkFramer(t, stream[:len(stream)-3], cuts)   // the last record cut short
		checkFramer(t, stream[:len(stream)-302], cuts) // the last header cut short
	}
	checkFramer(t, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte{4}) // garbage is framed too
}

// FuzzFramer checks the framer on arbitrary streams split arbitrarily. Seeds in
// testdata/fuzz/FuzzFramer.
func FuzzFramer(f *testing.F) {
	f.Add(append(record(22, 40), record(23, 3)...), []byte{1, 6, 2})
	f.Add(record(23, 0), []byte{})
	f.Add([]byte{23, 3, 3, 0}, []byte{3})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		checkFramer(t, stream, cuts)
	})
}

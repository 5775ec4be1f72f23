package etls

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
)

// refRecord is a record of a stream as refRecords frames it: the header at start (5 bytes), the body
// up to end. Its length is read from the header here, apart from the framer's bodyLen.
type refRecord struct {
	start, end int
	whole      bool // the header is all in the stream (end is then known; it may lie beyond the stream)
	oversize   bool // the header says a body longer than a TLS 1.3 record's, 2^14 + 256 (RFC 8446 5.2)
}

// refRecords frames stream as TLS does (RFC 8446 section 5.1): from its first byte on, a 5-byte
// header (type, version, then the body length, big-endian in two bytes) and that many bytes of
// body, whatever the bytes are. The last record may be cut short, header or body.
func refRecords(stream []byte) []refRecord {
	var rs []refRecord
	for off := 0; off < len(stream); {
		r := refRecord{start: off}
		if off+5 <= len(stream) {
			n := int(stream[off+3])*256 + int(stream[off+4])
			r.whole, r.end, r.oversize = true, off+5+n, n > 16640
		}
		rs = append(rs, r)
		if !r.whole {
			break
		}
		off = r.end
	}
	return rs
}

// refAt returns the record that the byte at pos belongs to (a record fed whole is left behind:
// at its end, the next one starts).
func refAt(rs []refRecord, pos int) refRecord {
	// The first record that does not end at or before pos (records lie in order, and only the
	// last may be cut short in its header).
	i := sort.Search(len(rs), func(i int) bool { return !rs[i].whole || rs[i].end > pos })
	if i < len(rs) && pos >= rs[i].start {
		return rs[i]
	}
	return refRecord{start: pos} // at the end of the stream, between records
}

// refLimit is what limit must return at pos for an offer of n bytes (a prefix of the stream's rest):
// the offer up to the end of the current record, all of it while the stream does not complete that
// record's header.
func refLimit(rs []refRecord, pos, n int) int {
	r := refAt(rs, pos)
	if !r.whole {
		return n
	}
	return min(n, r.end-pos)
}

// refReady is what ready must report at pos when avail bytes of the stream's rest are at hand: the
// rest of the current record is (or, between records, a whole next one); or the record's header,
// not yet fed, is at hand and says a length no TLS 1.3 record may have, which crypto/tls refuses
// on the header alone.
func refReady(rs []refRecord, pos, avail int) bool {
	r := refAt(rs, pos)
	if !r.whole || r.start+5 > pos+avail {
		return false // the header is not at hand (the stream may not even hold it)
	}
	return pos+avail >= r.end || pos < r.start+5 && r.oversize
}

// checkFramer feeds stream through a framer as the connection does, driven by cuts (cycled, each
// byte one choice; none: one byte at a time): offers of a size cuts picks (limit), of which a
// buffer of a size cuts picks takes a prefix (advance gets what was copied, as pipe.go's readers
// do), and between feeds asks ready about a prefix of the rest, split in two where cuts says (the
// connection's leftover and the raw connection's buffer). Every answer must be the reference
// framer's, exactly, so that the records found (where limit stops short of the rest of the stream)
// are the reference's records at the reference's offsets, and ready's refusal of an oversized
// header comes at the same offset, whatever the split. It returns the record ends found.
func checkFramer(t *testing.T, stream, cuts []byte) []int {
	t.Helper()
	rs := refRecords(stream)
	ci := 0
	next := func() int { // the next choice, 0..255 (always 1 without cuts)
		if len(cuts) == 0 {
			return 1
		}
		c := int(cuts[ci%len(cuts)])
		ci++
		return c
	}
	var f framer
	var ends []int
	for pos := 0; pos < len(stream); {
		rest := stream[pos:]
		// ready, on the whole rest and on a prefix of it, each split in two.
		for _, avail := range []int{len(rest), min(len(rest), next())} {
			s := min(avail, next())
			if got, want := f.ready(rest[:s], rest[s:avail]), refReady(rs, pos, avail); got != want {
				t.Fatalf("at %d: ready(%d bytes, %d bytes) = %v, want %v (records %+v)", pos, s, avail-s, got, want, rs)
			}
		}
		// limit on all of the rest: where the framer sees the current record end.
		if got, want := f.limit(rest), refLimit(rs, pos, len(rest)); got != want {
			t.Fatalf("at %d: limit(rest of %d) = %d, want %d (records %+v)", pos, len(rest), got, want, rs)
		} else if got < len(rest) {
			if len(ends) == 0 || ends[len(ends)-1] != pos+got {
				ends = append(ends, pos+got)
			}
		}
		offer := rest[:min(len(rest), max(1, next()))]
		n := f.limit(offer)
		if want := refLimit(rs, pos, len(offer)); n != want {
			t.Fatalf("at %d: limit(%d offered) = %d, want %d (records %+v)", pos, len(offer), n, want, rs)
		}
		if n == 0 {
			t.Fatalf("at %d: limit(%d offered) = 0: the feed would stall", pos, len(offer))
		}
		fed := offer[:min(n, max(1, next()))] // copied into crypto/tls's buffer, which may be smaller
		f.advance(fed)
		pos += len(fed)
	}
	// A framer fed all of stream frames nothing more of it, and waits for the next header if the
	// stream ends on a record end.
	if got := f.limit(nil); got != 0 {
		t.Fatalf("at the end: limit(nothing) = %d", got)
	}
	// The record ends found are the reference's, those before the end of the stream (limit on the
	// rest cannot tell a record that ends the stream from one that goes on).
	var want []int
	for _, r := range rs {
		if r.whole && r.end < len(stream) {
			want = append(want, r.end)
		}
	}
	if !equalInts(ends, want) {
		t.Fatalf("records found end at %v; the reference's at %v", ends, want)
	}
	return ends
}

func equalInts(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// record makes a record of type typ with a body of n bytes.
func record(typ byte, n int) []byte {
	return append([]byte{typ, 3, 3, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{0xAB}, n)...)
}

func TestFramer(t *testing.T) {
	var stream []byte
	for _, n := range []int{0, 1, 17, 16384 + 256, 5, 300, 0x0102} {
		stream = append(stream, record(23, n)...)
	}
	oversize := append(record(23, 3), record(23, 16384+257)...) // refused on its header
	for _, cuts := range [][]byte{nil, {1}, {2, 3}, {7}, {255}, {5, 200, 1, 13}, {0, 4, 9, 2, 255, 6}} {
		checkFramer(t, stream, cuts)
		checkFramer(t, stream[:len(stream)-3], cuts)        // the last record cut short
		checkFramer(t, stream[:len(stream)-0x0102-3], cuts) // the last header cut short
		checkFramer(t, oversize, cuts)
		checkFramer(t, oversize[:8+4], cuts) // its header one byte short
	}
	checkFramer(t, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte{4}) // garbage is framed too
}

// FuzzFramer checks the framer on arbitrary streams split arbitrarily against refRecords, a
// framer of its own, so that the same records, at the same offsets, and the same refusals of
// oversized headers are found whatever the split (the one cuts gives and one byte at a time).
// Seeds in testdata/fuzz/FuzzFramer.
func FuzzFramer(f *testing.F) {
	f.Add(append(record(22, 40), record(23, 3)...), []byte{1, 6, 2})
	f.Add(record(23, 0), []byte{})
	f.Add([]byte{23, 3, 3, 0}, []byte{3})
	f.Add(append(record(23, 2), 23, 3, 3, 0x41, 0x01), []byte{6, 1, 3})
	f.Add(append(record(23, 0x0201), record(21, 0)...), []byte{3, 250, 2, 9, 4})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		a := checkFramer(t, stream, cuts)
		b := checkFramer(t, stream, nil)
		if !equalInts(a, b) {
			t.Fatalf("records end at %v split by %v, at %v split byte by byte", a, cuts, b)
		}
	})
}

package eddy

import (
	"math"
	"testing"
)

// A file region past 2 GiB on a 32-bit build: the output queue's counts (fileQueue.bytes, queued, the
// AsyncWrite and Flushed waits) were ints, so a region longer than math.MaxInt32 saturated them there,
// and a Flushed or an AsyncWrite callback behind it ran once 2 GiB of it were out, before the rest. The
// counts are int64 on every platform now. This machine cannot run 386 binaries, so these tests drive the
// counting helpers directly with values past math.MaxInt32 (they build for GOARCH=386 too).

// region32 is a region past what a 32-bit int holds: 2 GiB + 1 MiB.
const region32 = int64(math.MaxInt32) + 1 + 1<<20

func TestFileQueueCountsPast32Bits(t *testing.T) {
	q := fileQueue{{n: region32, total: region32}}
	q[0].after.Write([]byte("end"))
	if got, want := q.bytes(), region32+3; got != want {
		t.Fatalf("bytes() = %d, want %d", got, want)
	}
	// A second region "to the end of the file" (math.MaxInt64 bytes): the sum saturates, it does not wrap.
	q = append(q, &fileSend{n: math.MaxInt64, total: math.MaxInt64})
	if got := q.bytes(); got != math.MaxInt64 {
		t.Fatalf("bytes() with a math.MaxInt64 region = %d, want math.MaxInt64", got)
	}

	var c stdConn
	c.wq.Write([]byte("head"))
	c.files = fileQueue{{n: region32, total: region32}}
	if got, want := c.queued(), 4+region32; got != want {
		t.Fatalf("std queued() = %d, want %d", got, want)
	}
	if got, want := c.OutboundBuffered(), int(min(4+region32, math.MaxInt)); got != want {
		t.Fatalf("std OutboundBuffered() = %d, want %d", got, want)
	}
}

// A Flushed registered behind a region past 2 GiB completes only with the region's last byte, and an
// AsyncWrite queued behind the region only with its own, however the region goes out: in the 4 MiB
// pieces of epoll's sendfile and std's copy, or a byte short of math.MaxInt32 at once.
func TestWaitsBehindRegionPast32Bits(t *testing.T) {
	for _, piece := range []int64{4 << 20, math.MaxInt32 - 1} {
		var w asyncWaits
		var fired []string
		q := fileQueue{{n: region32, total: region32}}
		w.add(q.bytes(), func(Conn, error) { fired = append(fired, "flushed") })
		q[0].after.Write([]byte("end"))
		w.add(q.bytes(), func(Conn, error) { fired = append(fired, "asyncwrite") })

		var sent int64
		for sent < region32 {
			k := min(region32-sent, piece)
			ready := w.advance(int(k))
			sent += k
			if sent < region32 && ready != 0 {
				t.Fatalf("piece %d: %d wait(s) complete after %d of the region's %d bytes", piece, ready, sent, region32)
			}
		}
		if ready := w.advance(0); ready != 1 {
			t.Fatalf("piece %d: %d waits complete with the region out, want 1 (the Flushed)", piece, ready)
		}
		for x, ok := w.next(); ok; x, ok = w.next() {
			x.cb(nil, nil)
		}
		if w.advance(2) != 0 {
			t.Fatalf("piece %d: the AsyncWrite completed with 2 of its 3 bytes out", piece)
		}
		w.advance(1)
		for x, ok := w.next(); ok; x, ok = w.next() {
			x.cb(nil, nil)
		}
		if len(fired) != 2 || fired[0] != "flushed" || fired[1] != "asyncwrite" {
			t.Fatalf("piece %d: callbacks ran %v, want [flushed asyncwrite]", piece, fired)
		}
	}
}

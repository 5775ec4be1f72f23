package uring

import (
	"bytes"
	"testing"
)

// The kernel facts behind SetRecvLimit, as the uring engine relies on them (docs/uring-engine.md,
// "Back-pressure"): on 6.17 and later a multishot recv given a total ends by itself once it has
// received that much, with a data CQE without F_MORE; a receive is not cut to fit, so the last one
// goes past the total by up to a buffer (or sqe->len); nothing more is received until it is armed
// again, and then the stream goes on where it stopped.

func requireRecvLimit(t *testing.T) {
	t.Helper()
	requireURing(t)
	if !RecvLimitSupported() {
		if kernelAtLeast(6, 17) {
			t.Fatal("RecvLimitSupported() = false on a kernel of 6.17 or later")
		}
		t.Skip("the kernel has no multishot recv limit (6.17)")
	}
}

// limitedRecv arms a multishot recv of fd limited to total bytes (and to perRecv bytes a receive, if
// not 0) and runs it to its last CQE; it returns the data and the size of each receive. Every CQE
// before the last must carry data with F_MORE, the last data without it. offs keeps where the data of
// an incremental ring's buffers goes on, from one recv to the next.
func limitedRecv(t *testing.T, r *Ring, br *BufRing, offs map[uint16]int, fd int, total, perRecv uint32) ([]byte, []int) {
	t.Helper()
	sqe := getSQE(t, r)
	sqe.PrepRecvMultishot(fd, br.Group(), 0)
	sqe.Len = perRecv
	sqe.SetRecvLimit(total)
	sqe.UserData = 7
	var got []byte
	var sizes []int
	for {
		c := waitCQEs(t, r, 1)[0]
		id, ok := c.Buffer()
		if c.Res <= 0 || !ok {
			t.Fatalf("CQE %+v (%v) after %d bytes, want data in a buffer", c, c.Err(), len(got))
		}
		off := offs[id]
		got = append(got, br.Buffer(id)[off:off+int(c.Res)]...)
		sizes = append(sizes, int(c.Res))
		if c.BufMore() {
			offs[id] = off + int(c.Res)
		} else {
			offs[id] = 0
			br.Recycle(id)
		}
		if !c.More() {
			return got, sizes
		}
	}
}

func TestRecvLimitEndsTheMultishotRecv(t *testing.T) {
	requireRecvLimit(t)
	for _, inc := range []bool{false, true} {
		name := "plain"
		var opts []BufRingOption
		if inc {
			name = "incremental"
			opts = append(opts, WithIncremental())
		}
		t.Run(name, func(t *testing.T) {
			if inc && !kernelAtLeast(6, 12) {
				t.Skip("IOU_PBUF_RING_INC needs 6.12")
			}
			r := newRing(t, 16)
			br, err := r.NewBufRing(3, 64, 4096, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			fd, client := tcpPair(t)
			offs := map[uint16]int{}
			payload := make([]byte, 64<<10)
			for i := range payload {
				payload[i] = byte(i*7 + i>>9)
			}
			if _, err := client.Write(payload); err != nil {
				t.Fatal(err)
			}

			// 10,000 bytes out of 64 KiB waiting: three receives of a 4 KiB buffer, the third past
			// the limit, and the recv ends.
			got, sizes := limitedRecv(t, r, br, offs, fd, 10000, 0)
			if len(got) != 12288 || len(sizes) != 3 {
				t.Fatalf("a recv limited to 10000 bytes took %d in receives of %v; want 12288 in 3 of 4096", len(got), sizes)
			}
			// Nothing arrives after the end: a NOP round trip runs whatever the kernel had queued.
			sqe := getSQE(t, r)
			sqe.PrepNop()
			sqe.UserData = 8
			if c := waitCQEs(t, r, 1)[0]; c.UserData != 8 {
				t.Fatalf("CQE %+v after the limited recv ended, want only the NOP's", c)
			}
			// With a cap per receive, no receive is bigger than it.
			more, sizes := limitedRecv(t, r, br, offs, fd, 3000, 1000)
			if len(more) != 3000 || len(sizes) != 3 {
				t.Fatalf("a recv limited to 3000 bytes, 1000 a receive, took %d in %v", len(more), sizes)
			}
			got = append(got, more...)
			// A limit of 1 still takes a whole buffer's worth.
			more, sizes = limitedRecv(t, r, br, offs, fd, 1, 0)
			if len(sizes) != 1 || sizes[0] <= 1 {
				t.Fatalf("a recv limited to 1 byte took %v", sizes)
			}
			got = append(got, more...)
			// Armed again, the stream goes on where it stopped.
			rest, _ := limitedRecv(t, r, br, offs, fd, uint32(len(payload)-len(got)), 0)
			got = append(got, rest...)
			if !bytes.Equal(got, payload) {
				t.Fatalf("the limited recvs took %d bytes that differ from the %d sent", len(got), len(payload))
			}
		})
	}
}

package uring

import (
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestNewBufRingRejectsBadShapes(t *testing.T) {
	r := newRing(t, 8)
	for _, tc := range []struct {
		name          string
		entries, size uint32
	}{
		{"zero entries", 0, 64},
		{"not a power of two", 6, 64},
		{"too many entries", 65536, 64},
		{"zero-size buffers", 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if br, err := r.NewBufRing(1, tc.entries, tc.size); !errors.Is(err, unix.EINVAL) {
				if br != nil {
					br.Close()
				}
				t.Fatalf("NewBufRing(%d, %d) = %v, want EINVAL", tc.entries, tc.size, err)
			}
		})
	}
}

func TestBufRingLayout(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(2, 16, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if br.Group() != 2 || br.Entries() != 16 || br.BufferSize() != 100 {
		t.Fatalf("group %d entries %d size %d", br.Group(), br.Entries(), br.BufferSize())
	}
	// The ring is page-aligned, all 16 buffers were published, and each buffer is its own 100 bytes.
	if uintptr(unsafe.Pointer(&br.mem[0]))%uintptr(unix.Getpagesize()) != 0 {
		t.Fatal("ring memory is not page-aligned")
	}
	if tail := ringTail(br); tail != 16 {
		t.Fatalf("published tail %d, want 16", tail)
	}
	for id := uint16(0); id < 16; id++ {
		b := br.Buffer(id)
		if len(b) != 100 || cap(b) != 100 {
			t.Fatalf("Buffer(%d) has len %d cap %d, want 100", id, len(b), cap(b))
		}
		next := br.Buffer((id + 1) % 16)
		if id < 15 && uintptr(unsafe.Pointer(&b[0]))+100 != uintptr(unsafe.Pointer(&next[0])) {
			t.Fatalf("buffers %d and %d are not adjacent", id, id+1)
		}
	}
	// Entry 0's bid shares a word with the tail; the tail must not have touched it.
	if bid := ringBid0(br); bid != 0 {
		t.Fatalf("bufs[0].bid = %d, want 0", bid)
	}
}

func TestBufRingTailWraps(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(4, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	// Move the u16 tail past 65535 by hand (no receive consumes these): it must wrap and leave bid alone.
	for i := 0; i < 40000; i++ {
		br.Add(uint16(i % 2))
		br.Add(uint16((i + 1) % 2))
		br.Advance()
	}
	if tail, want := ringTail(br), uint16((2+80000)%65536); tail != want {
		t.Fatalf("tail %d, want %d", tail, want)
	}
}

func TestBufRingAddPanicsWhenOverfilled(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(6, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	br.Add(0)
	br.Add(1)
	defer func() {
		if recover() == nil {
			t.Fatal("a third Add to a ring of two did not panic")
		}
	}()
	br.Add(0)
}

func TestBufRingCloseUnregistersGroup(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(7, 4, 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewBufRing(7, 4, 16); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("registering group 7 twice = %v, want EEXIST", err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	br.Recycle(0) // a no-op after Close, not a fault
	// The group id is free again.
	br2, err := r.NewBufRing(7, 4, 16)
	if err != nil {
		t.Fatalf("group 7 after Close: %v", err)
	}
	if err := br2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBufRingCloseAfterRingClose(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(8, 4, 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Fatalf("BufRing.Close after Ring.Close: %v", err)
	}
	if _, err := r.NewBufRing(9, 4, 16); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewBufRing on a closed ring = %v, want ErrClosed", err)
	}
}

func TestBufRingPublishedIsTheOrderTheKernelTakes(t *testing.T) {
	// Publish four buffers in a scrambled order, then let receives pick them one at a time: the kernel
	// takes them in ring order, oldest first, which Published lists newest first. And CQDrained is true
	// exactly when nothing is left to reap.
	r := newRing(t, 8)
	br, err := r.NewBufRing(7, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	order := []uint16{3, 1, 2, 0}
	for _, id := range order {
		br.Add(id)
	}
	br.Advance()
	for k := range order {
		if got, want := br.Published(k), order[len(order)-1-k]; got != want {
			t.Fatalf("Published(%d) = %d, want %d", k, got, want)
		}
	}
	if !r.CQDrained() {
		t.Fatal("CQDrained of a fresh ring is false")
	}
	fd, client := tcpPair(t)
	for i, want := range order {
		if _, err := client.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		sqe := getSQE(t, r)
		sqe.PrepRecvSelect(fd, 7, 0)
		sqe.UserData = uint64(i)
		if _, err := r.SubmitAndWait(1, waitLimit); err != nil {
			t.Fatal(err)
		}
		if r.CQDrained() {
			t.Fatal("CQDrained with a completion ready")
		}
		cqes := waitCQEs(t, r, 1)
		id, ok := cqes[0].Buffer()
		if cqes[0].Res != 1 || !ok || id != want {
			t.Fatalf("receive %d: res %d, buffer %d (%v); want 1 byte in buffer %d", i, cqes[0].Res, id, ok, want)
		}
		if !r.CQDrained() {
			t.Fatal("CQDrained is false after reaping everything")
		}
	}
}

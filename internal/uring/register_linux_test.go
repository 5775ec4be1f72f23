package uring

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRegisterRingFD(t *testing.T) {
	r := newRing(t, 8)
	if err := r.RegisterRingFD(); err != nil {
		t.Fatal(err)
	}
	if !r.RingFDRegistered() || r.enterFd == r.Fd() {
		t.Fatalf("registered %v, enter fd %d, ring fd %d", r.RingFDRegistered(), r.enterFd, r.Fd())
	}
	for i := 0; i < 3; i++ {
		getSQE(t, r).PrepNop()
		wantRes(t, waitCQEs(t, r, 1)[0], 0)
	}
	if err := r.UnregisterRingFD(); err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepNop()
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
}

func TestCloseUnregistersRingFD(t *testing.T) {
	// A registered ring fd is per thread and would hold the ring's file past Close, and the thread has
	// only 16 slots: 40 rings registered and closed in turn must all succeed.
	requireURing(t)
	for i := 0; i < 40; i++ {
		r := newRing(t, 4)
		if err := r.RegisterRingFD(); err != nil {
			t.Fatalf("ring %d: %v", i, err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("ring %d: %v", i, err)
		}
	}
}

func TestRegisterEventFDSignalsCompletions(t *testing.T) {
	r := newRing(t, 8)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.RegisterEventFD(efd); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		getSQE(t, r).PrepNop()
	}
	waitCQEs(t, r, 2)
	var b [8]byte
	if n, err := unix.Read(efd, b[:]); n != 8 || err != nil || binary.NativeEndian.Uint64(b[:]) == 0 {
		t.Fatalf("eventfd read = %d, %v, count %d; want a positive count", n, err, binary.NativeEndian.Uint64(b[:]))
	}
	if err := r.UnregisterEventFD(); err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepNop()
	waitCQEs(t, r, 1)
	if _, err := unix.Read(efd, b[:]); err != unix.EAGAIN {
		t.Fatalf("eventfd read after unregister = %v, want EAGAIN", err)
	}
}

func TestRegisterFilesFixedFileRead(t *testing.T) {
	r := newRing(t, 8)
	f := tempFile(t, []byte("fixed file data"))
	if err := r.RegisterFiles([]int32{-1, int32(f.Fd())}); err != nil {
		t.Fatal(err)
	}
	buf := pinnedBytes(t, 64)
	sqe := getSQE(t, r)
	sqe.PrepRead(1, buf, 0) // index 1 of the registered files
	sqe.Flags |= SQEFixedFile
	c := waitCQEs(t, r, 1)[0]
	wantRes(t, c, 15)
	if !bytes.Equal(buf[:15], []byte("fixed file data")) {
		t.Fatalf("read %q", buf[:15])
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
}

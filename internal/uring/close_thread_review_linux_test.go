package uring

import (
	"errors"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stillMapped reports whether the page at p is mapped in this process: a MAP_FIXED_NOREPLACE mapping
// of it fails with EEXIST when it is (4.17+).
func stillMapped(t *testing.T, p unsafe.Pointer) bool {
	t.Helper()
	page := uintptr(unix.Getpagesize())
	got, err := unix.MmapPtr(-1, 0, p, page, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
	switch {
	case errors.Is(err, unix.EEXIST):
		return true
	case err != nil:
		t.Fatalf("probing the mapping: %v", err)
	}
	if got != p {
		unix.MunmapPtr(got, page)
		t.Skip("MAP_FIXED_NOREPLACE is not honoured (kernel before 4.17)")
	}
	unix.MunmapPtr(got, page)
	return false
}

// onOtherThread runs f on another OS thread and returns its error.
func onOtherThread(f func() error) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // and exit with the thread locked: it is never reused
		errc <- f()
	}()
	return <-errc
}

// BufRing.Close unmapped the buffers even when unregistering the group failed, as it does with
// SINGLE_ISSUER on another thread than the ring's (EEXIST). The kernel kept the group and went on
// picking its buffers: a receive after that Close wrote into whatever was mapped at the old address
// next (seen: a fresh mapping there received the data). liburing's io_uring_free_buf_ring returns
// before the munmap on that error. Close now returns the error and leaves the BufRing open and mapped,
// and a Close from the ring's thread finishes it.
func TestBufRingCloseThatCannotUnregisterKeepsTheBuffers(t *testing.T) {
	r := newRing(t, 4)
	if r.SetupFlags()&SetupSingleIssuer == 0 {
		t.Skip("no SINGLE_ISSUER: unregistering from another thread succeeds")
	}
	br, err := r.NewBufRing(5, 2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	bufs := unsafe.Pointer(&br.Buffer(0)[0])
	if err := onOtherThread(br.Close); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("BufRing.Close on another thread = %v, want EEXIST", err)
	}
	if !stillMapped(t, bufs) {
		t.Fatal("the buffers were unmapped although the kernel still has the group")
	}
	fds := unixPair(t)
	if _, err := unix.Write(fds[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepRecvSelect(fds[0], 5, 0)
	c := waitCQEs(t, r, 1)[0]
	id, ok := c.Buffer()
	if c.Res != 5 || !ok || string(br.Buffer(id)[:5]) != "hello" {
		t.Fatalf("receive after the failed Close: %+v, buffer %d (%v)", c, id, ok)
	}
	if err := br.Close(); err != nil {
		t.Fatalf("BufRing.Close on the ring's thread: %v", err)
	}
	if err := br.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

// Ring.Close on another thread than RegisterRingFD's, on a ring without SINGLE_ISSUER, returned nil:
// IORING_UNREGISTER_RING_FDS looks the index up in the calling thread's table, where it named nothing
// (the kernel reports success), so the registration, which holds the ring's file, stayed. The ring
// outlived its Close with its operations armed: a multishot receive still wrote into a BufRing's
// buffers after BufRing.Close had unmapped them (seen: into a fresh mapping at the same address). Had
// the other thread registered a ring at the same index, that ring's registration was dropped instead.
// UnregisterRingFD now refuses another thread (EEXIST), and Close returns its error with the ring left
// open, to be closed from the registering thread.
func TestRingCloseOnAnotherThreadThanRegisterRingFD(t *testing.T) {
	r := newRing(t, 4, WithoutSingleIssuer())
	if err := r.RegisterRingFD(); err != nil {
		t.Skipf("RegisterRingFD: %v", err)
	}
	// The other thread registers a ring of its own, likely at the same index, then closes ours.
	var other *Ring
	err := onOtherThread(func() error {
		var err error
		if other, err = New(4, WithoutSingleIssuer()); err != nil {
			return err
		}
		if err := other.RegisterRingFD(); err != nil {
			return err
		}
		if err := r.Close(); !errors.Is(err, unix.EEXIST) {
			t.Errorf("Ring.Close on another thread than RegisterRingFD's = %v, want EEXIST", err)
		}
		// Its own registration is intact.
		getSQE(t, other).PrepNop()
		if _, err := other.Submit(); err != nil {
			t.Errorf("the other thread's ring after the Close: %v", err)
		}
		return other.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Fd() < 0 || !r.RingFDRegistered() {
		t.Fatal("the ring was closed although its registered fd could not be released")
	}
	getSQE(t, r).PrepNop()
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
	if err := r.Close(); err != nil {
		t.Fatalf("Close on the registering thread: %v", err)
	}
}

package uring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tempFile returns an open read-write file holding data, closed at cleanup.
func tempFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "data"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReadFile(t *testing.T) {
	r := newRing(t, 8)
	data := bytes.Repeat([]byte("eddy io_uring "), 1000)
	f := tempFile(t, data)
	buf := pinnedBytes(t, len(data)+100)
	sqe := getSQE(t, r)
	sqe.PrepRead(int(f.Fd()), buf, 0)
	sqe.UserData = 1
	c := waitCQEs(t, r, 1)[0]
	wantRes(t, c, int32(len(data)))
	if !bytes.Equal(buf[:c.Res], data) {
		t.Fatal("read returned different bytes")
	}
	// At an offset near the end.
	sqe = getSQE(t, r)
	sqe.PrepRead(int(f.Fd()), buf[:100], uint64(len(data)-10))
	wantRes(t, waitCQEs(t, r, 1)[0], 10)
	if !bytes.Equal(buf[:10], data[len(data)-10:]) {
		t.Fatal("read at offset returned different bytes")
	}
}

func TestWriteThenReadAtCurrentPosition(t *testing.T) {
	r := newRing(t, 8)
	f := tempFile(t, nil)
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	msg := pinnedBytes(t, 5)
	copy(msg, "hello")
	for i := 0; i < 2; i++ {
		getSQE(t, r).PrepWrite(int(f.Fd()), msg, CurrentPos)
		wantRes(t, waitCQEs(t, r, 1)[0], 5)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || string(got) != "hellohello" {
		t.Fatalf("file holds %q, %v; want two appended writes", got, err)
	}
}

func TestWritevThenReadv(t *testing.T) {
	r := newRing(t, 8)
	f := tempFile(t, nil)
	a, b := pinnedBytes(t, 3), pinnedBytes(t, 4)
	copy(a, "abc")
	copy(b, "defg")
	iovs := pinnedIovecs(t, a, b)
	getSQE(t, r).PrepWritev(int(f.Fd()), iovs, 0)
	wantRes(t, waitCQEs(t, r, 1)[0], 7)

	x, y := pinnedBytes(t, 2), pinnedBytes(t, 10)
	iovs = pinnedIovecs(t, x, y)
	getSQE(t, r).PrepReadv(int(f.Fd()), iovs, 0)
	wantRes(t, waitCQEs(t, r, 1)[0], 7)
	if string(x) != "ab" || string(y[:5]) != "cdefg" {
		t.Fatalf("readv filled %q and %q", x, y[:5])
	}
}

// pinnedIovecs returns a pinned iovec array over the (pinned) buffers.
func pinnedIovecs(t *testing.T, bufs ...[]byte) []unix.Iovec {
	iovs := make([]unix.Iovec, len(bufs))
	pinned(t, &iovs[0])
	for i, b := range bufs {
		iovs[i].Base = &b[0]
		iovs[i].SetLen(len(b))
	}
	return iovs
}

func TestTimeoutExpiresWithETIME(t *testing.T) {
	r := newRing(t, 8)
	ts := pinned(t, &Timespec{Nsec: int64(20 * time.Millisecond)})
	start := time.Now()
	sqe := getSQE(t, r)
	sqe.PrepTimeout(ts, 0, 0)
	sqe.UserData = 5
	c := waitCQEs(t, r, 1)[0]
	wantRes(t, c, errnoRes(unix.ETIME))
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("timeout fired after %v, want about 20ms", d)
	}
}

func TestTimeoutCompletesAfterCount(t *testing.T) {
	r := newRing(t, 8)
	ts := pinned(t, &Timespec{Sec: 10})
	sqe := getSQE(t, r)
	sqe.PrepTimeout(ts, 1, 0)
	sqe.UserData = 1
	sqe = getSQE(t, r)
	sqe.PrepNop()
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], 0)
	wantRes(t, got[2], 0)
}

func TestTimeoutRemove(t *testing.T) {
	r := newRing(t, 8)
	ts := pinned(t, &Timespec{Sec: 10})
	sqe := getSQE(t, r)
	sqe.PrepTimeout(ts, 0, 0)
	sqe.UserData = 1
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	sqe = getSQE(t, r)
	sqe.PrepTimeoutRemove(1, 0)
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], errnoRes(unix.ECANCELED))
	wantRes(t, got[2], 0)
}

func TestLinkTimeoutCancelsSlowOperation(t *testing.T) {
	r := newRing(t, 8)
	rd, _ := pipe(t)
	buf := pinnedBytes(t, 16)
	ts := pinned(t, &Timespec{Nsec: int64(20 * time.Millisecond)})
	sqe := getSQE(t, r)
	sqe.PrepRead(rd, buf, CurrentPos) // nothing is ever written
	sqe.UserData = 1
	sqe.Flags |= SQEIOLink
	sqe = getSQE(t, r)
	sqe.PrepLinkTimeout(ts, 0)
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], errnoRes(unix.ECANCELED))
	wantRes(t, got[2], errnoRes(unix.ETIME))
}

func TestLinkTimeoutIsCancelledWhenOperationFinishes(t *testing.T) {
	r := newRing(t, 8)
	ts := pinned(t, &Timespec{Sec: 10})
	sqe := getSQE(t, r)
	sqe.PrepNop()
	sqe.UserData = 1
	sqe.Flags |= SQEIOLink
	sqe = getSQE(t, r)
	sqe.PrepLinkTimeout(ts, 0)
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], 0)
	wantRes(t, got[2], errnoRes(unix.ECANCELED))
}

func TestCancelByUserData(t *testing.T) {
	r := newRing(t, 8)
	rd, _ := pipe(t)
	buf := pinnedBytes(t, 16)
	sqe := getSQE(t, r)
	sqe.PrepRead(rd, buf, CurrentPos)
	sqe.UserData = 10
	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	sqe = getSQE(t, r)
	sqe.PrepCancel(10, 0)
	sqe.UserData = 11
	sqe = getSQE(t, r)
	sqe.PrepCancel(999, 0) // nothing has this user_data
	sqe.UserData = 12
	got := byUserData(t, waitCQEs(t, r, 3))
	wantRes(t, got[10], errnoRes(unix.ECANCELED))
	wantRes(t, got[11], 0)
	wantRes(t, got[12], errnoRes(unix.ENOENT))
}

func TestCancelByFdCancelsAll(t *testing.T) {
	r := newRing(t, 8)
	rd, _ := pipe(t)
	for i := uint64(1); i <= 2; i++ {
		sqe := getSQE(t, r)
		sqe.PrepRead(rd, pinnedBytes(t, 8), CurrentPos)
		sqe.UserData = i
	}
	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	sqe := getSQE(t, r)
	sqe.PrepCancelFd(rd, CancelAll)
	sqe.UserData = 3
	got := byUserData(t, waitCQEs(t, r, 3))
	wantRes(t, got[1], errnoRes(unix.ECANCELED))
	wantRes(t, got[2], errnoRes(unix.ECANCELED))
	wantRes(t, got[3], 2)
}

func TestPollAdd(t *testing.T) {
	r := newRing(t, 8)
	rd, wr := pipe(t)
	sqe := getSQE(t, r)
	sqe.PrepPollAdd(rd, unix.POLLIN)
	sqe.UserData = 1
	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if r.CQReady() != 0 {
		t.Fatal("poll completed before the pipe was readable")
	}
	unix.Write(wr, []byte("x"))
	c := waitCQEs(t, r, 1)[0]
	if c.Res&unix.POLLIN == 0 || c.More() {
		t.Fatalf("poll CQE %+v, want POLLIN without F_MORE", c)
	}
}

func TestPollMultishotPostsPerEvent(t *testing.T) {
	r := newRing(t, 8)
	rd, wr := pipe(t)
	sqe := getSQE(t, r)
	sqe.PrepPollMultishot(rd, unix.POLLIN)
	sqe.UserData = 1
	var b [8]byte
	for i := 0; i < 3; i++ {
		unix.Write(wr, []byte("x"))
		c := waitCQEs(t, r, 1)[0]
		if c.Res&unix.POLLIN == 0 || !c.More() {
			t.Fatalf("event %d: CQE %+v, want POLLIN with F_MORE", i, c)
		}
		unix.Read(rd, b[:]) // drain, so the next write is a new edge
	}
	sqe = getSQE(t, r)
	sqe.PrepPollRemove(1)
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], errnoRes(unix.ECANCELED))
	if got[1].More() {
		t.Fatal("cancelled multishot poll still has F_MORE")
	}
	wantRes(t, got[2], 0)
}

func TestMsgRingWakesAnotherRing(t *testing.T) {
	from := newRing(t, 8)
	to := newRing(t, 8)
	sqe := getSQE(t, from)
	sqe.PrepMsgRing(to.Fd(), 1234, 0xfeed, 0)
	sqe.UserData = 1
	wantRes(t, waitCQEs(t, from, 1)[0], 0)
	c := waitCQEs(t, to, 1)[0]
	if c.UserData != 0xfeed || c.Res != 1234 {
		t.Fatalf("target CQE %+v, want user_data 0xfeed res 1234", c)
	}
}

func TestCloseOpClosesFd(t *testing.T) {
	r := newRing(t, 8)
	rd, _ := pipe(t)
	fd, err := unix.Dup(rd)
	if err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepClose(fd)
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("fcntl on the closed fd = %v, want EBADF", err)
	}
}

func TestLinkedChainStopsAtFailure(t *testing.T) {
	r := newRing(t, 8)
	sqe := getSQE(t, r)
	sqe.PrepClose(-1) // fails with EBADF
	sqe.UserData = 1
	sqe.Flags |= SQEIOLink
	sqe = getSQE(t, r)
	sqe.PrepNop()
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], errnoRes(unix.EBADF))
	wantRes(t, got[2], errnoRes(unix.ECANCELED))
}

func TestCQESkipSuccess(t *testing.T) {
	r := newRing(t, 8)
	sqe := getSQE(t, r)
	sqe.PrepNop()
	sqe.UserData = 1
	sqe.Flags |= SQECQESkipSuccess
	sqe = getSQE(t, r)
	sqe.PrepNop()
	sqe.UserData = 2
	c := waitCQEs(t, r, 1)[0]
	if c.UserData != 2 || r.CQReady() != 0 {
		t.Fatalf("got CQE %+v with %d more ready, want only user_data 2", c, r.CQReady())
	}
}

// Fsync and fdatasync complete with 0 on a file, and with EBADF (or EINVAL) on a descriptor that
// cannot be synced: the opcode and its flag reach the kernel.
func TestFsync(t *testing.T) {
	r := newRing(t, 8)
	f := tempFile(t, []byte("data"))
	getSQE(t, r).PrepFsync(int(f.Fd()), 0)
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
	getSQE(t, r).PrepFsync(int(f.Fd()), FsyncDataSync)
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
	getSQE(t, r).PrepFsync(int(f.Fd()), 1<<7) // no such flag
	wantRes(t, waitCQEs(t, r, 1)[0], -int32(unix.EINVAL))
	getSQE(t, r).PrepFsync(-1, 0)
	wantRes(t, waitCQEs(t, r, 1)[0], -int32(unix.EBADF))
}

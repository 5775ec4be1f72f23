package uring

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// waitLimit bounds every wait in the tests, so a missing CQE fails the test instead of hanging it.
const waitLimit = 5 * time.Second

var availableOnce = sync.OnceValue(Available)

// requireURing skips the test when io_uring cannot be used here, with the reason. Set
// EDDY_REQUIRE_URING=1 (as CI on io_uring machines should) to fail instead of skipping.
func requireURing(t testing.TB) {
	t.Helper()
	if err := availableOnce(); err != nil {
		if os.Getenv("EDDY_REQUIRE_URING") != "" {
			t.Fatalf("EDDY_REQUIRE_URING is set but %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// newRing locks the test goroutine to its thread (SINGLE_ISSUER binds the ring to it), creates a ring
// and closes it, then unlocks, at cleanup, which runs on the same goroutine.
func newRing(t testing.TB, entries uint32, opts ...Option) *Ring {
	t.Helper()
	requireURing(t)
	runtime.LockOSThread()
	r, err := New(entries, opts...)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("New(%d): %v", entries, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
		runtime.UnlockOSThread()
	})
	return r
}

// getSQE returns an SQE or fails the test.
func getSQE(t testing.TB, r *Ring) *SQE {
	t.Helper()
	sqe := r.GetSQE()
	if sqe == nil {
		t.Fatal("GetSQE: submission queue full")
	}
	return sqe
}

// waitCQEs submits what is pending and reaps until n CQEs have arrived, failing after waitLimit.
func waitCQEs(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	out := make([]CQE, 0, n)
	var buf [64]CQE
	for len(out) < n {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("got %d of %d CQEs within %v: %+v", len(out), n, waitLimit, out)
		}
		if _, err := r.SubmitAndWait(uint32(n-len(out)), left); err != nil {
			t.Fatalf("SubmitAndWait: %v", err)
		}
		k := r.Reap(buf[:min(n-len(out), len(buf))])
		out = append(out, buf[:k]...)
	}
	return out
}

// byUserData indexes CQEs by UserData, failing on duplicates.
func byUserData(t testing.TB, cqes []CQE) map[uint64]CQE {
	t.Helper()
	m := make(map[uint64]CQE, len(cqes))
	for _, c := range cqes {
		if _, dup := m[c.UserData]; dup {
			t.Fatalf("two CQEs for user_data %d: %+v", c.UserData, cqes)
		}
		m[c.UserData] = c
	}
	return m
}

// wantRes fails unless the CQE's Res is want (a count, or -errno).
func wantRes(t testing.TB, c CQE, want int32) {
	t.Helper()
	if c.Res != want {
		t.Fatalf("CQE user_data %d: res %d (%v), want %d (%v)", c.UserData, c.Res, c.Err(), want,
			(&CQE{Res: want}).Err())
	}
}

// errnoRes returns -errno as a CQE Res.
func errnoRes(e syscall.Errno) int32 { return -int32(e) }

// pinnedBytes returns n bytes of heap memory pinned until the end of the test, so that it can be
// handed to the kernel: it cannot live on the stack, and the collector neither moves nor frees it.
func pinnedBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	var p runtime.Pinner
	p.Pin(&b[0])
	t.Cleanup(p.Unpin)
	return b
}

// pinned pins *v until the end of the test and returns v.
func pinned[T any](t testing.TB, v *T) *T {
	var p runtime.Pinner
	p.Pin(v)
	t.Cleanup(p.Unpin)
	return v
}

// pipe returns a non-blocking pipe closed at cleanup.
func pipe(t testing.TB) (rd, wr int) {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// listenTCP returns a raw listening socket on 127.0.0.1 (closed at cleanup) and its address.
func listenTCP(t testing.TB) (int, *net.TCPAddr) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in4 := sa.(*unix.SockaddrInet4)
	return fd, &net.TCPAddr{IP: net.IP(in4.Addr[:]), Port: in4.Port}
}

// dial connects to addr with package net; the connection is closed at cleanup.
func dial(t testing.TB, addr *net.TCPAddr) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	return c
}

// unixPair returns a connected pair of Unix stream sockets, closed at the test's cleanup.
func unixPair(t testing.TB) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds
}

// tcpPair returns a server-side raw fd (accepted from a raw listener) and the client net.Conn.
func tcpPair(t testing.TB) (int, *net.TCPConn) {
	t.Helper()
	lfd, addr := listenTCP(t)
	client := dial(t, addr)
	// The connection is already in the accept queue once Dial returned, so this does not block.
	fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, client
}

// sockaddrInet4 converts addr to the kernel's sockaddr_in for PrepConnect, in a RawSockaddrAny (big
// enough for any address, so viewing it as a smaller sockaddr is valid).
func sockaddrInet4(addr *net.TCPAddr) *unix.RawSockaddrAny {
	raw := new(unix.RawSockaddrAny)
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
	sa.Family = unix.AF_INET
	copy(sa.Addr[:], addr.IP.To4())
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(addr.Port>>8), byte(addr.Port) // network byte order
	return raw
}

// countFDs returns the number of open file descriptors of this process.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// countRingMappings returns the number of mappings of io_uring files in this process.
func countRingMappings(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "io_uring")
}

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, _ := strconv.Atoi(parts[0])
	mnr, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return maj > major || maj == major && mnr >= minor
}

// waitThroughSignals makes a SubmitAndWait of 100ms with nothing to complete, held (SetHeldWait) for
// held, while another goroutine sends SIGURG to the waiting thread every 5ms, and checks that the wait
// lasted the whole timeout and was resumed after EINTR. SIGURG is the runtime's preemption signal: its
// handler returns at once, and a blocked io_uring_enter comes back with EINTR.
func waitThroughSignals(t *testing.T, held time.Duration) {
	t.Helper()
	// A wait that saw no signal did not exercise the retry (the signalling goroutine was starved on
	// a loaded machine): it goes again, up to three times.
	for attempt := 1; ; attempt++ {
		eintr := waitThroughSignalsOnce(t, held)
		if eintr > 0 {
			t.Logf("resumed after %d interruptions", eintr)
			return
		}
		if attempt == 3 {
			t.Fatal("no EINTR was seen in 3 waits; the test did not exercise the retry")
		}
		t.Logf("attempt %d: no EINTR was seen; again", attempt)
	}
}

// waitThroughSignalsOnce makes one wait of waitThroughSignals and returns the interruptions it met.
func waitThroughSignalsOnce(t *testing.T, held time.Duration) uint64 {
	t.Helper()
	r := newRing(t, 4)
	r.SetHeldWait(held)
	tid := unix.Gettid() // newRing locked the test goroutine to this thread
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
			}
		}
	}()
	start := time.Now()
	n, err := r.SubmitAndWait(1, 100*time.Millisecond)
	elapsed := time.Since(start)
	close(stop)
	<-done
	if n != 0 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v; want 0, nil", n, err)
	}
	if elapsed < 90*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("SubmitAndWait returned after %v, want about 100ms despite signals", elapsed)
	}
	return r.eintr
}

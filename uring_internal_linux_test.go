package eddy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// Tests of the uring engine's own machinery, in the package so that they can shrink the rings and read
// the loops' counters. The conformance suite covers the behaviour every engine shares.

func requireUring(t *testing.T) {
	t.Helper()
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring is unavailable here: %v", err)
	}
}

// withRingSizes makes the engines started by the test use the given ring sizes and buffer ring kind.
func withRingSizes(t *testing.T, sq, cq, bufs uint32, incremental bool) {
	old := urSizes
	urSizes.sq, urSizes.cq, urSizes.bufs, urSizes.incremental = sq, cq, bufs, incremental
	t.Cleanup(func() { urSizes = old })
}

type plainEcho struct{ BaseHandler }

func (plainEcho) OnData(c Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// startUring starts a uring engine with one loop on a loopback port and stops it at cleanup.
func startUring(t *testing.T, h Handler, opts ...Option) (*Engine, string) {
	t.Helper()
	opts = append([]Option{WithEngine(EngineUring), WithLoops(1)}, opts...)
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e, e.Addrs()[0].String()
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// eachConn runs f for clients 0 to n-1 at once, each on its own connection to addr, dialled with d and
// given a deadline within from then, and fails the test on any error one returns.
func eachConn(t *testing.T, d *net.Dialer, addr string, n int, within time.Duration, f func(i int, c net.Conn) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(within))
			if err := f(i, c); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// randomBytes returns size bytes drawn from r.
func randomBytes(r *rand.Rand, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// writePieces writes msg to c in pieces of 1 to most bytes drawn from r, and stops at the first error.
func writePieces(c net.Conn, msg []byte, r *rand.Rand, most int) {
	for rest := msg; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(most))
		if _, err := c.Write(rest[:n]); err != nil {
			return
		}
		rest = rest[n:]
	}
}

// echoConcurrently runs conns clients at once, each sending size random bytes in random pieces while
// reading the echo back, and fails on any difference.
func echoConcurrently(t *testing.T, addr string, conns, size int) {
	t.Helper()
	eachConn(t, &net.Dialer{Timeout: 5 * time.Second}, addr, conns, 30*time.Second, func(i int, c net.Conn) error {
		r := rand.New(rand.NewPCG(uint64(i), 1))
		msg := randomBytes(r, size)
		go writePieces(c, msg, r, 16<<10)
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
}

// forEachBufRing runs f as a subtest per kind of buffer ring, incremental and plain, with the engines
// the test starts using rings of sq SQEs, cq CQEs and bufs receive buffers (see withRingSizes).
func forEachBufRing(t *testing.T, sq, cq, bufs uint32, f func(t *testing.T, incremental bool)) {
	t.Helper()
	for _, incremental := range []bool{true, false} {
		name := map[bool]string{true: "incremental", false: "plain"}[incremental]
		t.Run(name, func(t *testing.T) {
			withRingSizes(t, sq, cq, bufs, incremental)
			f(t, incremental)
		})
	}
}

func TestUringTinyRingsStillEchoEverything(t *testing.T) {
	requireUring(t)
	// 8 SQEs, 16 CQEs and 8 receive buffers of 4 KiB for 64 busy connections: the SQ fills within every
	// iteration, the CQ overflows into the kernel's backlog (which ends multishot operations) and the
	// buffer ring runs dry (ENOBUFS ends the receives); every one of them must be re-armed and no byte lost.
	// Both kinds of buffer ring: incremental (6.12, the default) and plain (the fallback).
	forEachBufRing(t, 8, 16, 8, func(t *testing.T, incremental bool) {
		base := openFDs(t)
		e, addr := startUring(t, plainEcho{}, WithReadBufferSize(4096))
		echoConcurrently(t, addr, 64, 256<<10)
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		l := e.impl.(*uringEngine).loops[0]
		t.Logf("incremental ring: %v; loop counters: %+v", l.bufOff != nil, l.stats)
		if incremental && l.bufOff == nil && kernelAtLeast612() {
			t.Error("the kernel has IOU_PBUF_RING_INC but the ring is plain")
		}
		if l.stats.sqFull == 0 || l.stats.recvENOBUFS == 0 {
			t.Errorf("the tiny rings did not exercise the full SQ (%d) and ENOBUFS (%d) paths",
				l.stats.sqFull, l.stats.recvENOBUFS)
		}
		if n := openFDs(t); n > base {
			t.Errorf("%d descriptors open after Stop, %d before Start", n, base)
		}
	})
}

// kernelAtLeast612 reports whether the kernel is 6.12 or later (incremental buffer rings).
func kernelAtLeast612() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major > 6 || major == 6 && minor >= 12
}

func TestUringCloseWithSendInFlightReleasesEverything(t *testing.T) {
	requireUring(t)
	// Each connection queues 4 MiB to a peer that never reads, so a send stays in flight, then the peer
	// resets: the send's and the recv's final CQEs must both arrive before the descriptor is closed.
	closed := make(chan error, 16)
	h := &funcH{
		open:  func(c Conn) { c.Write(make([]byte, 4<<20)) },
		close: func(_ Conn, err error) { closed <- err },
	}
	base := openFDs(t)
	e, addr := startUring(t, h)
	for i := 0; i < 16; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // let the send fill the socket
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	for i := 0; i < 16; i++ {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("OnClose ran for %d of 16 connections", i)
		}
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := e.impl.(*uringEngine).loops[0]; l.live != 0 {
		t.Fatalf("%d connections not finalized after Stop", l.live)
	}
	if n := openFDs(t); n > base {
		t.Errorf("%d descriptors open after Stop, %d before Start", n, base)
	}
}

type funcH struct {
	open  func(Conn)
	close func(Conn, error)
}

func (h *funcH) OnOpen(c Conn) {
	if h.open != nil {
		h.open(c)
	}
}
func (h *funcH) OnData(c Conn) { c.Discard(-1) }
func (h *funcH) OnClose(c Conn, err error) {
	if h.close != nil {
		h.close(c, err)
	}
}

// onLoop runs fn on l's goroutine and waits for it.
func onLoop(t *testing.T, l *urLoop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.submit(task{fn: func(*task) { fn(); close(done) }}); err != nil {
		t.Fatal(err)
	}
	<-done
}

// warmBuffers counts the receive buffers whose pages may be resident.
func warmBuffers(w *urBufWindow) int {
	n := 0
	for _, warm := range w.warm {
		if warm {
			n++
		}
	}
	return n
}

// pingPong runs rounds round trips of size-byte messages on each of conns connections at once.
func pingPong(t *testing.T, addr string, conns, rounds, size int) {
	t.Helper()
	eachConn(t, &net.Dialer{Timeout: 5 * time.Second}, addr, conns, 30*time.Second, func(i int, c net.Conn) error {
		msg, got := bytes.Repeat([]byte{byte(i)}, size), make([]byte, size)
		for r := 0; r < rounds; r++ {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, got); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestUringRecvBuffersReuseTheWindow(t *testing.T) {
	requireUring(t)
	// 8 connections ping-pong 64 MiB of 4 KiB messages in all, eight times the buffer ring: never more
	// than 32 KiB (8 receives) arrive in one iteration, so the kernel must keep reusing the window's
	// buffers (two of 64 KiB on an incremental ring, 64 of 16 KiB on a plain one) instead of cycling
	// through, and making resident, the whole ring.
	forEachBufRing(t, urSQEntries, urCQEntries, 0, func(t *testing.T, _ bool) {
		e, addr := startUring(t, plainEcho{})
		pingPong(t, addr, 8, 2048, 4096)
		l := e.impl.(*uringEngine).loops[0]
		var warm, window, entries int
		onLoop(t, l, func() { warm, window, entries = warmBuffers(&l.bufWin), l.bufWin.window, int(l.bufs.Entries()) })
		t.Logf("%d of %d buffers warm, window %d; counters %+v", warm, entries, window, l.stats)
		if l.stats.recvENOBUFS == 0 && warm > l.bufWin.minWindow {
			t.Errorf("%d buffers were posted; the window is %d", warm, l.bufWin.minWindow)
		}
		if warm > entries/4 {
			t.Errorf("%d of %d buffers were posted: the ring is cycled through", warm, entries)
		}
	})
}

func TestUringRecvWindowGrowsWhenDryAndShrinksWhenQuiet(t *testing.T) {
	requireUring(t)
	// 64 connections stream 256 KiB each at once: receives find the window empty (ENOBUFS) and the
	// window grows. Once the traffic is over, trimming halves it back to its floor; the buffers the
	// kernel still holds come back as light traffic uses them, and the next trim gives their pages back
	// to the kernel. (With DEFER_TASKRUN it has already discarded those the kernel holds beyond the
	// window: TestUringIdleLoopGivesBackPostedBuffers.)
	e, addr := startUring(t, plainEcho{}, WithReadBufferSize(16<<10))
	echoConcurrently(t, addr, 64, 256<<10)
	l := e.impl.(*uringEngine).loops[0]
	w := &l.bufWin
	var grown int
	onLoop(t, l, func() { grown = w.window })
	if l.stats.recvENOBUFS == 0 || grown <= w.minWindow {
		t.Skipf("the traffic did not outrun the window (%d ENOBUFS, window %d)", l.stats.recvENOBUFS, grown)
	}
	var window, warm int
	var discarded []uint16
	for i := 0; i < 16 && window != w.minWindow; i++ {
		onLoop(t, l, func() {
			urTrimBufs(l)
			window = w.window
		})
	}
	if window != w.minWindow {
		t.Fatalf("window %d after trimming, want its floor %d", window, w.minWindow)
	}
	pingPong(t, addr, 4, 640, 4096) // 10 MiB: every buffer the kernel held comes back
	// The counters are copied on the loop, which goes on counting during the pingPong below.
	var stats urStats
	onLoop(t, l, func() {
		urTrimBufs(l)
		warm = warmBuffers(w)
		for id, hot := range w.warm {
			if !hot && len(discarded) < 4 {
				discarded = append(discarded, uint16(id))
			}
		}
		stats = l.stats
	})
	t.Logf("window %d grew to %d, back to %d; %d warm; counters %+v", w.minWindow, grown, window, warm, stats)
	if warm > 2*w.minWindow || stats.bufsDiscarded == 0 {
		t.Fatalf("%d buffers warm, %d discarded", warm, stats.bufsDiscarded)
	}
	for _, id := range discarded {
		if n := residentPages(t, l.bufs.Buffer(id)); n != 0 {
			t.Fatalf("buffer %d was discarded but has %d resident pages", id, n)
		}
	}
	pingPong(t, addr, 4, 100, 4096) // the discarded buffers work as before
}

// residentPages returns how many of the pages that b spans are resident (mincore).
func residentPages(t *testing.T, b []byte) int {
	t.Helper()
	page := os.Getpagesize()
	start := uintptr(unsafe.Pointer(&b[0])) &^ uintptr(page-1) // mincore wants a page-aligned start
	size := uintptr(unsafe.Pointer(&b[0])) + uintptr(len(b)) - start
	vec := make([]byte, (size+uintptr(page)-1)/uintptr(page))
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, start, size, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// residentBuffers returns how many of l's receive buffers have a resident page.
func residentBuffers(t *testing.T, l *urLoop) int {
	t.Helper()
	n := 0
	for id := range int(l.bufs.Entries()) {
		if residentPages(t, l.bufs.Buffer(uint16(id))) > 0 {
			n++
		}
	}
	return n
}

func TestUringIdleLoopGivesBackPostedBuffers(t *testing.T) {
	requireUring(t)
	// A burst grows the window; then nothing more arrives. Trimming shrinks the window to its floor and,
	// with DEFER_TASKRUN, also drops the pages of the buffers the kernel still holds, so an idle loop
	// keeps no receive memory resident, whatever the burst was. The buffers whose pages were dropped
	// while posted still receive correctly afterwards.
	e, addr := startUring(t, plainEcho{}, WithReadBufferSize(16<<10))
	l := e.impl.(*uringEngine).loops[0]
	if l.ring.SetupFlags()&uring.SetupDeferTaskrun == 0 {
		t.Skip("no DEFER_TASKRUN: posted buffers are left alone")
	}
	echoConcurrently(t, addr, 64, 256<<10)
	w := &l.bufWin
	var grown, before int
	onLoop(t, l, func() { grown, before = w.window, residentBuffers(t, l) })
	if l.stats.recvENOBUFS == 0 || grown <= w.minWindow {
		t.Skipf("the traffic did not outrun the window (%d ENOBUFS, window %d)", l.stats.recvENOBUFS, grown)
	}
	var window, posted, after int
	for i := 0; i < 16 && window != w.minWindow; i++ {
		onLoop(t, l, func() { urTrimBufs(l); window, posted = w.window, w.posted })
	}
	// The counters are copied on the loop, which goes on counting during the pingPong below.
	var stats urStats
	onLoop(t, l, func() { urTrimBufs(l); after, stats = residentBuffers(t, l), l.stats })
	t.Logf("window %d grew to %d, back to %d with %d posted; resident buffers %d -> %d; counters %+v",
		w.minWindow, grown, window, posted, before, after, stats)
	if window != w.minWindow {
		t.Fatalf("window %d after trimming, want its floor %d", window, w.minWindow)
	}
	if posted <= window {
		t.Skipf("the kernel holds only the window (%d posted): nothing beyond it to give back", posted)
	}
	if after != 0 {
		t.Fatalf("%d buffers resident after trimming an idle loop, want none", after)
	}
	pingPong(t, addr, 4, 640, 4096) // 10 MiB: the kernel takes every posted buffer, discarded ones too
}

func TestUringConnStoresEveryKindOfPeerAddress(t *testing.T) {
	for _, s := range []string{"", "127.0.0.1:80", "[::1]:443", "[::ffff:10.0.0.1]:8080", "[fe80::1%eth0]:9000", "[2001:db8::7]:0"} {
		var want netip.AddrPort
		if s != "" {
			want = netip.MustParseAddrPort(s)
		}
		c := &urConn{}
		c.setRemote(want)
		if got := c.remote(); got != want {
			t.Errorf("setRemote(%v): remote() = %v", want, got)
		}
	}
}

func TestUringConnFitsIn144Bytes(t *testing.T) {
	// Every idle connection holds one urConn; 144 bytes is a malloc size class, the next one is 160.
	// Rarely used state belongs in connExtra, the timer in connClock.
	if n := unsafe.Sizeof(urConn{}); n > 144 {
		t.Fatalf("urConn is %d bytes, more than 144", n)
	}
}

// readOnHandler records what a connection receives and how it closes.
type readOnHandler struct {
	BaseHandler
	mu     sync.Mutex
	got    []byte
	conn   chan Conn
	closed chan error
}

func (h *readOnHandler) OnOpen(c Conn) { h.conn <- c }

func (h *readOnHandler) OnData(c Conn) {
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.got = append(h.got, b...)
	h.mu.Unlock()
}

func (h *readOnHandler) OnClose(_ Conn, err error) { h.closed <- err }

func (h *readOnHandler) received() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.got)
}

// After a failed send the uring engine reads on until its recv ends, which a reset peer's socket does at
// once. A send that failed while the peer is still there (not a case Linux produces for TCP, but the bound
// must not depend on it) must not keep the connection reading for ever: the connection's timer aborts it
// with the send's error after lingerTimeout.
func TestUringReadingOnAfterAFailedSendIsBounded(t *testing.T) {
	requireUring(t)
	h := &readOnHandler{conn: make(chan Conn, 1), closed: make(chan error, 1)}
	_, addr := startUring(t, h)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := <-h.conn
	injected := fmt.Errorf("injected send failure")
	if err := conn.Execute(func(c Conn) { c.(*urConn).sendFailed(injected) }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for h.received() != "after" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := h.received(); got != "after" {
		t.Fatalf("OnData got %q after the failed send, want %q", got, "after")
	}
	if err := conn.AsyncWrite([]byte("x"), nil); err != ErrClosed {
		t.Fatalf("AsyncWrite after the failed send = %v, want ErrClosed", err)
	}
	select {
	case err := <-h.closed:
		if err != injected {
			t.Fatalf("OnClose reason = %v, want the send's error", err)
		}
		if d := time.Since(start); d < lingerTimeout/2 {
			t.Fatalf("closed after %v, before the bound (%v) and with the peer still there", d, lingerTimeout)
		}
	case <-time.After(lingerTimeout + 3*time.Second):
		t.Fatalf("still open %v after the failed send", lingerTimeout+3*time.Second)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the peer can still read from the aborted connection")
	}
}

// The batch a wait asks for follows the connections active in the last epoch, scaled to the epoch.
func TestUringWaitWantFollowsActivity(t *testing.T) {
	l := &urLoop{batching: true}
	ms := int64(urEpoch)
	for _, step := range []struct {
		now      int64
		received int // connections that received since the last step (each epoch counts from its start)
		want     uint32
	}{
		{ms / 2, 60, 1},               // the first epoch is not over: no count yet
		{ms, 40, 50},                  // 100 active in it: half of them
		{2 * ms, urBatchFloor - 1, 1}, // too few to batch
		{3 * ms, 1000, urBatchMax},
		{3*ms + 1000*ms, 40, 1}, // 40 over an idle second is no activity
		{3*ms + 1001*ms, urBatchFloor, urBatchFloor / 2},
	} {
		l.activeNow += step.received
		l.now = step.now
		l.nextEpoch()
		if got := l.waitWant(); got != step.want {
			t.Fatalf("at %v with %d received: waitWant = %d, want %d", time.Duration(step.now), step.received, got, step.want)
		}
	}
	l.batching = false
	if got := l.waitWant(); got != 1 {
		t.Fatalf("without a min wait: waitWant = %d, want 1", got)
	}
}

// A connection counts once per epoch, however many receives it makes.
func TestUringActivityCountsConnectionsNotReceives(t *testing.T) {
	l := &urLoop{batching: true, epoch: 1} // as newUrLoop makes it
	a, b := &urConn{l: l}, &urConn{l: l}
	for range 50 {
		l.countActive(a)
		l.countActive(b)
	}
	if l.activeNow != 2 {
		t.Fatalf("two connections receiving 50 times each counted %d times, want 2", l.activeNow)
	}
	l.now = int64(urEpoch)
	l.nextEpoch()
	l.countActive(a)
	if l.active != 2 || l.activeNow != 1 {
		t.Fatalf("after the epoch: active %d (want 2), counting %d (want 1)", l.active, l.activeNow)
	}
	for range 254 { // the epoch wraps (to 0, were it not skipped): a new connection (epoch 0) still counts at its first receive
		l.now += int64(urEpoch)
		l.nextEpoch()
	}
	l.countActive(&urConn{l: l})
	if l.activeNow != 1 {
		t.Fatalf("after the epoch wrapped, a new connection counted %d times, want 1", l.activeNow)
	}
}

// A multishot accept reports no address, so the loop asks for it. A peer that reset the connection
// before that made getpeername fail (ENOTCONN), and the connection opened as 0.0.0.0:0; SO_PEERNAME
// still tells the address, as accept4 does on epoll, and the connection opens with it, then closes.
func TestUringOpensAConnectionResetBeforeItsAddressWithIt(t *testing.T) {
	requireUring(t)
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		t.Run(host, func(t *testing.T) { testResetBeforeItsAddress(t, host) })
	}
}

func testResetBeforeItsAddress(t *testing.T, host string) {
	opened := make(chan netip.AddrPort, 1)
	closed := make(chan error, 1)
	e, _ := startUring(t, &funcH{
		open:  func(c Conn) { opened <- c.RemoteAddr().(*net.TCPAddr).AddrPort() },
		close: func(_ Conn, err error) { closed <- err },
	})
	l := e.impl.(*uringEngine).loops[0]

	// A socket accepted after its peer reset it, from a listener of the test's own.
	tl, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Skipf("no %s here: %v", host, err)
	}
	defer tl.Close()
	c, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	want := c.LocalAddr().(*net.TCPAddr).AddrPort()
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset, into the listener's queue
	rc, err := tl.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	deadline := time.Now().Add(5 * time.Second)
	for fd < 0 && time.Now().Before(deadline) {
		rc.Control(func(lfd uintptr) {
			fd, _, err = unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		})
		if errors.Is(err, unix.EAGAIN) {
			time.Sleep(time.Millisecond)
		}
	}
	if fd < 0 {
		t.Fatalf("accept4: %v", err)
	}
	if _, err := unix.Getpeername(fd); !errors.Is(err, unix.ENOTCONN) {
		t.Fatalf("getpeername of the reset socket: %v; the test needs ENOTCONN", err)
	}
	onLoop(t, l, func() { l.accepted(fd, l.listeners[0]) })
	select {
	case got := <-opened:
		if got != want {
			t.Fatalf("RemoteAddr = %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnOpen did not run")
	}
	select {
	case err := <-closed:
		if err == nil {
			t.Fatal("OnClose(nil) for a reset connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
}

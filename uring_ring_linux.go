package eddy

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/timer"
	"github.com/eddyio/eddy/internal/uring"
)

// The loop's ring and provided-buffer ring: their sizes, their setup on the loop's thread, and the
// accounting of receive buffers between the kernel and the loop.

// Ring and buffer sizing (see docs/uring-engine.md for the reasoning).
const (
	// urSQEntries is the submission queue size. A full SQ is not an error: getSQE submits and retries.
	urSQEntries = 1024
	// urCQEntries is the completion queue size: room for a recv, a send and a cancel per connection of a
	// busy iteration before the kernel has to keep completions in its overflow backlog.
	urCQEntries = 8192
	// urRecvRingBytes is the receive buffer memory of one loop's buffer ring. It is virtual memory until
	// traffic touches it; it bounds how many bytes one io_uring_enter can receive across all connections
	// before the ring runs dry (ENOBUFS ends the receives that find it empty, and they are re-armed).
	urRecvRingBytes = 8 << 20
	// urRecvBufMaxInc caps the size of one buffer of an incremental ring (6.12), where receives share
	// buffers: a buffer is WithReadBufferSize bytes (the most a single receive takes) up to this cap.
	urRecvBufMaxInc = 1 << 20
	// urRecvBufMaxPlain caps the size of one buffer of a plain ring (before 6.12), where every receive
	// takes a whole buffer however few bytes it brings: smaller buffers, more of them.
	urRecvBufMaxPlain = 16 << 10
	// urRecvGroup is the buffer group id; groups are per ring, so every loop uses the same one.
	urRecvGroup = 0
	// urCQEBatch is how many CQEs are copied out of the ring at a time.
	urCQEBatch = 512
	// urRecvWindowBytes is the receive buffer memory a loop keeps posted to the kernel at first and after
	// a quiet spell (the window's floor): two buffers of the default 64 KiB on an incremental ring. The
	// window doubles whenever a receive finds the ring empty (see urBufWindow).
	urRecvWindowBytes = 128 << 10
	// urRecvWindowMinPlain is the floor of the window of a plain ring, in buffers: there every receive
	// takes a whole buffer, so a busy iteration needs one per connection that has data.
	urRecvWindowMinPlain = 64
	// urBufTrimPeriod is how often a loop that has received checks whether it can shrink its window and
	// give the pages of the buffers it does not need back to the kernel (urTrimBufs).
	urBufTrimPeriod = 500 * time.Millisecond
)

// urSizes are the ring sizes the loops are created with: SQ and CQ entries, the number of receive buffers
// (0: from urRecvRingBytes), whether to try an incremental buffer ring and whether to limit each
// multishot recv to a read's worth where the kernel can (urLoop.recvLimit). Tests change them to drive
// the full-SQ, CQ-overflow and ENOBUFS paths and the fallbacks of older kernels; nothing else does.
var urSizes = struct {
	sq, cq, bufs           uint32
	incremental, recvLimit bool
}{urSQEntries, urCQEntries, 0, true, true}

// urBufShape returns the size and count of receive buffers for a ring, incremental or not: buffers of
// readBufSize bytes up to the mode's cap, as many as fit in urRecvRingBytes (a power of two, 8..32768).
func urBufShape(readBufSize int, incremental bool) (size, entries uint32) {
	limit := urRecvBufMaxPlain
	if incremental {
		limit = urRecvBufMaxInc
	}
	size = uint32(min(readBufSize, limit))
	entries = 8
	for entries < 32768 && uint64(entries)*2*uint64(size) <= urRecvRingBytes {
		entries *= 2
	}
	if urSizes.bufs != 0 {
		entries = urSizes.bufs
	}
	return size, entries
}

// urHeldWait is how long the loop waits in io_uring_enter before it tells the scheduler that it may
// block (uring.Ring.SetHeldWait). A busy loop's waits are shorter, so the runtime's monitor never finds
// its P in a system call; through unix.Syscall6 it did, and then took the P away and handed it back
// every 20 µs, 6-9 % of the loop's CPU time in an echo A/B (docs/uring-engine.md). A goroutine made
// runnable on the loop's P waits for it as long, as it would for a loop busy in Go code, so the loop
// holds its P only when the scheduler has no runnable goroutine (urLoop.heldWait).
const urHeldWait = 200 * time.Microsecond

// Batched waits. A loop whose last epoch (urEpoch) saw at least urBatchFloor connections receive asks
// each held wait for a batch of completions, half that count up to urBatchMax, and the kernel's min
// wait (uring.Ring.SetMinWait) ends the wait after urMinWait with fewer. Fewer, bigger waits cost less
// CPU per round trip under load: +2.6 to +8.8 % per server CPU-second at 1,000 echo connections in eight
// A/Bs, at a cost of 0-3 % at 100 (docs/uring-engine.md, "Batched waits"). A loop serving a few connections never batches, so their
// latency does not pay the min wait: a closed loop of 10 connections never makes a batch of 64, and
// that is where a fixed batch halved the throughput.
const (
	urEpoch      = time.Millisecond
	urBatchFloor = 32
	urBatchMax   = 128
	urMinWait    = 50 * time.Microsecond

	// urHoldPauseMax bounds the pause in holding after held waits that found nothing, in epochs
	// (urLoop.heldEmpty).
	urHoldPauseMax = 64
)

// urStats counts the loop's rare events, for tests and the design note's measurements. Only the loop
// writes them; read them after the loop has exited.
type urStats struct {
	sqFull      int // getSQE found the SQ full and submitted early
	recvENOBUFS int // a multishot recv ended because the buffer ring ran dry
	recvRearm   int // a multishot recv ended for any reason but EOF, cancel or error and was re-armed
	acceptRearm int // a multishot accept ended and was re-armed at once

	bufWindowMax  int // the largest receive buffer window so far (0: it never grew)
	bufsDiscarded int // receive buffers whose pages were given back to the kernel
	trims         int // runs of urTrimBufs
	spliced       int // SendFile bytes spliced from a pipe to a socket
	spliceWaits   int // a splice to a socket found no room and polled for it
	sendPolls     int // a send found no room (EAGAIN) and polled for it (pollForRoom)
	roomPolls     int // completions of polls for room (a send's or a splice's)
	wakePolls     int // the eventfd read ended with EAGAIN and a poll waited for the eventfd (onWake)
	heldWaits     int // waits that held the P (urLoop.wait)
	heldEmpty     int // held waits that ended with no completion
	parks         int // waits that slept in the runtime's poller (urParker)
}

// setup creates the ring and the buffer ring. It runs on the loop's locked thread.
func (l *urLoop) setup() error {
	r, err := uring.New(urSizes.sq, uring.WithCQSize(urSizes.cq))
	// Ring memory is charged to a non-root user's RLIMIT_MEMLOCK and released asynchronously after a
	// ring closes, so an engine started right after another stopped may see a passing ENOMEM.
	for wait := time.Millisecond; errors.Is(err, unix.ENOMEM) && wait <= 64*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		r, err = uring.New(urSizes.sq, uring.WithCQSize(urSizes.cq))
	}
	if err != nil {
		return uringUnavailable(err)
	}
	if err := r.SetMinWait(urMinWait); err == nil {
		l.batching = true
	} else {
		l.logger().Debug("eddy: io_uring waits are not batched", "loop", l.idx, "err", err)
	}
	if err := r.RegisterRingFD(); err != nil { // an optimisation only: each enter skips an fd lookup
		l.logger().Debug("eddy: io_uring ring fd not registered", "loop", l.idx, "err", err)
	}
	var b *uring.BufRing
	var window uint32
	if urSizes.incremental {
		size, n := urBufShape(l.g.e.opts.readBufSize, true)
		window = min(n, max(2, urRecvWindowBytes/size))
		if b, err = r.NewBufRing(urRecvGroup, n, size, uring.WithIncremental(), uring.WithPosted(window)); err == nil {
			l.bufOff = make([]uint32, n)
		} else if !errors.Is(err, unix.EINVAL) {
			r.Close()
			return opError("io_uring_register", "", nil, "", err)
		}
	}
	if b == nil { // before 6.12: a plain ring
		size, n := urBufShape(l.g.e.opts.readBufSize, false)
		window = min(n, max(urRecvWindowMinPlain, urRecvWindowBytes/size))
		if b, err = r.NewBufRing(urRecvGroup, n, size, uring.WithPosted(window)); err != nil {
			r.Close()
			return opError("io_uring_register", "", nil, "", err)
		}
	}
	l.ring, l.bufs = r, b
	if l.parker, err = newUrParker(r); err == nil {
		l.parkWaker = l.parker.waker
	} else {
		l.logger().Debug("eddy: the uring loop waits in io_uring_enter, not in the runtime's poller", "loop", l.idx, "err", err)
	}
	l.bufWin.init(b, int(window))
	l.bufWin.trim.Init(urTrimBufs, l)
	if urSizes.recvLimit && uring.RecvLimitSupported() {
		l.recvLimit = uint32(l.g.e.opts.readBufSize)
	}
	return nil
}

// recvData returns the bytes a recv CQE delivered, in the provided buffer the kernel chose, or nil. In an
// incremental ring they start where the previous CQE for the same buffer ended.
func (l *urLoop) recvData(cqe *uring.CQE) []byte {
	id, ok := cqe.Buffer()
	if !ok || cqe.Res <= 0 {
		return nil
	}
	var off uint32
	if l.bufOff != nil {
		off = l.bufOff[id]
	}
	return l.bufs.Buffer(id)[off : off+uint32(cqe.Res)]
}

// doneWithBuffer accounts for a recv CQE's buffer once its data has been handled (every CQE that carries
// one, whoever it is for): a buffer the kernel keeps filling (F_BUF_MORE, incremental rings) only moves
// its offset; any other goes back to the kernel at the next Advance.
func (l *urLoop) doneWithBuffer(cqe *uring.CQE) {
	id, ok := cqe.Buffer()
	if !ok {
		return
	}
	l.bufWin.warm[id] = true // the kernel wrote into it: its pages are resident
	if !l.bufWin.trim.Pending() {
		// A trim will give the pages back once the loop has been idle for a period.
		l.wheel.Schedule(&l.bufWin.trim, l.now+int64(urBufTrimPeriod))
	}
	if cqe.BufMore() {
		l.bufOff[id] += uint32(max(cqe.Res, 0))
		return
	}
	if l.bufOff != nil {
		l.bufOff[id] = 0
	}
	l.bufWin.put(id)
}

// urBufWindow is the loop's side of its buffer ring: which buffers the kernel has and which the loop
// keeps. The kernel takes buffers in ring order, so a ring with every buffer posted makes it cycle
// through, and touch, all of the ring's memory (8 MiB) however little arrives at a time: 10,000
// connections sending 4 KiB once each left the whole ring resident. The loop therefore keeps only a
// window of buffers posted and reposts the one it got back last first, so that traffic keeps reusing the
// same few buffers, as the epoll engine reuses its one read buffer. The window doubles whenever a receive
// finds the ring empty (ENOBUFS: the receive ends and is re-armed, no data is lost) and halves after a
// trim period in which no iteration used more than a quarter of it; the pages of the buffers that then
// sit unposted below the window go back to the kernel (Discard). Loop only.
type urBufWindow struct {
	ring      *uring.BufRing
	free      []uint16 // buffers the loop owns; the end of the slice was given back last
	warm      []bool   // by buffer: written by the kernel since its pages were last discarded, so resident
	posted    int      // buffers the kernel owns
	window    int      // how many buffers to keep posted
	minWindow int
	used      int  // buffers given back since the last post
	peakUsed  int  // the most given back between two posts since the last trim
	dry       bool // a receive found the ring empty since the last trim
	grown     bool // the window grew since the last post
	trim      timer.Timer
}

// init takes over ring, of which the first window buffers are posted (uring.WithPosted).
func (w *urBufWindow) init(ring *uring.BufRing, window int) {
	n := int(ring.Entries())
	w.ring, w.window, w.minWindow, w.posted = ring, window, window, window
	w.warm = make([]bool, n) // freshly mapped: no page is resident until the kernel writes one
	w.free = make([]uint16, 0, n)
	for id := n - 1; id >= window; id-- { // buffer window is on top
		w.free = append(w.free, uint16(id))
	}
}

// put takes back buffer id from the kernel.
func (w *urBufWindow) put(id uint16) {
	w.free = append(w.free, id)
	w.posted--
	w.used++
}

// post tops the kernel's buffers up to the window, last given back first, and publishes them. It runs
// before every io_uring_enter.
func (w *urBufWindow) post() {
	w.peakUsed = max(w.peakUsed, w.used)
	w.used, w.grown = 0, false
	for w.posted < w.window && len(w.free) > 0 {
		id := w.free[len(w.free)-1]
		w.free = w.free[:len(w.free)-1]
		w.ring.Add(id)
		w.posted++
	}
	w.ring.Advance()
}

// bufsRanDry doubles the window after a receive found the ring empty, once however many receives between
// two posts found it so (post runs before every io_uring_enter, so a busy iteration that enters several
// times may double it more than once), and has l trim it later.
func (l *urLoop) bufsRanDry() {
	w := &l.bufWin
	if !w.grown && w.window < int(w.ring.Entries()) {
		w.window = min(2*w.window, int(w.ring.Entries()))
		w.grown = true
		l.stats.bufWindowMax = max(l.stats.bufWindowMax, w.window)
	}
	w.dry = true
	if !w.trim.Pending() {
		l.wheel.Schedule(&w.trim, l.now+int64(urBufTrimPeriod))
	}
}

// discardPosted drops the pages of the buffers the kernel holds beyond the first keep it will take:
// after a burst, they stay posted (and resident) until traffic uses them, which for an idle server is
// never. The kernel takes buffers in ring order, so these are the most recently published ones
// (BufRing.Published), which it would take last.
//
// Dropping the pages of a buffer the kernel holds is safe only while the kernel cannot be writing into
// it. With DEFER_TASKRUN a receive's data is copied into a provided buffer only by task work that runs
// inside this thread's own io_uring_enter (or inline in a submission, also ours), never concurrently
// with the loop; and the receives are never punted to io-wq (no IOSQE_ASYNC). When every posted
// completion has been reaped (CQDrained), every buffer the kernel has written into has been reported
// and handed back, and the posted buffers counted in w.posted hold no data anyone will read: their
// pages become zero pages again, which the kernel refills on its next write. Without DEFER_TASKRUN
// (kernels before 6.1) the loop leaves them alone. It returns how many buffers it discarded. Loop only.
func (l *urLoop) discardPosted(keep int) int {
	w := &l.bufWin
	if w.posted <= keep || l.ring.SetupFlags()&uring.SetupDeferTaskrun == 0 || !l.ring.CQDrained() {
		return 0
	}
	n := 0
	for k := range w.posted - keep {
		if id := w.ring.Published(k); w.warm[id] {
			if !l.discardBuf(id) {
				break
			}
			n++
		}
	}
	return n
}

// discardBuf drops the pages of buffer id and reports whether it could.
func (l *urLoop) discardBuf(id uint16) bool {
	if err := l.bufWin.ring.Discard(id); err != nil {
		l.logger().Debug("eddy: discarding a receive buffer's pages failed", "loop", l.idx, "err", err)
		return false
	}
	l.bufWin.warm[id] = false
	return true
}

// urTrimBufs runs urBufTrimPeriod after the kernel first writes into a receive buffer, and then every
// period until one finds the loop idle with nothing left to trim (the window at its floor, nothing
// discarded). After a period in which no iteration got a quarter of the window back (quiet), it halves the
// window, and it keeps resident only the buffers the kernel would use first: twice what the busiest
// iteration got back, so none at all on a loop that got no buffer back in the period (on an incremental
// ring, light traffic into the head buffer counts as none: its pages then come back as a few page faults
// on the next write). The window shrinks step by step, so that a returning burst still finds buffers
// posted; their memory goes back at once, since a buffer whose pages were dropped works as before (the
// kernel refills zero pages on its next write, a few page faults). In a busy period it keeps the window's
// worth. An idle loop so holds no receive memory at all, where the epoll engine's read buffer keeps the
// one page its reads touch. Loop only.
func urTrimBufs(arg any) {
	l := arg.(*urLoop)
	l.stats.trims++
	w := &l.bufWin
	quiet := !w.dry && 4*w.peakUsed < w.window // (peakUsed < window/4 would never hold for a window of 2)
	if quiet && w.window > w.minWindow {
		w.window = max(w.window/2, w.minWindow)
	}
	keep := w.window
	if quiet {
		keep = min(keep, 2*w.peakUsed) // 0 when no buffer came back at all: an idle loop keeps none
	}
	idle := quiet && w.peakUsed == 0
	w.dry, w.peakUsed = false, 0
	// The kernel uses the posted buffers first, oldest first, then what post takes from the top of the
	// free stack; beyond the first keep of those, every buffer is cold.
	discarded := l.discardPosted(keep)
	for _, id := range w.free[:len(w.free)-min(len(w.free), max(0, keep-w.posted))] {
		if w.warm[id] {
			if !l.discardBuf(id) {
				break
			}
			discarded++
		}
	}
	l.stats.bufsDiscarded += discarded
	// Until a period finds the loop idle with nothing left to discard, look again next period; after
	// that, the next receive schedules the trim. Buffers the kernel holds beyond the window are no reason
	// to look again: those that could be discarded were, and an idle loop kept waking for them.
	if !idle || w.window > w.minWindow || discarded > 0 {
		l.wheel.Schedule(&w.trim, l.clock()+int64(urBufTrimPeriod))
	}
}

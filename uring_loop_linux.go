package eddy

import (
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/netpoll"
	"github.com/eddyio/eddy/internal/socket"
	"github.com/eddyio/eddy/internal/timer"
	"github.com/eddyio/eddy/internal/uring"
)

// user_data tokens. Every SQE carries a token, never a Go pointer: the operation kind in the top byte, the
// slot's generation (24 bits) and the slot (32 bits). For connection operations the slot indexes l.conns;
// for accepts it indexes l.listeners. A connection's slot is freed, and its generation bumped, only after
// the final CQE of every operation on it, so a CQE whose generation is stale cannot happen in normal
// operation; it is dropped all the same (after giving back its receive buffer).
//
//	bits 63..56 op kind | 55..32 generation | 31..0 slot
const (
	urOpWake    = 1 + iota // the eventfd read that wakes the loop
	urOpAccept             // multishot accept; slot = listener index
	urOpRecv               // multishot recv into the buffer ring
	urOpSend               // SEND or SENDMSG of queued output
	urOpCancel             // ASYNC_CANCEL; its own CQE is only logged
	urOpConnect            // POLL_ADD for POLLOUT on a connecting socket

	urGenMask = 1<<24 - 1
)

func urToken(op uint8, slot, gen uint32) uint64 {
	return uint64(op)<<56 | uint64(gen&urGenMask)<<32 | uint64(slot)
}

func urTokenOp(tok uint64) uint8    { return uint8(tok >> 56) }
func urTokenSlot(tok uint64) uint32 { return uint32(tok) }
func urTokenGen(tok uint64) uint32  { return uint32(tok>>32) & urGenMask }

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
)

// urSizes are the ring sizes the loops are created with: SQ and CQ entries, the number of receive buffers
// (0: from urRecvRingBytes) and whether to try an incremental buffer ring. Tests change them to drive the
// full-SQ, CQ-overflow and ENOBUFS paths and the plain-ring fallback; nothing else does.
var urSizes = struct {
	sq, cq, bufs uint32
	incremental  bool
}{urSQEntries, urCQEntries, 0, true}

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

// urStats counts the loop's rare events, for tests and the design note's measurements. Only the loop
// writes them; read them after the loop has exited.
type urStats struct {
	sqFull      int // getSQE found the SQ full and submitted early
	recvENOBUFS int // a multishot recv ended because the buffer ring ran dry
	recvRearm   int // a multishot recv ended for any reason but EOF, cancel or error and was re-armed
	acceptRearm int // a multishot accept ended and was re-armed at once
}

// urLoop is one event loop of the uring engine: a ring with its provided-buffer ring, the connections, a
// timing wheel and a task queue, all owned by one goroutine locked to its OS thread. Every call on the ring
// is made from that thread, as SINGLE_ISSUER requires.
type urLoop struct {
	g      *uringEngine
	idx    int
	ring   *uring.Ring
	bufs   *uring.BufRing
	bufOff []uint32       // incremental ring: where the next CQE's data starts in each buffer; nil for a plain ring
	waker  *netpoll.Waker // eventfd written by other goroutines to wake the loop
	state  atomic.Int32   // loopAwake, loopSleeping or loopWoken
	stopRq atomic.Int32   // stopNone, stopGraceful or stopForce
	tasks  taskQueue
	wheel  *timer.Wheel

	// wakeBuf receives the eventfd counter. The kernel writes it through an address in an SQE, so it is a
	// separate heap object (never on a stack), referenced from the loop until the read's final CQE.
	wakeBuf   *[8]byte
	wakeArmed bool

	conns     []*urConn // by slot
	gens      []uint32  // generation of each slot, bumped when the slot is freed
	freeSlots []uint32
	live      int // connections whose slot is not yet freed (including closing and lingering ones)

	listeners    []*urListener
	acceptsArmed int             // multishot accepts without their final CQE
	peer         socket.Acceptor // its address buffer serves getpeername without allocating

	cqes      []uring.CQE
	dirty     []*urConn    // connections to flush at the end of the iteration
	redeliver []*urConn    // connections whose buffered input must be offered to OnData again
	msgs      []*urSendMsg // free SENDMSG headers
	vecs      [][]byte     // scratch for Outbound.Vectors

	tick     timer.Timer
	stopping bool
	forced   bool  // a forced stop has aborted every connection
	now      int64 // wheel clock, refreshed once per iteration
	startCh  chan bool
	stats    urStats
}

func newUrLoop(g *uringEngine, idx int) (*urLoop, error) {
	w, err := netpoll.NewWaker()
	if err != nil {
		return nil, opError("eventfd", "", nil, "", err)
	}
	l := &urLoop{
		g: g, idx: idx, waker: w,
		wakeBuf: new([8]byte),
		cqes:    make([]uring.CQE, urCQEBatch),
		vecs:    make([][]byte, 0, urMaxSendVecs),
		startCh: make(chan bool, 1),
	}
	l.tasks.cap = g.e.opts.taskQueueCap
	l.now = l.clock()
	l.wheel = timer.New(timerTick, l.now)
	return l, nil
}

func (l *urLoop) clock() int64 { return int64(time.Since(l.g.base)) }

func (l *urLoop) logger() *slog.Logger { return l.g.e.opts.logger }

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
	if err := r.RegisterRingFD(); err != nil { // an optimisation only: each enter skips an fd lookup
		l.logger().Debug("eddy: io_uring ring fd not registered", "loop", l.idx, "err", err)
	}
	var b *uring.BufRing
	if urSizes.incremental {
		size, n := urBufShape(l.g.e.opts.readBufSize, true)
		if b, err = r.NewBufRing(urRecvGroup, n, size, uring.WithIncremental()); err == nil {
			l.bufOff = make([]uint32, n)
		} else if !errors.Is(err, unix.EINVAL) {
			r.Close()
			return opError("io_uring_register", "", nil, "", err)
		}
	}
	if b == nil { // before 6.12: a plain ring
		size, n := urBufShape(l.g.e.opts.readBufSize, false)
		if b, err = r.NewBufRing(urRecvGroup, n, size); err != nil {
			r.Close()
			return opError("io_uring_register", "", nil, "", err)
		}
	}
	l.ring, l.bufs = r, b
	return nil
}

// release closes the buffer ring and the ring, on the loop's thread. Every operation that could write
// into a receive buffer has posted its final CQE by then (the loop only exits once every connection is
// released, and a connection is released after the final CQE of its recv).
func (l *urLoop) release() {
	for _, ln := range l.listeners {
		if ln.fd >= 0 {
			unix.Close(ln.fd)
			ln.fd = -1
		}
	}
	if l.ring == nil {
		return
	}
	l.cancelWake()
	if err := l.bufs.Close(); err != nil {
		l.logger().Error("eddy: closing the buffer ring failed", "loop", l.idx, "err", err)
	}
	if err := l.ring.Close(); err != nil {
		l.logger().Error("eddy: closing the ring failed", "loop", l.idx, "err", err)
	}
	l.ring, l.bufs = nil, nil
}

// closeWaker closes the eventfd. The engine calls it once every loop has exited, so no wake-up can race
// with the close.
func (l *urLoop) closeWaker() {
	if l.waker != nil {
		l.waker.Close()
		l.waker = nil
	}
}

// submit queues fn(arg) onto the loop from any goroutine and wakes the loop if it sleeps.
func (l *urLoop) submit(fn func(any), arg any) error {
	if err := l.tasks.push(task{fn, arg}); err != nil {
		return err
	}
	l.wake()
	return nil
}

// wake writes the eventfd only when the loop sleeps (or is about to): a burst of tasks costs one write.
func (l *urLoop) wake() {
	if l.state.CompareAndSwap(loopSleeping, loopWoken) {
		l.waker.Wake()
	}
}

func (l *urLoop) requestStop(level int32) {
	for {
		cur := l.stopRq.Load()
		if cur >= level || l.stopRq.CompareAndSwap(cur, level) {
			break
		}
	}
	l.state.Store(loopWoken)
	l.waker.Wake()
}

// run is the loop. It locks the goroutine to its thread, creates the ring there and reports on ready,
// waits for the engine's go-ahead, then iterates: submit and wait in one io_uring_enter, dispatch the
// completions (OnData runs here), run queued tasks, flush what was written, run due timers. It returns
// after a stop request once every connection and listener is released.
func (l *urLoop) run(ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.g.wg.Done()
	if err := l.setup(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	if !<-l.startCh {
		l.release()
		return
	}
	l.armWake()
	for _, ln := range l.listeners {
		l.armAccept(ln)
	}
	if l.idx == 0 {
		if _, ok := l.g.e.h.(TickHandler); ok {
			l.tick.Init(urRunTick, l)
			l.wheel.Schedule(&l.tick, l.now)
		}
	}
	for {
		if rq := l.stopRq.Load(); rq != stopNone {
			l.beginStop(rq)
			if l.live == 0 && l.acceptsArmed == 0 {
				break
			}
		}
		timeout := l.waitTimeout()
		if timeout != 0 {
			l.state.Store(loopSleeping)
			if l.tasks.pending() || l.stopRq.Load() != stopNone && !l.stopping {
				timeout = 0
			}
		}
		l.bufs.Advance()
		_, err := l.ring.SubmitAndWait(1, timeout)
		l.state.Store(loopAwake)
		if err != nil {
			l.enterFailed(err)
		}
		l.now = l.clock()
		l.reap()
		l.redeliverAll()
		l.tasks.run()
		l.flushAll()
		l.wheel.Advance(l.clock())
		l.flushAll() // timers may have written or closed
	}
	l.finish()
}

// enterFailed handles an io_uring_enter error. EBUSY and EAGAIN mean the kernel is short of resources
// until completions are reaped, which the loop does next; anything else is logged, and the loop pauses
// briefly so that a persistent error cannot make it spin.
func (l *urLoop) enterFailed(err error) {
	if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EAGAIN) {
		return
	}
	l.logger().Error("eddy: io_uring_enter failed", "loop", l.idx, "err", err)
	time.Sleep(10 * time.Millisecond)
}

// waitTimeout returns how long SubmitAndWait may wait: 0 when work is pending, the time to the next timer,
// or -1 (no limit).
func (l *urLoop) waitTimeout() time.Duration {
	if len(l.redeliver) > 0 || len(l.dirty) > 0 {
		return 0
	}
	d, ok := l.wheel.Next(l.clock())
	if !ok {
		return -1
	}
	return d
}

// getSQE returns a free SQE. When the submission queue is full it submits what is queued and retries, so
// callers never see a full queue. The SQE must be filled before the next call.
func (l *urLoop) getSQE() *uring.SQE {
	for tries := 0; ; tries++ {
		if sqe := l.ring.GetSQE(); sqe != nil {
			return sqe
		}
		l.stats.sqFull++
		l.bufs.Advance() // recycled buffers first, so the receives submitted now can use them
		if _, err := l.ring.Submit(); err != nil {
			if tries == 0 {
				l.logger().Warn("eddy: io_uring submit failed with a full SQ, retrying", "loop", l.idx, "err", err)
			}
			time.Sleep(100 * time.Microsecond) // the kernel is short of memory: let it recover
		}
	}
}

// reap dispatches every ready CQE, in batches, and publishes the receive buffers recycled meanwhile.
func (l *urLoop) reap() {
	for {
		n := l.ring.PeekBatch(l.cqes)
		if n == 0 {
			return
		}
		// The CQEs are copied out: consume them before dispatching, which may submit (a full SQ).
		l.ring.Advance(n)
		for i := 0; i < n; i++ {
			l.dispatch(&l.cqes[i])
		}
		l.bufs.Advance()
	}
}

// dispatch routes one CQE by the operation kind in its token.
func (l *urLoop) dispatch(cqe *uring.CQE) {
	tok := cqe.UserData
	switch urTokenOp(tok) {
	case urOpWake:
		l.wakeArmed = false
		if cqe.Res < 0 && cqe.Res != -int32(unix.ECANCELED) {
			l.logger().Error("eddy: eventfd read failed", "loop", l.idx, "err", cqe.Err())
		}
		if l.ring != nil && cqe.Res != -int32(unix.ECANCELED) {
			l.armWake()
		}
	case urOpAccept:
		if i := urTokenSlot(tok); int(i) < len(l.listeners) {
			l.onAccept(l.listeners[i], cqe)
		}
	case urOpRecv:
		if c := l.lookup(tok); c != nil {
			c.onRecv(cqe)
		} else {
			l.doneWithBuffer(cqe)
		}
	case urOpSend:
		if c := l.lookup(tok); c != nil {
			c.onSend(cqe)
		}
	case urOpConnect:
		if c := l.lookup(tok); c != nil {
			c.onConnect(cqe)
		}
	case urOpCancel:
		if err := cqe.Err(); err != nil && !errors.Is(err, unix.ENOENT) {
			l.logger().Debug("eddy: io_uring cancel", "loop", l.idx, "err", err)
		}
	}
}

// lookup returns the connection a token names, or nil when its generation is stale.
func (l *urLoop) lookup(tok uint64) *urConn {
	slot := urTokenSlot(tok)
	if int(slot) >= len(l.conns) || l.gens[slot]&urGenMask != urTokenGen(tok) {
		return nil
	}
	return l.conns[slot]
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
	if cqe.BufMore() {
		l.bufOff[id] += uint32(max(cqe.Res, 0))
		return
	}
	if l.bufOff != nil {
		l.bufOff[id] = 0
	}
	l.bufs.Add(id)
}

// armWake arms the read of the eventfd that other goroutines write to wake the loop.
func (l *urLoop) armWake() {
	if l.wakeArmed {
		return
	}
	sqe := l.getSQE()
	sqe.PrepRead(l.waker.FD(), l.wakeBuf[:], 0)
	sqe.UserData = urToken(urOpWake, 0, 0)
	l.wakeArmed = true
}

// cancelWake cancels the eventfd read and waits (boundedly) for its final CQE, so that the kernel no
// longer holds the address of wakeBuf when the ring closes.
func (l *urLoop) cancelWake() {
	if !l.wakeArmed {
		return
	}
	sqe := l.getSQE()
	sqe.PrepCancel(urToken(urOpWake, 0, 0), 0)
	sqe.UserData = urToken(urOpCancel, 0, 0)
	deadline := time.Now().Add(time.Second)
	for l.wakeArmed && time.Now().Before(deadline) {
		l.ring.SubmitAndWait(1, 10*time.Millisecond)
		for {
			n := l.ring.Reap(l.cqes)
			if n == 0 {
				break
			}
			for i := 0; i < n; i++ {
				if urTokenOp(l.cqes[i].UserData) == urOpWake {
					l.wakeArmed = false
				}
			}
		}
	}
}

// markDirty schedules c for a flush at the end of the iteration.
func (l *urLoop) markDirty(c *urConn) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

func (l *urLoop) flushAll() {
	for i := 0; i < len(l.dirty); i++ { // flush may append: re-read the length
		c := l.dirty[i]
		l.dirty[i] = nil
		c.dirty = false
		c.flush()
	}
	l.dirty = l.dirty[:0]
}

// queueRedeliver schedules OnData for c's buffered input (after back-pressure lifted).
func (l *urLoop) queueRedeliver(c *urConn) {
	if !c.redeliverQueued {
		c.redeliverQueued = true
		l.redeliver = append(l.redeliver, c)
	}
}

func (l *urLoop) redeliverAll() {
	for len(l.redeliver) > 0 {
		batch := l.redeliver
		l.redeliver = nil
		for i, c := range batch {
			batch[i] = nil
			c.redeliverQueued = false
			c.deliver()
		}
		if l.redeliver == nil {
			l.redeliver = batch[:0]
			return
		}
	}
}

func urRunTick(arg any) {
	l := arg.(*urLoop)
	if l.stopping {
		return
	}
	if d := l.g.e.tick(); d >= 0 {
		l.wheel.Schedule(&l.tick, l.clock()+int64(d))
	}
}

// beginStop starts the loop's stop: on the first request it cancels the accepts (each listener is closed
// at its accept's final CQE) and starts a graceful close of every connection; a forced request closes
// what is left at once.
func (l *urLoop) beginStop(rq int32) {
	if !l.stopping {
		l.stopping = true
		for _, ln := range l.listeners {
			l.stopListener(ln)
		}
		l.wheel.Stop(&l.tick)
		for _, c := range l.conns {
			switch {
			case c == nil:
			case c.state == connConnecting:
				c.failDial(ErrEngineStopped)
			default:
				c.beginClose(ErrEngineStopped)
			}
		}
		l.flushAll()
	}
	if rq == stopForce && !l.forced {
		l.forced = true
		for _, c := range l.conns {
			if c != nil {
				c.abort(ErrEngineStopped)
			}
		}
	}
}

// finish runs after the last connection is gone: it fails the tasks still queued and releases the loop.
func (l *urLoop) finish() {
	for _, t := range l.tasks.close() {
		t.fn(t.arg) // each task sees a closed connection or a stopping loop and reports ErrClosed
	}
	l.release()
}

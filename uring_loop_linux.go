package eddy

import (
	"errors"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/buffer"
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
	urOpSend               // SEND of queued output
	urOpSendmsg            // SENDMSG of queued output; its header is in l.sendMsgs
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

// urLoop is one event loop of the uring engine: a ring with its provided-buffer ring, the connections, a
// timing wheel and a task queue, all owned by one goroutine locked to its OS thread. Every call on the ring
// is made from that thread, as SINGLE_ISSUER requires.
type urLoop struct {
	loopCore
	g      *uringEngine
	ring   *uring.Ring
	bufs   *uring.BufRing
	bufOff []uint32 // incremental ring: where the next CQE's data starts in each buffer; nil for a plain ring
	bufWin urBufWindow
	borrow buffer.Chunk // lends a provided buffer to the connection whose OnData runs (see buffer.Inbound)
	// recvLimit is the most one multishot recv takes before it ends and is armed again
	// (uring.SQE.SetRecvLimit; 0 on kernels before 6.17: no limit). It bounds what a connection takes
	// in past a pause before the pause's cancel takes effect (docs/uring-engine.md, "Back-pressure").
	recvLimit uint32

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
	cqeNext   int // cqes[cqeNext:cqeN] are reaped and not dispatched yet (reap)
	cqeN      int
	dirty     []*urConn             // connections to flush at the end of the iteration
	recvWant  []*urConn             // connections whose recv armRecvs arms before the submission (armRecv)
	redeliver []*urConn             // connections whose buffered input must be offered to OnData again
	msgs      []*urSendMsg          // free SENDMSG headers
	sendMsgs  map[uint32]*urSendMsg // the headers of the SENDMSGs in flight, by slot
	vecs      [][]byte              // scratch for Outbound.Vectors

	// runnable reads the scheduler's count of runnable goroutines (heldWait).
	runnable [1]metrics.Sample

	// Batched waits (waitWant): the connections that received in the current epoch and in the last one.
	batching   bool  // the kernel has a min wait
	epoch      uint8 // from 1: a connection's epoch starts at 0
	epochStart int64
	activeNow  int
	active     int

	parker      *urParker // nil: the loop waits in io_uring_enter
	parking     bool      // parker is set and uring loops hold every P (refreshed each epoch)
	noHoldUntil int64     // heldWait does not hold before this time (heldEmpty)
	holdPause   int       // epochs heldEmpty pauses holding for next time, from 1
	heldFound   bool      // the last wait was a held one that ended with completions (afterHeld)
	recvSeen    bool      // a recv delivered data since heldFound was set

	tick    timer.Timer
	startCh chan bool
	stats   urStats
}

func newUrLoop(g *uringEngine, idx int) (*urLoop, error) {
	w, err := netpoll.NewWaker()
	if err != nil {
		return nil, opError("eventfd", "", nil, "", err)
	}
	l := &urLoop{
		g:         g,
		wakeBuf:   new([8]byte),
		cqes:      make([]uring.CQE, urCQEBatch),
		vecs:      make([][]byte, 0, urMaxSendVecs),
		sendMsgs:  make(map[uint32]*urSendMsg),
		startCh:   make(chan bool, 1),
		epoch:     1,
		holdPause: 1,
	}
	l.runnable[0].Name = "/sched/goroutines/runnable:goroutines"
	l.loopCore.init(idx, g.base, g.e, w)
	return l, nil
}

// release closes the buffer ring and the ring, on the loop's thread. Every operation that could write
// into a receive buffer has posted its final CQE by then (the loop only exits once every connection is
// released, and a connection is released after the final CQE of its recv).
func (l *urLoop) release() {
	for _, ln := range l.listeners {
		if ln.fd >= 0 {
			closeListenerFD(ln.fd, &ln.file)
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

// closeWaker closes the eventfds, once the loop has exited and its task queue is closed.
func (l *urLoop) closeWaker() {
	l.waker.Close()
	l.parker.close()
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
	defer urLoopsRunning.Add(-1) // counted by the engine's start, for all its loops at once
	l.setParking()
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
	l.serveGuarded(l.serve)
}

// serve runs the loop's iterations until it has stopped, then finishes it.
func (l *urLoop) serve() {
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
		l.armRecvs() // last: nothing runs between them and the submission that could pause reading
		l.bufWin.post()
		err := l.wait(timeout)
		l.state.Store(loopAwake)
		if err != nil {
			l.enterFailed(err)
		}
		l.now = l.clock()
		l.nextEpoch()
		l.reap()
		if l.heldFound {
			l.afterHeld()
		}
		l.redeliverAll()
		l.endIteration(l.flushAll)
	}
	l.finish()
}

// wait submits what is queued and waits for completions for at most timeout (0: not at all; negative: no
// limit).
//
// When uring loops hold every P (l.parking), the loop first waits holding its P (heldWait), which is
// cheap; a loop that did not hold, or whose held wait found nothing, parks in the runtime's poller
// (urParker), which lets every other goroutine run and the runtime poll the network. Otherwise the
// whole wait is in io_uring_enter, held at first: a P is free for the rest of the program, and a park,
// a hand-off of the P between two threads and back, would only add to the loop's wake-up latency (an
// in-process client with two Ps and one loop: 49 µs per round trip without parking, 74 µs with).
func (l *urLoop) wait(timeout time.Duration) error {
	if timeout == 0 {
		_, err := l.ring.SubmitAndWait(1, 0)
		return err
	}
	held := l.heldWait()
	want := uint32(1)
	if held > 0 {
		want = l.waitWant()
	}
	if !l.parking {
		l.ring.SetHeldWait(held)
		_, err := l.ring.SubmitAndWait(want, timeout)
		return err
	}
	if held > 0 {
		if timeout > 0 && timeout < held {
			held = timeout
		}
		l.ring.SetHeldWait(held)
		_, err := l.ring.SubmitAndWait(want, held)
		if err != nil {
			return err
		}
		l.stats.heldWaits++
		if l.ring.CQReady() > 0 {
			l.heldFound, l.recvSeen = true, false // afterHeld
			return nil
		}
		l.heldEmpty()
		if timeout == held {
			return nil
		}
		if timeout > 0 {
			timeout -= held
		}
	}
	if !l.state.CompareAndSwap(loopSleeping, loopParked) {
		_, err := l.ring.SubmitAndWait(1, 0) // woken meanwhile
		return err
	}
	slept, err := l.parker.park(timeout)
	if slept {
		l.stats.parks++
	}
	if l.parker.failed != nil {
		l.logger().Error("eddy: parking in the runtime's poller failed; the loop waits in io_uring_enter",
			"loop", l.idx, "err", l.parker.failed)
		l.parking = false
	}
	return err
}

// heldWait returns how long the next wait may hold the loop's P (urHeldWait), or 0. Never when some
// goroutine is waiting to run, such as a handler's work on the pool, which with every P held by a loop
// would have to wait for it; the count is the runtime's own (runtime/metrics), read in about 60 ns.
//
// When the loop parks (l.parking), also not while holding is paused (heldEmpty). Goroutines that wait
// in the runtime's poller, package net clients in the same process for one, are not "runnable" until
// the poller runs, and a held wait keeps it from running: such a client of an otherwise idle loop
// waited out every held wait, 400 µs per round trip with one P. Those held waits end with nothing, and
// the pause that follows lets the loop park instead.
func (l *urLoop) heldWait() time.Duration {
	metrics.Read(l.runnable[:])
	if v := l.runnable[0].Value; v.Kind() != metrics.KindUint64 || v.Uint64() != 0 {
		return 0
	}
	if l.parking && l.now < l.noHoldUntil {
		return 0
	}
	return urHeldWait
}

// afterHeld ends the pause in holding (heldEmpty) once a held wait has brought data. Completions of the
// loop's own sends, which the same io_uring_enter submitted, do not count: they end a wait at once
// whether or not anything else could run meanwhile.
func (l *urLoop) afterHeld() {
	if l.recvSeen {
		l.holdPause = 1
	}
	l.heldFound = false
}

// heldEmpty records a held wait that ended with no completion: the loop stops holding for holdPause
// epochs, twice as many as the last time (up to urHoldPauseMax) until a held wait brings data (afterHeld).
// Under a load from outside the process held waits end with completions, as they are meant to; a loop
// whose held waits find none is idle, or keeps its load from running (clients in the same process),
// and parks. With an in-process client that never gets to run while the loop holds, that is one lost
// held wait per 64 ms once the pause has grown.
func (l *urLoop) heldEmpty() {
	l.stats.heldEmpty++
	l.noHoldUntil = l.clock() + int64(l.holdPause)*int64(urEpoch)
	l.holdPause = min(2*l.holdPause, urHoldPauseMax)
}

// waitWant returns how many completions the next wait asks for: one, or, when at least urBatchFloor
// connections received in the last epoch, half as many as did, at most urBatchMax; the min wait bounds
// the wait for them (see urBatchFloor). It is asked only of a held wait, when no goroutine waits for the
// loop's P: a wake-up from another goroutine is one completion among the batch, and may wait out the
// min wait.
func (l *urLoop) waitWant() uint32 {
	if !l.batching || l.active < urBatchFloor {
		return 1
	}
	return uint32(min(l.active/2, urBatchMax))
}

// countActive counts c among the connections active in this epoch, once.
func (l *urLoop) countActive(c *urConn) {
	l.recvSeen = true
	if c.epoch != l.epoch {
		c.epoch = l.epoch
		l.activeNow++
	}
}

// nextEpoch closes the epoch once urEpoch has passed: its count of active connections, scaled to
// urEpoch (an epoch ends at the first wake-up after urEpoch, which may be much later on an idle loop),
// becomes the one waitWant goes by.
func (l *urLoop) nextEpoch() {
	if d := l.now - l.epochStart; d >= int64(urEpoch) {
		l.active = int(int64(l.activeNow) * int64(urEpoch) / d)
		l.activeNow = 0
		if l.epoch++; l.epoch == 0 {
			l.epoch = 1 // 0 is a new connection's: it counts at its first receive
		}
		l.epochStart = l.now
		l.setParking()
	}
}

// setParking decides whether the loop's waits park (wait): when it has a parker and the uring loops
// hold every P. GOMAXPROCS may change while the program runs, so this is refreshed every epoch.
func (l *urLoop) setParking() {
	l.parking = l.parker != nil && l.parker.failed == nil && urLoopsRunning.Load() >= int32(runtime.GOMAXPROCS(0))
}

// urLoopsRunning counts the uring loops running in the process, all engines together: each holds a P
// while it runs, and while it waits unless it parks (urLoop.wait).
var urLoopsRunning atomic.Int32

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
	if len(l.redeliver) > 0 || len(l.dirty) > 0 || l.ring.CQReady() > 0 { // CQEs reap left (its budget)
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
		l.bufWin.post() // recycled buffers first, so the receives submitted now can use them
		if _, err := l.ring.Submit(); err != nil {
			if tries == 0 {
				l.logger().Warn("eddy: io_uring submit failed with a full SQ, retrying", "loop", l.idx, "err", err)
			}
			time.Sleep(100 * time.Microsecond) // the kernel is short of memory: let it recover
		}
	}
}

// reap dispatches the ready CQEs, in batches, and publishes the receive buffers recycled meanwhile. It
// stops after as many CQEs as the CQ holds, leaving the rest for the next iteration (whose wait then
// returns at once): a dispatch may submit (a full SQ, getSQE) and so post new CQEs, and receives re-armed
// on a dry buffer ring end again at once with ENOBUFS, so reaping until the CQ was empty could go on for
// as long as peers kept sending, and the loop's tasks, flushes and timers never ran.
//
// A callback that calls runtime.Goexit ends the goroutine in the middle of a batch whose CQEs the ring
// no longer has: the deferred call keeps the rest (cqes[cqeNext:cqeN]), and the loop's body, run again
// to stop (loopCore.serveGuarded), dispatches it first. A CQE lost there would leave its operation in
// flight for ever, and the stop would wait for it. cqes[i] itself, whose handling the callback cut
// short, is not dispatched again (its callback would run twice), so each handler records the end of its
// operation before it runs a callback: onSend, onConnect, onRecv, onAccept, onSplice (session 28: a
// recv's, an accept's and a splice's last CQE recorded it after, and the stop waited for ever). (The
// position stays in locals on the way, and the deferred call costs nothing per CQE.)
func (l *urLoop) reap() {
	i, n := l.cqeNext, l.cqeN
	defer func() {
		if i < n { // cqes[i] did not return
			l.cqeNext, l.cqeN = i+1, n
		}
	}()
	budget := int(l.ring.CQEntries())
	for {
		if i < n {
			for ; i < n; i++ {
				l.dispatch(&l.cqes[i])
			}
			l.bufWin.post()
		}
		l.cqeNext, l.cqeN = 0, 0
		if budget <= 0 {
			return
		}
		if n = l.ring.PeekBatch(l.cqes[:min(len(l.cqes), budget)]); n == 0 {
			return
		}
		budget -= n
		// The CQEs are copied out: consume them before dispatching, which may submit (a full SQ).
		l.ring.Advance(n)
		i = 0
	}
}

// dispatch routes one CQE by the operation kind in its token.
func (l *urLoop) dispatch(cqe *uring.CQE) {
	tok := cqe.UserData
	switch urTokenOp(tok) {
	case urOpWake:
		l.onWake(cqe)
	case urOpWakePoll:
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
	case urOpSend, urOpSendmsg:
		if c := l.lookup(tok); c != nil {
			c.onSend(cqe)
		}
	case urOpConnect:
		if c := l.lookup(tok); c != nil {
			c.onConnect(cqe)
		}
	case urOpSendPoll:
		if c := l.lookup(tok); c != nil {
			c.onSendPoll(cqe)
		}
	case urOpSpliceIn, urOpSpliceOut, urOpSplicePoll:
		if c := l.lookup(tok); c != nil {
			c.onSplice(urTokenOp(tok), cqe)
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

// armWake arms the read of the eventfd that other goroutines write to wake the loop.
func (l *urLoop) armWake() {
	if l.wakeArmed {
		return
	}
	sqe := l.getSQE()
	sqe.PrepRead(l.waker.FD(), l.wakeBuf[:], 0)
	if urWakeNoWait {
		sqe.OpFlags = unix.RWF_NOWAIT
	}
	sqe.UserData = urToken(urOpWake, 0, 0)
	l.wakeArmed = true
}

// urOpWakePoll is the POLL_ADD that waits for the eventfd to be readable after its read ended with
// EAGAIN (onWake).
const urOpWakePoll = urOpSendPoll + 1

// urWakeNoWait makes the eventfd read end with EAGAIN when there is nothing to read (RWF_NOWAIT), as
// it does without it on kernels whose eventfd cannot be read without blocking through io_uring (the
// eventfd is O_NONBLOCK, for the runtime's poller). Tests only; set before the engine starts.
var urWakeNoWait bool

// onWake handles the eventfd read's CQE: it reads again, for the next wake-up, unless the read was
// cancelled. A read that ended with EAGAIN instead of waiting is no failure: re-armed at once, it would
// end the same way at every iteration, and the loop would spin; a one-shot poll waits for the eventfd
// to be readable first (urOpWakePoll), then the read is made again.
func (l *urLoop) onWake(cqe *uring.CQE) {
	l.wakeArmed = false
	switch {
	case l.ring == nil || cqe.Res == -int32(unix.ECANCELED):
	case cqe.Res == -int32(unix.EINTR): // a signal interrupted it (see urConn.onSend): read again
		l.armWake()
	case cqe.Res == -int32(unix.EAGAIN):
		sqe := l.getSQE()
		sqe.PrepPollAdd(l.waker.FD(), unix.POLLIN)
		sqe.UserData = urToken(urOpWakePoll, 0, 0)
		l.stats.wakePolls++
	default:
		if cqe.Res < 0 {
			l.logger().Error("eddy: eventfd read failed", "loop", l.idx, "err", cqe.Err())
		}
		l.armWake()
	}
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
		if c == nil {
			continue // flushed by a run that a callback's runtime.Goexit cut short (loopCore.serveGuarded)
		}
		l.dirty[i] = nil
		c.dirty = false
		c.flush()
	}
	l.dirty = l.dirty[:0]
}

// armRecvs arms the recvs that armRecv asked for during the iteration, each if it is still wanted, just
// before the submission: after the iteration's reap, redeliveries, tasks, flushes and timers, so that
// none of them can pause reading behind a recv armed in the same submission (docs/uring-engine.md,
// "Back-pressure"). submitRecv calls no callback and never appends to the list.
func (l *urLoop) armRecvs() {
	for i, c := range l.recvWant {
		l.recvWant[i] = nil
		c.submitRecv()
	}
	l.recvWant = l.recvWant[:0]
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
		l.wheel.Schedule(&l.tick, after(l.clock(), d))
	}
}

// beginStop starts the loop's stop: on the first request it cancels the accepts (each listener is closed
// at its accept's final CQE) and starts a graceful close of every connection; a forced request closes
// what is left at once.
func (l *urLoop) beginStop(rq int32) {
	if !l.stopping {
		l.stopping = true
		for _, ln := range l.listeners {
			l.stopListener(ln, nil)
		}
		l.wheel.Stop(&l.tick)
		l.wheel.Stop(&l.bufWin.trim)
		for _, c := range l.conns {
			switch {
			case c == nil:
			case c.state == connConnecting:
				failDial(c, ErrEngineStopped)
			default:
				c.engineClose(c, ErrEngineStopped)
			}
		}
		l.flushAll()
	}
	if rq == stopForce && !l.forced {
		l.forced = true
		for _, c := range l.conns {
			if c != nil && !c.stopAfterSend() {
				c.stopAbort(c)
			}
		}
	}
}

// finish runs after the last connection is gone: it fails the tasks still queued and releases the loop.
func (l *urLoop) finish() {
	l.runLeftTasks()   // each task sees a closed connection or a stopping loop and reports ErrClosed
	l.handOverTimers() // after the tasks: those may have scheduled timers
	l.release()
}

package eddy

import (
	"math"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/buffer"
	"github.com/eddyio/eddy/internal/netpoll"
	"github.com/eddyio/eddy/internal/socket"
	"github.com/eddyio/eddy/internal/timer"
)

// Tokens in epoll_event.data. A connection's token is its generation (31 bits) above its slot (32 bits),
// so an event that was queued for a connection whose slot has since been reused carries a stale generation
// and is dropped. Tokens with the top bit set name the loop's own descriptors.
const (
	tokenOwn   = 1 << 63
	tokenWaker = tokenOwn
	genMask    = 1<<31 - 1
)

func connToken(slot, gen uint32) uint64 { return uint64(gen&genMask)<<32 | uint64(slot) }

// Loop sleep states, for coalescing wake-ups: a producer writes the eventfd only when it moves the state
// from sleeping (or parked) to woken.
const (
	loopAwake int32 = iota
	loopSleeping
	loopWoken
	loopParked // a uring loop parked in the runtime's poller: wake it through parkWaker
)

// Stop requests, in increasing force.
const (
	stopNone int32 = iota
	stopGraceful
	stopForce
)

const (
	stageSize     = 64 << 10 // bytes of replies staged per iteration before writes fall back to pooled chunks
	maxEvents     = 1024
	readsPerEvent = 16 // reads from one connection per event before others get a turn
	// acceptsPerEvent bounds the connections accepted from one listener per iteration: accepting (and
	// running OnOpen) until EAGAIN, with clients still arriving, held the loop for as long as they came,
	// with no task, flush or timer run for the connections it had already opened (session 33: on a
	// loaded machine, up to 26 of 40 connections got no byte of their greeting for 30 s).
	acceptsPerEvent = 16
	timerTick       = time.Millisecond
)

// stageFlushAt is how many staged bytes make the loop flush before it dispatches the next event rather
// than at the end of the iteration. Reads and writes still go in batches (docs/engine.md), of at most
// this many bytes of replies, which stay in the caches until the kernel copies them out and never spill
// into pooled chunks: at 1,000 echo connections with 4 KiB messages, 50 or more replies an iteration,
// it gave 5 % more round trips per CPU-second (docs/engine.md, "A batch is bounded by bytes").
const stageFlushAt = stageSize / 2

// epListener is a listening socket served by one loop.
type epListener struct {
	fd      int
	network string
	addr    net.Addr
	file    sockFile      // the socket file to remove on close (socketFile), if any
	peer    *net.UnixAddr // a dialled Unix connection's: the address it dialled
	shared  bool          // the only listener for its address: hand connections to every loop in turn
	adopted bool          // a WithListeners socket: what it accepts may inherit options (setupSocket)
	backoff time.Duration
	paused  bool // in accept back-off: readiness events are ignored until the retry timer fires
	again   bool // in loop.reaccept: connections may be pending, and no edge will come for them
	retry   timer.Timer
	loop    *epLoop
}

// epLoop is one event loop: an epoll instance, its connections, a timing wheel and a task queue, all owned
// by one goroutine. The goroutine is not locked to its thread: it sleeps in the runtime's poller (see
// epParker), so that the goroutines it makes runnable get its processor at once.
type epLoop struct {
	loopCore
	g      *epollEngine
	poller *netpoll.Poller
	park   *epParker // nil: block in epoll_wait

	conns     []*epConn // by slot
	gens      []uint32  // generation of each slot, bumped when the slot is freed
	freeSlots []uint32
	live      int // connections not yet released (including lingering ones)

	stageFlushes int // flushes before the end of an iteration because stageFlushAt bytes were staged

	listeners []*epListener
	acceptor  socket.Acceptor

	readBuf []byte
	borrow  buffer.Chunk // lends readBuf to the connection whose OnData runs (see buffer.Inbound)
	// stage holds what Write and Writev queue on a connection with nothing queued, until flushAll at the
	// end of the iteration sends it (a queue with bytes left then copies them into chunks of its own):
	// the common reply costs no pooled chunk. See buffer.Stage.
	stage      *buffer.Stage
	events     []netpoll.Event
	dirty      []*epConn     // connections to flush at the end of the iteration (or once stageFlushAt is staged)
	reread     []*epConn     // connections with unread input and no edge to come (budget spent, reading resumed)
	rereadNext []*epConn     // the other slice of rereadAll
	reaccept   []*epListener // listeners whose accept budget ran out (acceptsPerEvent): accepted again next iteration
	vecs       [][]byte
	iovecs     []unix.Iovec

	tick timer.Timer
}

func newEpLoop(g *epollEngine, idx int) (*epLoop, error) {
	o := &g.e.opts
	p, err := netpoll.NewPoller(maxEvents)
	if err != nil {
		return nil, opError("epoll", "", nil, "", err)
	}
	w, err := netpoll.NewWaker()
	if err != nil {
		p.Close()
		return nil, opError("eventfd", "", nil, "", err)
	}
	if err := p.Add(w.FD(), netpoll.In, tokenWaker); err != nil {
		p.Close()
		w.Close()
		return nil, opError("epoll_ctl", "", nil, "", err)
	}
	l := &epLoop{
		g: g, poller: p,
		readBuf: make([]byte, o.readBufSize),
		stage:   buffer.NewStage(stageSize),
		events:  make([]netpoll.Event, maxEvents),
		vecs:    make([][]byte, 0, maxIovecs),
		iovecs:  make([]unix.Iovec, maxIovecs),
	}
	l.park = newEpParker(p, l.events)
	l.loopCore.init(idx, g.base, g.e, w)
	return l, nil
}

func (l *epLoop) addListener(ln *epListener) error {
	ln.loop = l
	ln.retry.Init(retryAccept, ln)
	l.listeners = append(l.listeners, ln)
	if err := l.poller.Add(ln.fd, netpoll.In|netpoll.ET, tokenOwn|uint64(len(l.listeners))); err != nil {
		// Not the loop's: the caller closes it. Kept in the list, it was closed again by the failed
		// Start's cleanup (release), whatever file had its descriptor number by then (session 31).
		l.listeners[len(l.listeners)-1] = nil
		l.listeners = l.listeners[:len(l.listeners)-1]
		return err
	}
	return nil
}

// run is the loop: wait for events, read and call OnData, run queued tasks, flush what was written, run
// due timers. It returns after a stop request once every connection is released.
func (l *epLoop) run() {
	defer l.g.wg.Done()
	if l.idx == 0 {
		if _, ok := l.g.e.h.(TickHandler); ok {
			l.tick.Init(runTick, l)
			l.wheel.Schedule(&l.tick, l.now)
		}
	}
	l.serveGuarded(l.serve)
}

// serve runs the loop's iterations until it has stopped, then finishes it.
func (l *epLoop) serve() {
	for {
		if rq := l.stopRq.Load(); rq != stopNone {
			l.beginStop(rq)
			if l.live == 0 {
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
		n, err := l.wait(timeout)
		l.state.Store(loopAwake)
		if err != nil {
			l.logger().Error("eddy: epoll_wait failed", "loop", l.idx, "err", err)
			time.Sleep(10 * time.Millisecond) // never spin on a persistent error
		}
		l.now = l.clock()
		l.reacceptAll() // before the events: a listener they name is skipped while it is on the list
		for i := 0; i < n; i++ {
			l.dispatch(l.events[i])
			if l.stage.Used() >= stageFlushAt {
				l.now = l.clock() // as at the end of the iteration
				l.flushAll()
				l.stageFlushes++
			}
		}
		l.rereadAll()
		l.endIteration(l.flushAll)
	}
	l.finish()
}

// wait stores the ready events in l.events and returns how many, waiting up to timeout milliseconds
// (-1: no limit) for some. It polls first, and parks in the runtime's poller only when nothing is
// ready.
func (l *epLoop) wait(timeout int) (int, error) {
	if l.park == nil {
		return l.poller.Wait(l.events, timeout)
	}
	// The parker polls first too, so when nothing is ready this poll is made twice; it is kept because
	// it spares the parker's deadline update (a runtime timer reset) on every wait that finds events,
	// the common case under load, with idle timeouts pending on the wheel.
	n, err := l.poller.Wait(l.events, 0)
	if n > 0 || err != nil || timeout == 0 {
		return n, err
	}
	return l.park.wait(timeout)
}

// waitTimeout returns the epoll_wait timeout in milliseconds: 0 when work is pending, the time to the
// next timer, or -1.
func (l *epLoop) waitTimeout() int {
	if len(l.reread) > 0 || len(l.dirty) > 0 || len(l.reaccept) > 0 {
		return 0
	}
	d, ok := l.wheel.Next(l.clock())
	if !ok {
		return -1
	}
	// epoll_wait takes an int: a timer further away than that (24.8 days) wakes the loop early, which
	// then waits again (the kernel keeps a larger count's low 32 bits, and a negative one waits for ever).
	if d >= math.MaxInt32*time.Millisecond {
		return math.MaxInt32
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (l *epLoop) dispatch(ev netpoll.Event) {
	if ev.Token&tokenOwn != 0 {
		if ev.Token == tokenWaker {
			l.waker.Drain()
			return
		}
		if i := int(ev.Token&^tokenOwn) - 1; i < len(l.listeners) && !l.listeners[i].again {
			l.accept(l.listeners[i]) // one queued for reaccept is accepted from in this iteration's reacceptAll
		}
		return
	}
	slot, gen := uint32(ev.Token), uint32(ev.Token>>32)
	if int(slot) >= len(l.conns) || l.gens[slot]&genMask != gen {
		return // a stale event for a connection that is gone
	}
	c := l.conns[slot]
	if c == nil {
		return
	}
	if c.state == connConnecting {
		finishDial(c)
		if c.state != connOpen {
			return
		}
	}
	if ev.Events&(netpoll.Out|netpoll.ErrMask) != 0 {
		c.writable = true
		if c.hasOutput() {
			l.flush(c)
		}
	}
	if ev.Events&(netpoll.In|netpoll.ErrMask) != 0 {
		if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLPRI|netpoll.ErrMask) != 0 {
			c.drain = true // for the rest of the connection: urgent data is rare, and the FIN final
		}
		c.read()
	}
}

// accept takes the pending connections from ln, up to acceptsPerEvent: when there may be more, ln goes on
// l.reaccept, for the next iteration (the listener is edge-triggered: no edge comes for connections left
// in its queue). On descriptor exhaustion it pauses the listener and retries later with a growing
// back-off, instead of spinning on the error; the pending connections wait in the kernel's accept queue
// meanwhile.
func (l *epLoop) accept(ln *epListener) {
	if ln.paused || l.stopping {
		return
	}
	for n := 0; ; n++ {
		if n == acceptsPerEvent {
			if !ln.again {
				ln.again = true
				l.reaccept = append(l.reaccept, ln)
			}
			return
		}
		fd, ap, err := l.acceptor.Accept(ln.fd)
		if err == unix.EAGAIN {
			ln.backoff = 0
			return
		}
		if err != nil {
			if socket.IsTemporaryAcceptError(err) {
				ln.backoff = min(max(2*ln.backoff, acceptBackoff0), acceptBackoffN)
				ln.paused = true
				l.wheel.Schedule(&ln.retry, l.clock()+int64(ln.backoff))
				l.logger().Warn("eddy: accept failed, backing off", "addr", ln.addr.String(), "err", err, "retry", ln.backoff)
				return
			}
			// Unexpected (the listener's own error, not one connection's: socket.Acceptor skips those).
			// The listener is edge-triggered, so returning would leave the connections queued behind the
			// error until another arrives: retry later instead, as the uring engine does, without spinning.
			ln.backoff = acceptBackoffN
			ln.paused = true
			l.wheel.Schedule(&ln.retry, l.clock()+int64(ln.backoff))
			l.logger().Error("eddy: accept failed", "addr", ln.addr.String(), "err", err, "retry", ln.backoff)
			return
		}
		l.setupSocket(fd, ln.network, ln.adopted)
		target := l
		if ln.shared && len(l.g.loops) > 1 {
			target = l.g.pickLoop()
		}
		if target == l {
			l.register(fd, ap, ln)
			continue
		}
		target.inc() // a reservation, which adoptConn gives back
		h := &handoff{l: target, fd: fd, ap: ap, ln: ln}
		if err := target.post(adoptConn, h); err != nil { // a hand-over is never refused for the capacity
			target.dec()
			unix.Close(fd)
		}
	}
}

// handoff carries an accepted socket from the accepting loop to the loop that will serve it.
type handoff struct {
	l    *epLoop
	fd   int
	ap   netip.AddrPort
	ln   *epListener
	dial *dialState
}

func adoptConn(t *task) {
	h := t.arg.(*handoff)
	h.l.dec() // the hand-over's reservation: register counts the connection
	h.l.register(h.fd, h.ap, h.ln)
}

func retryAccept(arg any) {
	ln := arg.(*epListener)
	ln.paused = false
	ln.loop.accept(ln)
}

func runTick(arg any) {
	l := arg.(*epLoop)
	if l.stopping {
		return
	}
	if d := l.g.e.tick(); d >= 0 {
		l.wheel.Schedule(&l.tick, after(l.clock(), d))
	}
}

// setupSocket applies the per-connection socket options. Failures are not fatal: the connection works
// without them. An option that is off is left alone, as a new socket has it, unless inherited is true:
// a socket accepted from an adopted listener starts with the TCP_NODELAY and SO_KEEPALIVE the caller
// may have set on it (net.ListenConfig.Control), which epoll and uring gave their connections whatever
// WithTCPNoDelay(false) or keep-alive off said, where std sets both either way (session 32).
func (l *epLoop) setupSocket(fd int, network string, inherited bool) {
	if network == "unix" {
		return
	}
	o := &l.g.e.opts
	if o.noDelay || inherited {
		socket.SetNoDelay(fd, o.noDelay)
	}
	if o.keepAlive > 0 {
		socket.SetKeepAlive(fd, o.keepAlive)
	} else if inherited {
		socket.DisableKeepAlive(fd)
	}
}

// register adopts an accepted socket: it gives it a slot, registers it edge-triggered for reading and
// writing once for its whole life, and calls OnOpen.
func (l *epLoop) register(fd int, ap netip.AddrPort, ln *epListener) {
	if l.stopping {
		unix.Close(fd)
		return
	}
	c := l.newConn(fd, ln)
	c.raddr = ap
	// A new socket's send buffer is empty: what OnOpen writes (a greeting) goes out in this iteration's
	// flush, not one epoll_wait later, when the EPOLLOUT that registering it raises comes in.
	c.writable = true
	if ta, ok := ln.addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		if sa, err := unix.Getsockname(fd); err == nil {
			if la, ok := socket.ToNetAddr(sa).(*net.TCPAddr); ok {
				c.extra().laddr = la.AddrPort()
			}
		}
	} else if ln.network == "unix" {
		c.notePeerPath(fd)
	}
	if err := l.poller.Add(fd, netpoll.In|netpoll.Out|netpoll.ET, connToken(c.slot, l.gens[c.slot])); err != nil {
		l.logger().Error("eddy: registering a connection failed", "err", err)
		unix.Close(fd)
		l.freeConn(c)
		return
	}
	l.opened(c)
}

// newConn makes a connection for fd in a free slot.
func (l *epLoop) newConn(fd int, ln *epListener) *epConn {
	var slot uint32
	if n := len(l.freeSlots); n > 0 {
		slot = l.freeSlots[n-1]
		l.freeSlots = l.freeSlots[:n-1]
	} else {
		slot = uint32(len(l.conns))
		l.conns = append(l.conns, nil)
		l.gens = append(l.gens, 1)
	}
	// A short read from a Unix stream socket is no proof that it is drained: the kernel ends a read
	// after a message that carried descriptors (SCM_RIGHTS), which it drops for a reader without room
	// for them, however many bytes are queued behind it, and no new edge comes for those. Such a
	// connection reads to EAGAIN, as one does after EPOLLRDHUP or EPOLLPRI.
	c := &epConn{l: l, fd: int32(fd), slot: slot, ln: ln, drain: ln.network == "unix"}
	l.conns[slot] = c
	l.live++
	l.inc()
	return c
}

// freeConn gives back the slot of a connection that never got registered.
func (l *epLoop) freeConn(c *epConn) {
	c.state = connReleased
	l.conns[c.slot] = nil
	l.freeSlots = append(l.freeSlots, c.slot)
	l.live--
	l.dec()
}

// opened starts an open connection's life: the idle timer and OnOpen.
func (l *epLoop) opened(c *epConn) {
	if d := l.g.e.opts.idleTimeout; d > 0 {
		tm := c.clock(c)
		tm.idleTimeout = d
		l.wheel.Schedule(&tm.timer, after(l.now, d))
	}
	l.g.e.h.OnOpen(c)
	c.inCallbackDone()
}

// unregister frees c's slot; events still queued for it carry the old generation and are dropped.
func (l *epLoop) unregister(c *epConn) {
	l.conns[c.slot] = nil
	l.gens[c.slot]++
	l.freeSlots = append(l.freeSlots, c.slot)
	l.live--
	l.dec()
}

// markDirty schedules c for a flush at the end of the iteration.
func (l *epLoop) markDirty(c *epConn) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

func (l *epLoop) flushAll() {
	for i := 0; i < len(l.dirty); i++ { // flush may append (a close finishing): re-read the length
		c := l.dirty[i]
		if c == nil {
			continue // flushed by a run that a callback's runtime.Goexit cut short (loopCore.serveGuarded)
		}
		l.dirty[i] = nil
		c.dirty = false
		l.flush(c)
		c.out.Own() // what the socket did not take leaves the stage
	}
	l.dirty = l.dirty[:0]
	l.stage.Reset() // every connection written to since the last reset was in l.dirty
}

// rereadAll reads once more from the connections on l.reread. A connection that spends its budget again
// goes back on the list for the next iteration, not this one: reading on until no peer had input left let
// peers that keep sending hold the loop in this step, with no tasks, flushes, timers or other events
// (found by a review in session 18). waitTimeout does not wait while the list is not empty. The two
// slices take turns, so that it allocates nothing.
func (l *epLoop) rereadAll() {
	batch := l.reread
	l.reread = l.rereadNext[:0]
	for i, c := range batch {
		batch[i] = nil
		c.rereadQueued = false
		c.read()
	}
	l.rereadNext = batch[:0]
}

// reacceptAll accepts again from the listeners on l.reaccept, at the start of the iteration after the one
// that put them there, so that a listener gets one budget per iteration: one whose budget runs out again
// goes back on the list, and dispatch ignores its events meanwhile.
func (l *epLoop) reacceptAll() {
	n := len(l.reaccept)
	for i := 0; i < n; i++ {
		ln := l.reaccept[i] // accept may append to l.reaccept: index it afresh
		l.reaccept[i] = nil
		ln.again = false
		l.accept(ln)
	}
	k := copy(l.reaccept, l.reaccept[n:])
	clear(l.reaccept[k:])
	l.reaccept = l.reaccept[:k]
}

// beginStop starts the loop's stop: on the first request it closes the listeners and starts a graceful
// close of every connection; a forced request closes what is left at once.
func (l *epLoop) beginStop(rq int32) {
	if !l.stopping {
		l.stopping = true
		l.closeListeners()
		l.wheel.Stop(&l.tick)
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
	if rq == stopForce {
		l.forced = true
		for _, c := range l.conns {
			if c != nil {
				c.stopAbort(c)
			}
		}
	}
}

// closeListeners stops accepting on this loop: the listening sockets are closed. Loop only.
func (l *epLoop) closeListeners() {
	for _, ln := range l.reaccept { // accepting again on a closed descriptor would take another socket's
		if ln != nil { // nil: taken by a reacceptAll that an OnOpen's runtime.Goexit cut short
			ln.again = false
		}
	}
	clear(l.reaccept)
	l.reaccept = l.reaccept[:0]
	for _, ln := range l.listeners {
		l.wheel.Stop(&ln.retry)
		l.poller.Del(ln.fd)
		closeListenerFD(ln.fd, &ln.file)
	}
	l.listeners = nil // dispatch ignores events of listeners that are gone
}

// finish runs after the last connection is gone: it fails the tasks still queued and releases the loop.
func (l *epLoop) finish() {
	l.runLeftTasks()   // each task sees a closed connection or a stopping loop and reports ErrClosed
	l.handOverTimers() // after the tasks: those may have scheduled timers
	l.release()
}

func (l *epLoop) release() {
	for _, ln := range l.listeners {
		closeListenerFD(ln.fd, &ln.file)
	}
	l.listeners = nil
	l.park.close()
	l.poller.Close()
	l.waker.Close()
}

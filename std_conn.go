package eddy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy/internal/buffer"
	"github.com/eddyio/eddy/internal/raceio"
)

// stdReadBufferCap caps the per-connection read buffer of the portable engine, which, unlike a loop, cannot
// share one buffer between connections.
const stdReadBufferCap = 16 << 10

// stdEpoch is the origin of stdNow.
var stdEpoch = time.Now()

// stdNow is the std engine's clock for idleness and flush progress: nanoseconds since stdEpoch on the
// monotonic clock, as the epoll and uring loops time their wheels. Wall-clock nanoseconds, which it
// used before session 28, would close every connection as idle on a forward step of the system's
// clock (NTP, a resumed VM) and put their timeouts off by a backward one.
func stdNow() int64 { return int64(time.Since(stdEpoch)) }

// stdConn is a connection on the portable engine.
//
// Locks: mu is held while a callback (or a task run on the connection's behalf) executes, which serialises
// them; it guards in, ctx and idleTimeout. wmu guards the output queue and the close flags shared with the
// writer goroutine; it is never held across I/O or a callback. qmu guards the task list. Lock order: mu
// before wmu before qmu (queueTask takes qmu under wmu; nothing takes another lock under qmu).
type stdConn struct {
	g      *stdEngine
	nc     net.Conn
	loop   *stdLoop
	opened func() // for dialled connections: resolves the Dial future after OnOpen
	// network is the listener's or the dial's ("tcp4", "tcp6", ...), which the *OpErrors name, as the
	// loop engines' and package net's do: nc's address says only "tcp".
	network string

	mu          sync.Mutex
	in          buffer.Inbound
	ctx         any
	idleTimeout time.Duration
	notified    bool // OnClose ran

	closeReq   atomic.Bool  // Close was called or the connection is ending: no more OnData, writes fail
	readingOn  atomic.Bool  // a write failed: OnData goes on until the input ends, then the reader reports
	cut        atomic.Bool  // Abort ended the reading on: no more OnData, the reader reports at once
	lastActive atomic.Int64 // stdNow of the last read or write
	idle       *time.Timer

	wmu        sync.Mutex
	wcond      sync.Cond // the writer waits for output or a close
	rcond      sync.Cond // the reader waits for the output to drain below the low water mark
	wq         buffer.Outbound
	files      fileQueue // SendFile regions, each with the bytes written after it (std_sendfile.go)
	waits      asyncWaits
	wantShutWr bool
	shutWr     bool
	held       bool // SetReadPaused(true): the reader waits until SetReadPaused(false); written under mu and wmu
	redeliver  bool // reading restarted after a pause: buffered input is offered again; under wmu
	closing    bool // flush, shut down, then finish
	aborted    bool // drop the output and finish now
	readDone   bool // the reader has left its loop
	reason     error
	wdone      chan struct{}
	flushTimer *time.Timer  // while a graceful close flushes: checkFlush, the bound on a stuck flush
	flushedAt  atomic.Int64 // stdNow of the last write progress while closing (noteFlush)
	flush      flushWatch   // checkFlush: is the peer of a stuck flush reading? (stdNow; Linux)
	wbufs      net.Buffers  // the writer's vectors, owned by the writer goroutine
	// plainWrite: the writer is in a write that reports its progress only at its end (WriteTo), and
	// cutWrite: a graceful close cut it short with a write deadline, to go on with writeWatched. wmu.
	plainWrite, cutWrite bool
	// writing: the writer is in a write of the byte queue, without wmu; the bytes it writes leave
	// the queue only when it returns. stopCut: a Stop out of time (stopAbort) came meanwhile and cut
	// the write short with a write deadline; the writer ends the connection once it returns, knowing
	// then whether any output was left (stopAbortLocked). wmu.
	writing, stopCut bool
	hookReason       error // the engine's close reason while OnClosing runs (engineClose); wmu
	// stopBegun: Stop's close task (closeConns) has run, OnClosing included: a Stop out of time may
	// abort the connection from here (stdEngine.stop).
	stopBegun atomic.Bool
	// idleAsk: the idle check found the connection due while the reader reads, and asked the reader
	// to look at the input waiting first (askReader): the reader's read deadline is in the past until
	// it answers. stalled: the reader waits in waitOutputRoom, reading nothing. closeDeadline: the
	// read deadline is the close's (linger, stopReading), which an answer leaves as it is.
	idleAsk, stalled, closeDeadline bool

	qmu   sync.Mutex
	tasks []stdTask
	// spare is an emptied array of tasks, kept for tasks to take next (runTasks), under qmu: a connection
	// written to from other goroutines queues its tasks without allocating.
	spare []stdTask
	// left[lefti:] are the tasks taken from tasks and not yet run (runTasks), under mu: a task that ends
	// its goroutine (runtime.Goexit) leaves the ones behind it there, for the section's next holder.
	left  []stdTask
	lefti int
	// donePending counts the write completions queued (queueDone, under wmu) and not yet run: a
	// Flushed with nothing left to wait for runs at once unless one is (enqueue).
	donePending atomic.Int32
	gone        bool // the reader's last section has begun: no user task is taken any more; under mu and qmu
}

func newStdConn(g *stdEngine, nc net.Conn, network string) *stdConn {
	c := &stdConn{g: g, nc: nc, network: network, idleTimeout: g.e.opts.idleTimeout, wdone: make(chan struct{})}
	c.wcond.L = &c.wmu
	c.rcond.L = &c.wmu
	c.lastActive.Store(stdNow())
	return c
}

// ---- callback sections ----

// endSection runs the tasks that were queued while mu was held, then unlocks mu; if more tasks arrived
// meanwhile and nobody else holds mu, it runs those too. A goroutine that fails to take mu leaves its task
// to whoever holds it, and that holder always checks again after unlocking.
func (c *stdConn) endSection() {
	for {
		c.runTasks()
		c.mu.Unlock()
		if !c.hasTasks() || !c.mu.TryLock() {
			return
		}
	}
}

// stdTask is a unit of work queued for a connection's section: the engine's own work (f), or a request
// carried inline, as the loop engines' task carries it, so that an AsyncWrite, an Execute or a write's
// completion queues no closure: an AsyncWrite's bytes and callback (b, cb), an Execute's function (do), a
// completion's callback (done).
type stdTask struct {
	f    func()
	b    []byte
	cb   func(Conn, error)
	do   func(Conn)
	done func(Conn, error)
}

// maxKeptTasks bounds the arrays of tasks a connection keeps once they are emptied (runTasks): two of
// them at most, less than 2 KiB; a longer burst's array is let go.
const maxKeptTasks = 16

func (c *stdConn) runTasks() {
	for {
		if c.lefti == len(c.left) {
			// left has run (each slot cleared as it was taken): its array is free for the tasks
			// to come, and a connection with tasks all the time swaps two arrays between them.
			c.qmu.Lock()
			free := c.left[:0]
			if cap(free) > maxKeptTasks {
				free = nil
			}
			c.left, c.lefti = nil, 0
			if len(c.tasks) == 0 {
				if free != nil {
					c.spare = free
				}
				c.qmu.Unlock()
				return
			}
			if free == nil {
				free, c.spare = c.spare, nil
			}
			c.left, c.tasks = c.tasks, free
			c.qmu.Unlock()
		}
		t := c.left[c.lefti]
		c.left[c.lefti] = stdTask{}
		c.lefti++
		c.run(&t)
	}
}

// run runs one task of the section.
func (c *stdConn) run(t *stdTask) {
	switch {
	case t.f != nil:
		t.f()
	case t.done != nil: // a write's completion (queueDoneOne)
		c.donePending.Add(-1)
		t.done(c, nil)
	case t.do != nil: // Execute
		if !c.closeReq.Load() {
			t.do(c)
			c.in.Keep() // fn is a callback too: a chunk a Next slice held is released now
		}
	default: // AsyncWrite
		if _, err := c.enqueue(t.b, nil, t.cb); err != nil && t.cb != nil {
			t.cb(c, err)
		}
	}
}

// A callback or task that ends its goroutine (runtime.Goexit: testing.T.FailNow in a handler, or a panic
// that a caller of Stop recovers) leaves the section held for ever: the connection's later callbacks,
// its close and the engine's Stop would wait for it. Each function that takes the section guards it
// (defer c.guardSection(&done), done set at its normal end); the guard, run as the goroutine ends, aborts
// the connection (OnClose reports errCallbackExited) and hands the section to a new goroutine, which runs
// the tasks left (runTasks kept them) and releases it. The reader's and the writer's goroutines have guards
// of their own, which hand their remaining work on (readLoop, writeLoop). A panic is not recovered: the
// program ends with it unless the goroutine's caller recovers it.

// errCallbackExited is OnClose's reason for a connection whose callback ended its goroutine (matching
// ErrEngineStopped, the reason of the loop engines, whose loop stops then).
var errCallbackExited = fmt.Errorf("%w serving the connection: a callback ended its goroutine (runtime.Goexit)", ErrEngineStopped)

// guardSection is deferred by a function that holds the section, with done set when it ends normally.
func (c *stdConn) guardSection(done *bool) {
	if !*done {
		c.sectionLost()
	}
}

// sectionLost runs on a goroutine that is ending while it holds the section (see errCallbackExited).
func (c *stdConn) sectionLost() {
	c.g.e.opts.logger.Error("eddy: a callback ended its goroutine (runtime.Goexit); the connection is aborted",
		"remote", c.nc.RemoteAddr().String())
	c.closeWith(errCallbackExited, true)
	c.g.wg.Add(1) // the reader, counted until its last section, which needs this one, keeps the count above 0
	go func() {
		defer c.g.wg.Done()
		c.endGuarded()
	}()
}

// endGuarded is endSection guarded against a task that ends the goroutine.
func (c *stdConn) endGuarded() {
	done := false
	defer c.guardSection(&done)
	c.endSection()
	done = true
}

func (c *stdConn) hasTasks() bool {
	c.qmu.Lock()
	n := len(c.tasks)
	c.qmu.Unlock()
	return n > 0
}

// post queues fn, the engine's own work, to run serialised with the connection's callbacks: at once on
// the caller (a writer, a timer, Stop) when nobody holds the section, else by its holder.
func (c *stdConn) post(fn func()) { c.push(stdTask{f: fn}, false) }

// postUser queues t, an AsyncWrite or an Execute. The list is bounded like a loop's task queue
// (WithTaskQueueCapacity), but per connection, since each connection runs its own tasks: postUser returns
// ErrQueueFull when it is full, and ErrClosed once the connection is closing (Close was called, or it is
// ending) or the reader's last section has begun (nothing would run t). The engine's own work (post) is
// never refused.
func (c *stdConn) postUser(t stdTask) error { return c.push(t, true) }

func (c *stdConn) push(t stdTask, user bool) error {
	c.qmu.Lock()
	// closeReq again, under qmu: AsyncWrite and Execute looked at it before they came here, and a close
	// made in between may have run OnClose already. Its notifyClose runs the tasks queued before it
	// (runTasks takes qmu) and then OnClose, so a task queued after that ran after OnClose: an
	// AsyncWrite's callback, which conn.go lets run after OnClose on epoll and uring only (session 30:
	// a few goroutines writing while the connection closed saw it on a sixth of the connections).
	// closeReq is set before any close reaches notifyClose: looked at under qmu, it is either unset,
	// and the task is queued before notifyClose's runTasks takes the list for the last time, or set, and
	// the task is refused, as the look before was meant to refuse it.
	if user && (c.gone || c.closeReq.Load()) {
		c.qmu.Unlock()
		return ErrClosed
	}
	if user && len(c.tasks) >= c.g.e.opts.taskQueueCap {
		c.qmu.Unlock()
		return ErrQueueFull
	}
	c.tasks = append(c.tasks, t)
	c.qmu.Unlock()
	if !c.mu.TryLock() {
		return nil // the holder runs t when its section ends
	}
	if !user || c.gone {
		// gone: the reader's last section ran every user task queued before it; what is left is
		// the engine's own.
		c.endGuarded()
		return nil
	}
	// A user's task does not run on the caller, as on the loop engines, which hand it to the loop and
	// return: the caller may hold a lock the task takes (a hub posting to its connections under its own
	// lock), or be in another connection's callback. The section, taken here, goes to a goroutine of
	// its own: a parked one (handOff). The engine waits for it in Stop: the reader's count keeps the
	// WaitGroup above zero until the reader's last section, which cannot begin while the section is
	// held here.
	c.g.handOff(c)
	return nil
}

// ---- reader ----

func (c *stdConn) readLoop() {
	defer c.g.wg.Done()
	// held: this goroutine holds the section in one of the sections below (guardSection's part for
	// them). A callback that ends the goroutine leaves the rest of the reader's work to a new one.
	held, ended := true, false
	opened, writing := c.opened == nil, false
	defer func() {
		if ended {
			return
		}
		if held {
			if !opened { // the Dial future learns of the close (opened rejects it) in the section
				c.left = append([]stdTask{{f: c.opened}}, c.left[c.lefti:]...)
				c.lefti = 0
			}
			c.sectionLost()
		}
		if !writing { // (adopt counted the writer)
			go c.writeLoop()
		}
		c.spawn(c.readerEnd)
	}()
	h := c.g.e.h
	// adopt took c.mu: the section is OnOpen's.
	h.OnOpen(c)
	if !opened {
		// Still in the section: the Dial future's Inline continuations run serialised with the
		// connection's callbacks, as on the loop engines, where they run on the loop; a Close they
		// (or another goroutine) make reports OnClose only after them.
		opened = true
		c.opened()
	}
	c.endSection()
	held = false
	// The writer starts only now: it is the one that reports a close whose output is out, and
	// a Stop that closes the connection before OnOpen has run must not get OnClose in first.
	writing = true
	go c.writeLoop()
	c.armIdle()
	buf := make([]byte, min(c.g.e.opts.readBufSize, stdReadBufferCap))
	var borrow buffer.Chunk // lends buf to c.in during OnData
	unseen := false         // c.in has bytes to offer before the next read
	// end is the end of the input (EOF, a read error) that came while the handler held reading: as on
	// the loop engines, it is acted on only after the restart, once the input before it was offered.
	var end error
	for {
		ok, restarted := c.waitOutputRoom()
		if !ok {
			break
		}
		if unseen || restarted { // read while paused, or left buffered by the handler before its pause
			unseen = false
			c.mu.Lock()
			held = true
			c.readOnTasks()
			if c.in.Len() > 0 && c.delivering() && !c.notified {
				if c.holding() { // paused again since waitOutputRoom returned: offered at the restart
					unseen = true
				} else {
					h.OnData(c)
					c.in.Keep()
				}
			}
			c.endSection()
			held = false
			continue // OnData may have paused reading again
		}
		err := end
		if err == nil {
			var n int
			n, err = c.nc.Read(buf)
			if n > 0 {
				c.lastActive.Store(stdNow())
				if c.delivering() {
					c.mu.Lock()
					held = true
					c.readOnTasks()
					switch {
					case c.notified || !c.delivering():
						// A close came while this goroutine waited for the section (Stop's runs in
						// it), and OnClose may have run: the input is dropped, as the check above
						// would have dropped it.
					case c.holding(): // paused while this read was blocked: keep the bytes for the restart
						c.in.Append(buf[:n])
						unseen = true
					default:
						c.in.Add(&borrow, buf[:n])
						h.OnData(c)
						c.in.Keep()
					}
					c.endSection()
					held = false
				}
			}
			if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.takeIdleAsk() {
				// The idle check's deadline ended the read (or the one before which the bytes
				// came): the reader answers it, with the input the socket holds, unless reading
				// was paused meanwhile (the reader reads nothing more until the restart).
				c.answerIdle(!c.holding())
				continue
			}
			if err != nil && !c.closeReq.Load() && c.holding() {
				end = err // paused while this read was blocked: the end waits for the restart
				continue
			}
		}
		if err != nil {
			if c.closeReq.Load() { // our own close: the peer's FIN or the linger deadline
				break
			}
			if errors.Is(err, io.EOF) {
				if c.peerClosed() {
					break // half-closed: the writer goes on until the handler closes
				}
				c.closeWith(io.EOF, false)
			} else {
				c.closeWith(&OpError{Op: "read", Net: c.network, Addr: c.nc.RemoteAddr(), Err: unwrapNetOp(err)}, true)
			}
			break
		}
	}
	ended = true
	c.readerEnd()
}

// readerEnd ends the reader: it waits for the writer, reports the close if the reader is to, closes the
// socket, and runs the connection's last section. A callback that ends the goroutine here makes a new one
// do it again (each step can be done twice).
func (c *stdConn) readerEnd() {
	ended := false
	defer func() {
		if !ended {
			c.spawn(c.readerEnd)
		}
	}()
	c.wmu.Lock()
	c.readDone = true
	asked := c.takeIdleAskLocked()
	c.wmu.Unlock()
	if asked { // the reader reads no more: the idle check decides by itself
		c.answerIdle(false)
	}
	<-c.wdone
	if c.readingOn.Load() {
		c.notifyClose() // the input after a failed write has ended (failSendLocked)
	}
	c.nc.Close()
	c.stopIdle()
	// The last section: it runs the tasks queued before it (an AsyncWrite's callback gets ErrClosed);
	// later Execute and AsyncWrite calls are refused (push).
	c.mu.Lock()
	c.qmu.Lock()
	c.gone = true
	c.qmu.Unlock()
	c.in.Reset()
	c.endGuarded()
	c.g.removeConn(c)
	ended = true
}

// linger bounds the wait for the peer's FIN once the output is out: lingerTimeout, or none when the engine
// is stopping (a stopping engine does not wait for peers, as on the other engines). It runs under wmu, as
// stopReading does, so that a stop that begins meanwhile cannot be overridden by a later, longer deadline.
func (c *stdConn) linger() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	d := lingerTimeout
	select {
	case <-c.g.quit:
		d = 0
	default:
	}
	c.closeDeadline = true
	c.nc.SetReadDeadline(time.Now().Add(d))
}

// stopReading ends the reader's wait at once, for a stopping engine: the reader stops reading (the
// connection is closing, input is dropped) and waits for the writer to flush what is queued.
func (c *stdConn) stopReading() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closeDeadline = true
	c.nc.SetReadDeadline(time.Now())
}

// waitOutputRoom blocks while reading is paused: by SetReadPaused, or while the output queue is above the
// high water mark (back-pressure on the peer). It reports whether the connection is still worth reading,
// and whether reading restarts after a pause, when input the handler left buffered is offered again, as
// on the other engines: the peer may send nothing more until it is answered.
func (c *stdConn) waitOutputRoom() (ok, restarted bool) {
	o := &c.g.e.opts
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// One wait for both reasons, each checked after every wake-up: SetReadPaused(true) may come (from
	// Execute) while the output drains, and the drain must not lift it.
	draining := false // above the high water mark, until the queue is down to the low water mark
	for !c.aborted && !c.closing {
		q := c.queued()
		draining = q > int64(o.highWater) || draining && q > int64(o.lowWater)
		if !draining && !c.held {
			break
		}
		if draining {
			c.redeliver = true // input left buffered is offered again once the output has drained
		}
		if c.takeIdleAskLocked() {
			// The idle check asked while the reader was on its way here: it reads nothing while it
			// waits, so the input waiting does not count (as on the loop engines, which do not read
			// a connection held so); the check decides by itself.
			c.answerIdleUnlocked()
			continue
		}
		c.stalled = true
		c.rcond.Wait()
		c.stalled = false
	}
	// Only a real restart offers the input again: a closing connection's reader goes on to read (and
	// drop) the input, and offering it again without a wait in between would spin.
	restarted, c.redeliver = c.redeliver && !c.closing, false
	return !c.aborted || c.readingOn.Load() && !c.cut.Load(), restarted
}

// holding reports whether the handler holds reading (SetReadPaused(true)) so that waitOutputRoom waits:
// input read meanwhile, and its end, are kept for the restart. The reader looks with mu held before it
// runs OnData, so that no pause (made in a callback or Execute, under mu) comes between.
func (c *stdConn) holding() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.held && !c.aborted && !c.closing
}

// ---- writer ----

// stdWritePiece bounds the bytes of one write, so that AsyncWrite callbacks and the bound on a stuck
// flush see progress while a peer reads a large output slowly.
const stdWritePiece = 1 << 20

// capBytes shortens vecs to at most n bytes in all.
func capBytes(vecs [][]byte, n int) [][]byte {
	for i, b := range vecs {
		if len(b) >= n {
			vecs[i] = b[:n]
			return vecs[:i+1]
		}
		n -= len(b)
	}
	return vecs
}

func (c *stdConn) writeLoop() {
	defer c.g.wg.Done()
	ended := false
	defer func() {
		if !ended { // a callback ended this goroutine (guardSection aborted the connection)
			c.spawn(func() { c.writerEnd(true) })
		}
	}()
	aborted := c.writeOut()
	ended = true
	c.writerEnd(aborted)
}

// writerEnd ends the writer: with aborted, it drops the output and reports the close (dropOutput); then
// it lets the reader finish. A callback that ends the goroutine here makes a new one do it again.
func (c *stdConn) writerEnd(aborted bool) {
	ended := false
	defer func() {
		if !ended {
			c.spawn(func() { c.writerEnd(true) })
		}
	}()
	if aborted {
		c.dropOutput()
	}
	ended = true
	close(c.wdone)
}

// spawn runs fn on a new goroutine that the engine's Stop waits for. Its callers are goroutines the
// engine counts, or hold the section, which the reader's last section needs: the count is above zero.
func (c *stdConn) spawn(fn func()) {
	c.g.wg.Add(1)
	go func() {
		defer c.g.wg.Done()
		fn()
	}()
}

// writeOut sends the output until the connection is aborted (it reports true) or closed with everything
// out (false: it reported the close).
func (c *stdConn) writeOut() (aborted bool) {
	vecs := make([][]byte, 0, maxIovecs)
	for {
		c.wmu.Lock()
		for c.wq.Len() == 0 && len(c.files) == 0 && !c.closing && !c.aborted && c.wantShutWr == c.shutWr {
			c.wcond.Wait()
		}
		if c.aborted {
			c.wmu.Unlock()
			return true
		}
		if c.stopCut && c.wq.Len() == 0 { // (stopAbort leaves the close to the writer only for bytes)
			c.stopCut = false
			c.stopAbortLocked()
			c.wmu.Unlock()
			return true
		}
		if c.wq.Len() == 0 && len(c.files) > 0 {
			c.sendFilePiece() // unlocks wmu
			continue
		}
		if c.wq.Len() == 0 {
			if c.wantShutWr && !c.shutWr {
				c.shutWr = true
				c.wmu.Unlock()
				closeWrite(c.nc)
				continue
			}
			if c.flushTimer != nil {
				c.flushTimer.Stop()
				c.flushTimer = nil
			}
			c.wmu.Unlock() // closing, and everything is out
			closeWrite(c.nc)
			c.notifyClose()
			c.linger()
			return false
		}
		vecs = capBytes(c.wq.Vectors(vecs[:0], maxIovecs), stdWritePiece)
		closing, now := c.closing, c.stopCut // now: a Stop out of time came before this write (stopAbort)
		c.plainWrite = !closing && !now
		c.writing = true
		c.wmu.Unlock()
		var n int
		var err error
		if now {
			n, err = writeNow(c.nc, vecs)
		} else if closing {
			// Every part of the write the kernel takes is progress of the flush (noteFlush): a
			// slow reader frees room a third of the socket's buffer at a time, and a write that
			// only reports at its end would look stuck meanwhile.
			n, err = writeWatched(c.nc, vecs, c.noteFlush)
		} else {
			// WriteTo needs an addressable net.Buffers: a field, so that it does not escape per call.
			// Its writev tells the race detector nothing, where net's Write does (package raceio).
			c.wbufs = vecs
			raceio.Release()
			n64, werr := c.wbufs.WriteTo(c.nc)
			n, err = int(n64), werr
		}
		c.wmu.Lock()
		c.plainWrite, c.writing = false, false
		if c.cutWrite { // closeWith cut the write short: the rest goes out watched
			c.cutWrite = false
			c.nc.SetWriteDeadline(time.Time{})
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = nil
			}
		}
		c.wq.Consume(n)
		c.progress(n)
		done := c.queueDone(n)
		if c.stopCut {
			// Stop ran out of time during the write: the connection ends now, with a reset only if
			// output is left (the write may have put out the rest before the deadline cut it).
			// The deadline's error is Stop's doing, not the socket's.
			c.stopCut = false
			c.stopAbortLocked()
			err = nil
		}
		var abort bool
		if err != nil {
			err = &OpError{Op: "write", Net: c.network, Addr: c.nc.RemoteAddr(), Err: unwrapNetOp(err)}
			abort = c.failSendLocked(err)
		}
		if c.queued() <= int64(c.g.e.opts.lowWater) {
			c.rcond.Broadcast()
		}
		c.wmu.Unlock()
		if n > 0 {
			c.lastActive.Store(stdNow())
		}
		if done {
			c.runQueued()
		}
		if err != nil {
			c.afterSendFailed(err, abort)
		}
	}
}

// dropOutput ends an aborted connection's output: it drops what is queued, fails its completions, and
// reports the close unless the reader reads on (failSendLocked). Each step can be done twice (writerEnd).
func (c *stdConn) dropOutput() {
	c.wmu.Lock()
	if c.flushTimer != nil {
		c.flushTimer.Stop()
		c.flushTimer = nil
	}
	c.failWaitsLocked(c.reason)
	c.wq.Reset()
	files := c.files
	c.files = nil
	reason := c.reason
	c.wmu.Unlock()
	c.queueTask(func() { files.fail(c, reason) })
	c.runQueued()
	if c.readingOn.Load() {
		return // the reader reports once the input has ended (failSendLocked)
	}
	c.notifyClose()
	c.nc.Close()
}

// failSendLocked ends the connection after a write failed with err, as the loop engines do
// (connCore.readOn): the output is dropped and writes fail from here, but the reader reads on to the end
// of the input, offering it to OnData, and then reports err; the linger deadline (afterSendFailed) bounds
// its wait. A connection already closing, or one whose reader is done (the peer half-closed it), is
// aborted at once: it reports that, and afterSendFailed does it.
//
// The writer calls it with wmu held, before it lets the reader go on: a failed write drops output, and
// the reader, held by back-pressure, may find room and read on. A Write in its OnData was accepted when
// the failure was marked only after the writer had unlocked (a CI-like run saw it with a failed
// SendFile, whose whole region leaves the queue at once).
func (c *stdConn) failSendLocked(err error) (abort bool) {
	if c.closing || c.aborted || c.readDone {
		if c.closing && !c.aborted {
			c.reason = err // a graceful close's flush failed: its output is lost, as the loop engines report
		}
		return true
	}
	c.reason = err
	c.aborted = true // the writer drops the output and ends
	// The completions of the output dropped fail now, queued before the reader can read on: the reader
	// runs them before it offers the input (readOnTasks), so that they come first, as on the loop
	// engines, where a send's failure is handled before its connection is read again. dropOutput
	// finds none left.
	c.failWaitsLocked(err)
	c.readingOn.Store(true)
	c.closeReq.Store(true)
	c.rcond.Broadcast()
	c.wcond.Broadcast()
	return false
}

// failWaitsLocked queues the failure of every output wait (AsyncWrite and Flushed callbacks) with
// reason. wmu held. All are queued before any runs: one that ends its goroutine leaves the others
// queued (runTasks).
func (c *stdConn) failWaitsLocked(reason error) {
	for _, w := range c.waits.take() {
		c.queueTask(func() { w.cb(c, outputErr(reason)) })
	}
}

// readOnTasks runs, in the reader's section, the tasks queued before it once a failed send has made it
// read on: the failed completions (failSendLocked) go before the input it offers next.
func (c *stdConn) readOnTasks() {
	if c.readingOn.Load() {
		c.runTasks()
	}
}

// afterSendFailed finishes what failSendLocked began, after wmu is released.
func (c *stdConn) afterSendFailed(err error, abort bool) {
	if abort {
		c.closeWith(err, true)
		return
	}
	c.linger()
}

func closeWrite(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

func (c *stdConn) closeReason() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.reason
}

// closeWith starts closing: gracefully (flush, then shut down) or, with abort, at once. The first reason
// given is the one OnClose reports; an abort may follow a graceful close.
// peerClosed asks a HalfCloseHandler whether to keep writing after the peer's FIN.
func (c *stdConn) peerClosed() bool {
	hc, ok := c.g.e.h.(HalfCloseHandler)
	if !ok {
		return false
	}
	done := false
	defer c.guardSection(&done)
	c.mu.Lock()
	if c.notified || c.closeReq.Load() {
		// A close began while this waited for the section (a Close in an Execute, say), and OnClose
		// may have run: no OnPeerClosed after it. The reader ends as for its own close.
		c.endSection()
		done = true
		return true
	}
	keep := hc.OnPeerClosed(c)
	c.endSection()
	done = true
	return keep
}

func (c *stdConn) closeWith(reason error, abort bool) {
	c.closeReq.Store(true)
	c.wmu.Lock()
	c.closeLocked(reason, abort)
	c.wmu.Unlock()
}

// closeLocked is closeWith with wmu held (and closeReq set).
func (c *stdConn) closeLocked(reason error, abort bool) {
	if reason == nil && !abort {
		reason = c.hookReason // a Close in OnClosing: the close is the engine's (engineClose)
	}
	if !c.aborted && (!c.closing || abort && reason != nil) {
		// A close's reason, or an abort's, which outranks the graceful close it ends (as on the
		// loop engines: the output was dropped). resetAbort(nil) keeps the reason set before it.
		c.reason = reason
	}
	if !c.closing && !abort && !c.aborted {
		// The loop engines' bound on a stuck flush: a graceful close whose output makes no
		// progress for the flush timeout aborts.
		if cutWrites && c.plainWrite && !c.cutWrite {
			// A write that began before the close reports nothing until its end, while package
			// net refills the socket as the peer reads, so the send queue looks still: cut it short
			// (it returns what it wrote), and the writer goes on with writeWatched.
			c.cutWrite = true
			c.nc.SetWriteDeadline(time.Now())
		}
		c.flushedAt.Store(stdNow())
		c.flushTimer = time.AfterFunc(time.Duration(flushLook(int64(c.g.e.opts.flushTimeout))), c.checkFlush)
	}
	c.closing = true
	if abort && !c.aborted {
		c.aborted = true
		c.nc.Close() // unblock a writer stuck on a peer that does not read
	}
	c.wcond.Broadcast()
	c.rcond.Broadcast()
}

// noteFlush notes that the kernel took n bytes of a closing connection's output: the bound on a stuck
// flush counts from here. Any goroutine, without a lock (the writer calls it in the middle of a write).
func (c *stdConn) noteFlush(n int) {
	if n > 0 {
		c.flushedAt.Store(stdNow())
	}
}

// progress notes, under wmu, that n bytes were written: while closing, the bound on a stuck flush
// counts from here.
func (c *stdConn) progress(n int) {
	if n > 0 && c.closing {
		c.noteFlush(n)
	}
}

// checkFlush runs flushLook after a graceful close began, and again when flushWatch says: a flush that
// wrote nothing for the flush timeout while the send queue stood still (the peer does not read) is
// aborted, which closes the socket and so ends the writer's blocked write.
func (c *stdConn) checkFlush() {
	c.wmu.Lock()
	if c.aborted || c.flushTimer == nil {
		c.wmu.Unlock()
		return
	}
	now := stdNow()
	flushedAt := c.flushedAt.Load()
	idle := time.Duration(now - flushedAt)
	timeout := int64(c.g.e.opts.flushTimeout)
	if look := time.Duration(flushLook(timeout)); idle < look {
		c.flushTimer.Reset(look - idle)
		c.wmu.Unlock()
		return
	}
	// Nothing was written for a while: a peer reading slowly, or one reading nothing? Only Linux
	// tells the send queue's size here.
	q, ok := sendQueuedConn(c.nc)
	if next, reading := c.flush.check(q, ok, flushedAt, now, timeout); next != 0 {
		if reading {
			c.flushedAt.Store(now)
		}
		c.flushTimer.Reset(time.Duration(next - now))
		c.wmu.Unlock()
		return
	}
	if c.reason == nil {
		c.reason = ErrFlushTimeout
	}
	c.wmu.Unlock()
	c.resetAbort(nil) // closing: the reason set above stays
}

// stopAbort ends the connection when a Stop runs out of time (ErrEngineStopped): with a reset when
// output the peer never got is dropped, as the loop engines' stopAbort.
// The look at the queue and the abort are one step under wmu: a flush that ends in between would
// otherwise be reset, or reported as stopped, after its last byte went out. Nor does the queue tell
// while the writer is in a write: bytes the kernel took leave it only when the write returns. A
// connection whose last response went out a moment before (an idle keep-alive connection that
// http1's Server.Close stops with a context done from the start) was reset, its peer reading
// ECONNRESET instead of EOF. So then the write is cut short with a deadline (it returns at once,
// having written what the socket took), and the writer decides once it knows (stopCut).
func (c *stdConn) stopAbort() {
	c.closeReq.Store(true)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if cutWrites && !c.aborted && (c.writing || c.wq.Len() > 0) {
		// Where a write cut short may report fewer bytes than it wrote (cutWrites false), the
		// reset is decided now, on the queue as it stands.
		if !c.stopCut {
			c.stopCut = true
			if c.writing {
				c.nc.SetWriteDeadline(time.Now())
			}
			// Else the writer, which is not in a write but has bytes to write (OnClosing's goodbye,
			// queued a moment before), gives them one try first (writeNow), as the loop engines
			// flush once before their forced stop: an idle connection's goodbye goes out, and its
			// peer reads EOF after it, not a reset.
		}
		return
	}
	c.stopAbortLocked()
}

// stopAbortLocked is stopAbort's close, with wmu held.
func (c *stdConn) stopAbortLocked() {
	reason := ErrEngineStopped
	switch {
	case c.aborted:
	case c.queued() > 0: // output dropped: a reset
		c.resetOnClose()
	case c.closing:
		reason = nil // everything is out: the close keeps its own reason
	}
	c.closeLocked(reason, true)
}

// resetAbort ends the connection at once with a reset (on TCP), so that the peer cannot take the
// output cut short for a whole one: Abort, and a flush given up on. reason is closeWith's.
func (c *stdConn) resetAbort(reason error) {
	c.resetOnClose()
	c.closeWith(reason, true)
}

// resetOnClose makes the close of a TCP connection reset it (SO_LINGER 0), as the loop engines'
// resetOnClose: a Unix socket has no reset.
func (c *stdConn) resetOnClose() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}

// notifyClose runs OnClose, once, with the close's reason, read in the section: a callback that the
// section's holder ran while this waited for it may have changed it (an Abort in a Flushed callback
// while the writer finished the graceful close the Abort ends).
func (c *stdConn) notifyClose() {
	c.mu.Lock()
	if c.notified {
		c.mu.Unlock()
		return
	}
	done := false
	defer c.guardSection(&done)
	// The tasks queued before the close is reported run first: the completions of the last bytes out
	// (queueDone), which the writer queued for the section's holder when its TryLock failed. That
	// holder may have looked at the queue for the last time just before, and this goroutine (the
	// writer, as a rule) taken the section from it: they ran after OnClose then, reporting success.
	c.runTasks()
	c.notified = true
	c.in.Reset() // the input left unconsumed is dropped before OnClose, as on the loop engines
	c.g.e.h.OnClose(c, c.closeReason())
	c.endSection()
	done = true
}

// ---- idle timeout ----

func (c *stdConn) armIdle() {
	c.mu.Lock()
	if d := c.idleTimeout; d > 0 && c.idle == nil {
		c.resetIdle(d)
	}
	c.endGuarded()
}

func (c *stdConn) resetIdle(d time.Duration) {
	if c.idle == nil {
		c.idle = time.AfterFunc(d, c.idleFired)
		return
	}
	c.idle.Reset(d)
}

func (c *stdConn) stopIdle() {
	c.post(func() {
		if c.idle != nil {
			c.idle.Stop()
		}
	})
}

func (c *stdConn) idleFired() { c.post(func() { c.idleCheck(true) }) }

// idleCheck closes the connection as idle if it has been for the idle timeout, in the section. The
// reader's last stamp alone does not tell: input the peer sent in time may wait in the socket (or, on
// Windows, in the reader's completed read) for the reader goroutine to run, which it does only when
// the scheduler lets it, while the loop engines read the ready input of an iteration before they run
// its timers. So when the reader reads, the check (ask) asks it first (askReader), and the reader
// answers (answerIdle) once it has taken what its read returns and looked at what the socket holds:
// the check runs again then, without asking.
func (c *stdConn) idleCheck(ask bool) {
	d := c.idleTimeout
	if d <= 0 || c.closeReq.Load() {
		return
	}
	if left := time.Duration(c.lastActive.Load() + int64(d) - stdNow()); left > 0 {
		c.idle.Reset(left)
		return
	}
	if ask && c.askReader() {
		return
	}
	c.engineClose(ErrIdleTimeout)
}

// stdAskDeadline is the read deadline by which the idle check asks the reader: long past, so that the
// reader's read returns (with what it read) or its next one fails at once.
var stdAskDeadline = time.Unix(1, 0)

// askReader asks the reader to answer the idle check, if it reads: it reports false when the reader
// reads nothing (it waits in waitOutputRoom, or it has left its loop) or the connection is closing.
// In the section.
func (c *stdConn) askReader() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.stalled || c.readDone || c.closing || c.aborted || c.closeDeadline {
		return false
	}
	if !c.idleAsk {
		c.idleAsk = true
		c.nc.SetReadDeadline(stdAskDeadline)
	}
	return true
}

// takeIdleAsk takes the idle check's question, if there is one, and lifts its read deadline.
func (c *stdConn) takeIdleAsk() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.takeIdleAskLocked()
}

// takeIdleAskLocked is takeIdleAsk with wmu held. A close's deadline set meanwhile is kept.
func (c *stdConn) takeIdleAskLocked() bool {
	if !c.idleAsk {
		return false
	}
	c.idleAsk = false
	if !c.closeDeadline {
		c.nc.SetReadDeadline(time.Time{})
	}
	return true
}

// answerIdle is the reader's answer to the idle check (askReader), on the reader's goroutine, which
// holds no lock: with reading, input the socket holds is activity (the reader reads it next); then the
// check runs again, and closes the connection if it is still idle.
func (c *stdConn) answerIdle(reading bool) {
	if reading && stdInputPending(c.nc) {
		c.lastActive.Store(stdNow())
	}
	c.post(func() { c.idleCheck(false) })
}

// answerIdleUnlocked is answerIdle(false) for waitOutputRoom, which holds wmu under a deferred Unlock:
// wmu is released around the answer, whose check may run OnClosing on this goroutine, and taken back
// even when that callback ends the goroutine (runtime.Goexit) or panics. The deferred Unlock found it
// released then, a fatal error that killed the program instead of aborting the connection.
func (c *stdConn) answerIdleUnlocked() {
	c.wmu.Unlock()
	defer c.wmu.Lock()
	c.answerIdle(false)
}

// engineClose starts, in the connection's section, a close the engine decided on by itself (an idle
// timeout, Stop): a ClosingHandler has its last word first, then the graceful close begins with reason,
// which a Close from OnClosing does not change (as on the loop engines).
func (c *stdConn) engineClose(reason error) {
	if ch, ok := c.g.e.h.(ClosingHandler); ok && !c.closeReq.Load() {
		// A Close from OnClosing takes the engine's reason at once: the writer may report the close
		// before OnClosing returns.
		c.wmu.Lock()
		c.hookReason = reason
		c.wmu.Unlock()
		ch.OnClosing(c, reason)
		c.wmu.Lock()
		c.hookReason = nil
		c.wmu.Unlock()
	}
	c.closeReq.Store(true)
	c.wmu.Lock()
	c.closeLocked(reason, false)
	c.wmu.Unlock()
}

// ---- Conn ----

func (c *stdConn) Peek(n int) ([]byte, error) { return c.in.Peek(n) }
func (c *stdConn) Next(n int) ([]byte, error) { return c.in.Next(n) }
func (c *stdConn) Discard(n int) (int, error) { return c.in.Discard(n), nil }
func (c *stdConn) Buffered() int              { return c.in.Len() }

// enqueue appends one and then bs to the output queue, waking the writer, unless the connection is closing.
// (one spares Write a slice allocation.)
func (c *stdConn) enqueue(one []byte, bs [][]byte, cb func(Conn, error)) (int, error) {
	if c.closeReq.Load() {
		return 0, ErrClosed
	}
	c.wmu.Lock()
	if c.closing || c.wantShutWr || c.aborted { // aborted: the writer has taken (or will take) the waits for the last time
		c.wmu.Unlock()
		return 0, ErrClosed
	}
	empty := c.queued() == 0 // the writer holds nothing: these bytes go to the kernel now
	out := c.files.tail(&c.wq)
	out.Write(one)
	n := len(one)
	for _, b := range bs {
		out.Write(b)
		n += len(b)
	}
	if empty && n > 0 {
		// Progress now, as a write is on the loop engines: an idle check queued behind this callback
		// runs before the writer stamps its write. A queue the peer does not drain stamps nothing more.
		c.lastActive.Store(stdNow())
	}
	now, queued := false, false
	if cb != nil {
		switch q := c.queued(); {
		case q > 0:
			c.waits.add(q, cb)
		case c.donePending.Load() > 0:
			// The completions of earlier bytes wait in the section's queue (queueDone, under wmu as
			// this is): this one goes behind them, to keep the callbacks in order.
			// Counted in donePending as they are: a completion that runs before it must not let
			// a later Flushed with nothing to wait for pass it.
			c.queueDoneOne(cb)
			queued = true
		default:
			now = true // no bytes, nothing ahead: nothing will complete it later
		}
	}
	c.wcond.Signal()
	c.wmu.Unlock()
	if queued {
		c.runQueued()
	}
	if now {
		cb(c, nil)
	}
	return n, nil
}

// queueDone accounts n bytes written and queues, with wmu held, the callbacks of the output waits
// that completed:
// queued under wmu, in the order the bytes went out, they cannot fall behind a Flushed made after
// them (enqueue); posting them after the unlock let one made meanwhile, finding nothing left to
// wait for, run first. The caller runs them with runQueued once wmu is released (one may close the
// connection, which takes wmu). It reports whether it queued any.
func (c *stdConn) queueDone(n int) bool {
	if c.waits.advance(n) == 0 {
		return false
	}
	for w, ok := c.waits.next(); ok; w, ok = c.waits.next() {
		c.queueDoneOne(w.cb)
	}
	return true
}

// queueDoneOne queues one completion callback, as queueDone does. wmu held.
// The task carries cb (no closure); run counts it out of donePending before it calls cb.
func (c *stdConn) queueDoneOne(cb func(Conn, error)) {
	c.donePending.Add(1)
	c.queue(stdTask{done: cb})
}

// queueTask appends fn to the section's tasks without running it (see queueDone).
func (c *stdConn) queueTask(fn func()) { c.queue(stdTask{f: fn}) }

func (c *stdConn) queue(t stdTask) {
	c.qmu.Lock()
	c.tasks = append(c.tasks, t)
	c.qmu.Unlock()
}

// runQueued runs the section's queued tasks now if nobody holds the section; its holder runs them
// otherwise, when its section ends.
func (c *stdConn) runQueued() {
	if c.mu.TryLock() {
		c.endGuarded()
	}
}

// Flushed runs cb once the output queued so far reached the kernel (Conn.Flushed): an enqueue of
// nothing, with the callback.
func (c *stdConn) Flushed(cb func(Conn, error)) {
	if cb == nil {
		return
	}
	if _, err := c.enqueue(nil, nil, cb); err != nil {
		cb(c, err)
	}
}

// OutboundBuffered returns the output the writer has not handed to the kernel yet.
func (c *stdConn) OutboundBuffered() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return int(min(c.queued(), math.MaxInt))
}

func (c *stdConn) Write(b []byte) (int, error)     { return c.enqueue(b, nil, nil) }
func (c *stdConn) Writev(bs [][]byte) (int, error) { return c.enqueue(nil, bs, nil) }

func (c *stdConn) AsyncWrite(b []byte, cb func(Conn, error)) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	return c.postUser(stdTask{b: b, cb: cb}) // run: the bytes and the callback ride in the task
}

func (c *stdConn) Execute(fn func(Conn)) error {
	if fn == nil {
		return errNilExecute
	}
	if c.closeReq.Load() {
		return ErrClosed
	}
	return c.postUser(stdTask{do: fn}) // run
}

func (c *stdConn) Close() error {
	if c.closeReq.Swap(true) {
		return ErrClosed
	}
	c.closeWith(nil, false)
	return nil
}

// Abort closes the connection at once, with a reset (Conn.Abort).
func (c *stdConn) Abort(reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	c.closeReq.Store(true)
	c.wmu.Lock()
	if c.aborted {
		// Reading on after a failed write (failSendLocked): end it now, with a reset and this reason,
		// as the loop engines do. Otherwise the connection is ending already.
		cutOff := c.readingOn.Load() && !c.readDone && !c.cut.Load()
		if cutOff {
			c.reason = reason
			c.cut.Store(true)
			c.rcond.Broadcast()
		}
		c.wmu.Unlock()
		if cutOff {
			c.resetOnClose()
			c.nc.Close() // ends the reader's read; it reports c.reason
		}
		return
	}
	c.reason = reason // the reason OnClose reports, if it has not run yet
	c.wmu.Unlock()
	c.resetAbort(reason)
}

// delivering reports whether input read now goes to OnData: the connection is open, or it reads on after
// a failed write and Abort has not ended that.
func (c *stdConn) delivering() bool {
	return !c.closeReq.Load() || c.readingOn.Load() && !c.cut.Load()
}

func (c *stdConn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing || c.wantShutWr || c.closeReq.Load() {
		return ErrClosed
	}
	c.wantShutWr = true
	c.wcond.Signal()
	return nil
}

// SetReadPaused stops or restarts reading (Conn.SetReadPaused): the reader goroutine waits before its
// next read while paused. Called with mu held (a callback or Execute).
func (c *stdConn) SetReadPaused(paused bool) {
	if c.closeReq.Load() {
		return
	}
	c.wmu.Lock()
	c.redeliver = c.redeliver || c.held && !paused // SetReadPaused(false) may come before the reader waits
	c.held = paused
	if !paused {
		c.rcond.Broadcast()
	}
	c.wmu.Unlock()
}

func (c *stdConn) SetIdleTimeout(d time.Duration) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	c.idleTimeout = max(d, 0)
	if d <= 0 {
		if c.idle != nil {
			c.idle.Stop()
		}
		return nil
	}
	c.resetIdle(d)
	return nil
}

func (c *stdConn) Loop() Loop           { return c.loop }
func (c *stdConn) Context() any         { return c.ctx }
func (c *stdConn) SetContext(v any)     { c.ctx = v }
func (c *stdConn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *stdConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

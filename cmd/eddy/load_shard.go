package main

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
)

// shard is the part of a load run that one event loop owns: the connections it serves, their latency
// histogram and counters, and, for an open-loop run (--rate), its pacing of the run's schedule. Everything
// in it is touched only from its loop (callbacks, Loop.Execute and Loop.AfterFunc functions), so the hot
// path takes no lock. The exception is the std engine, whose callbacks run on a goroutine per connection:
// there every access holds mu (locking is set).
type shard struct {
	r       *loadRun
	idx     int
	loop    eddy.Loop
	locking bool
	mu      sync.Mutex

	lat          *latencyRecorder
	roundTrips   uint64 // replies verified (echo) or responses with a good status (http)
	bytes        uint64 // bytes echoed and verified (echo) or response bytes read (http)
	errors       uint64
	mismatches   uint64
	statusErrors uint64
	firstErr     error
	firstAt      int64 // when firstErr happened, in nanoseconds since the run's base

	clients []*client // the clients connected on this loop; client.slot is the index
	running bool      // the measured window has started on this loop
	end     int64     // when the window ends (t0 + --duration): later requests are not sent, later replies not counted

	// The requests in flight on this loop when the window closed (loadRun.endWindow); swept is set once
	// the clients connected then are tallied.
	tally pendingTally
	swept bool

	// The open-loop schedule (paced): the run's k-th request is due at t0 + k*interval nanoseconds, for
	// k < quota. The schedule is the run's, not the loop's: next is the run's next k to send (so the
	// number sent, by every loop), and whichever loop has a free client when a request is due takes it:
	// a connection the server closes may be dialled again onto another loop, and a loop may be left with
	// none. sent counts the requests this loop took, lastSend is when it took the last; busy, set by sweep,
	// says that no client of this loop had room when the window closed (see loadRun.reportSchedule).
	paced    bool
	t0       int64
	interval float64
	quota    int64
	next     *atomic.Int64
	sent     int64
	lastSend int64
	busy     bool
	free     []*client // connected clients with a free pipeline slot, waiting for a request to be due
	armed    bool      // a pacing timer is pending
	tickFn   func()
	kicked   []eddy.Conn // scratch for tick on the std engine
}

func newShard(r *loadRun, idx int, l eddy.Loop) *shard {
	sh := &shard{r: r, idx: idx, loop: l, locking: r.engine.Kind() == eddy.EngineStd, lat: newLatencyRecorder(), end: math.MaxInt64}
	sh.tickFn = sh.tick
	return sh
}

func (sh *shard) lock() {
	if sh.locking {
		sh.mu.Lock()
	}
}

func (sh *shard) unlock() {
	if sh.locking {
		sh.mu.Unlock()
	}
}

// now returns the time in nanoseconds since the run's base.
func (sh *shard) now() int64 { return int64(time.Since(sh.r.base)) }

// failed counts an error of a client on this shard at now, and reports whether it is the shard's first:
// the caller then describes it in firstErr. A flood of errors so allocates nothing.
func (sh *shard) failed(now int64) bool {
	sh.errors++
	if sh.firstErr != nil {
		return false
	}
	sh.firstAt = now
	return true
}

// complete records the reply to cl's oldest request in flight, received at now, and its n bytes: its
// latency counts when good is set, and the request is settled either way. It reports whether the reply
// came within the window.
//
// A reply after the window's end is no round trip: the window's timer may fire late on a busy machine,
// and a window reported as --duration long must not count more. Its request was unanswered when the
// window ended, and is pending as those still in flight when it closes are (it was neither, and every
// reply in the moment between the end and the close went missing from the report: the server had
// received more requests than the round trips and the pending together).
//
// A reply after the window has closed (endWindow, which may come before its end: --requests, SIGINT)
// is neither: its request was in flight when cl was tallied (sweep), and is pending already (it was
// tallied a second time, or counted as a round trip as well when the window closed early).
func (sh *shard) complete(cl *client, now int64, good bool, n int) bool {
	start := cl.pop()
	in := sh.within(cl, now)
	switch {
	case in:
		if good {
			sh.lat.record(now - start)
			sh.roundTrips++
		}
		sh.bytes += uint64(n)
	case !cl.tallied:
		sh.tally.addOne(sh.end-start, sh.r)
	}
	if cl.writtenOff > 0 { // counted unanswered already, and out of outstanding
		cl.writtenOff--
		return in
	}
	sh.r.settle(1)
	return in
}

// within reports whether a reply to cl at now counts in the window: before its end, and before it
// closed (cl's requests in flight are tallied as pending once it has: loadRun.endWindow).
func (sh *shard) within(cl *client, now int64) bool {
	return now <= sh.end && !cl.tallied
}

// writeOff counts the requests in flight that are not written off yet as unanswered (hold mode): they
// leave loadRun.outstanding, and the next round of echoes passes their clients by. It returns how
// many. On the loop.
func (sh *shard) writeOff() int {
	sh.lock()
	defer sh.unlock()
	k := 0
	for _, cl := range sh.clients {
		k += cl.n - cl.writtenOff
		cl.writtenOff = cl.n
	}
	return k
}

// take decides whether a new request may be sent at now, and returns the time its latency is measured
// from: now in a closed-loop run, and its scheduled time in an open-loop one, so that a request that
// waited for a free connection is charged for the wait (no coordinated omission).
//
// In an open-loop run the requests due before the window's end may go out until the window closes, even
// after its end: the pacing timer may fire late (by up to a millisecond on epoll), and a connection that
// got its reply after the end should not look free with due requests unsent (see sweep). Their replies,
// after the end, are not counted (complete); those still unanswered when the window closes are pending.
func (sh *shard) take(now int64) (start int64, ok bool) {
	r := sh.r
	if !sh.running || r.stopped.Load() {
		return 0, false
	}
	if sh.paced {
		for {
			k := sh.next.Load()
			if k >= sh.quota {
				return 0, false
			}
			t := sh.scheduled(k)
			if t > now || t >= sh.end {
				return 0, false
			}
			if !sh.next.CompareAndSwap(k, k+1) {
				continue // another loop took it
			}
			sh.sent++
			sh.lastSend = now
			if r.limit > 0 {
				r.issued.Add(1) // for await's stall check: the quota keeps within the limit
			}
			return t, true
		}
	}
	if now >= sh.end {
		return 0, false
	}
	if r.limit > 0 && r.issued.Add(1) > r.limit {
		return 0, false
	}
	return now, true
}

// scheduled returns when the run's k-th request is due: never (math.MaxInt64) when that is more than
// about 146 years (1<<62 nanoseconds) after the start, which a tiny --rate gives.
func (sh *shard) scheduled(k int64) int64 {
	d := float64(k) * sh.interval // in floating point: k*interval may overflow
	if d >= 1<<62 {
		return math.MaxInt64
	}
	return sh.t0 + int64(d)
}

// dueBefore returns how many of the run's requests are due before at: the number of k < quota with
// scheduled(k) < at.
func (sh *shard) dueBefore(at int64) int64 {
	if at <= sh.t0 {
		return 0
	}
	// An estimate from the schedule's formula, then exact by scheduled itself, which rounds.
	k := float64(at-sh.t0) / sh.interval
	j := sh.quota
	if k < float64(sh.quota) {
		j = max(0, int64(math.Ceil(k)))
	}
	for j < sh.quota && sh.scheduled(j) < at {
		j++
	}
	for j > 0 && sh.scheduled(j-1) >= at {
		j--
	}
	return j
}

// due reports whether a request of the schedule is due at now.
func (sh *shard) due(now int64) bool {
	k := sh.next.Load()
	if k >= sh.quota {
		return false
	}
	t := sh.scheduled(k)
	return t <= now && t < sh.end
}

// wait puts cl, which has a free pipeline slot, on the free list until a request is due.
func (sh *shard) wait(cl *client, now int64) {
	if cl.onFree {
		return
	}
	cl.onFree = true
	sh.free = append(sh.free, cl)
	sh.arm(now)
}

// arm starts the pacing timer for the next due request, when a client is free to send it; if another loop
// takes that request first, the timer finds none due and arms again for the next. The timer is a
// Loop.AfterFunc: on the uring engine it fires close to the due time; on epoll, whose loop timers have
// millisecond resolution, the requests due within a millisecond go out together, up to a millisecond
// late, and their latency includes that delay.
func (sh *shard) arm(now int64) {
	if sh.armed || len(sh.free) == 0 || !sh.running || sh.r.stopped.Load() {
		return
	}
	k := sh.next.Load()
	if k >= sh.quota || sh.scheduled(k) >= sh.end {
		return
	}
	sh.armed = true
	sh.loop.AfterFunc(time.Duration(max(sh.scheduled(k)-now, 0)), sh.tickFn)
}

// tick runs on the loop when a scheduled request is due: it hands the due requests to free clients.
func (sh *shard) tick() {
	sh.lock()
	sh.armed = false
	now := sh.now()
	kicked := sh.kicked[:0]
	for len(sh.free) > 0 && sh.due(now) {
		cl := sh.free[len(sh.free)-1]
		sh.free = sh.free[:len(sh.free)-1]
		cl.onFree = false
		if cl.conn == nil {
			continue
		}
		if sh.locking {
			kicked = append(kicked, cl.conn)
			continue
		}
		cl.fill(now) // takes the due requests; puts cl back on the list only when none is left due
	}
	sh.arm(now)
	sh.kicked = kicked
	sh.unlock()
	for _, c := range kicked {
		c.Execute(kick) // on std, where a connection's writes belong to its own callbacks
	}
}

// begin starts the measured window on this loop at t0: every client starts sending.
func (sh *shard) begin(t0 int64) {
	sh.lock()
	sh.running, sh.t0 = true, t0
	if d := sh.r.cfg.duration; d > 0 {
		sh.end = t0 + int64(d)
	}
	var conns []eddy.Conn
	now := sh.now()
	for _, cl := range sh.clients {
		if sh.locking {
			conns = append(conns, cl.conn)
		} else {
			cl.fill(now)
		}
	}
	sh.arm(now)
	sh.unlock()
	for _, c := range conns {
		c.Execute(kick)
	}
}

// kick fills the pipeline of c's client; the std engine runs it through Conn.Execute, serialised with
// the connection's callbacks.
func kick(c eddy.Conn) {
	cl, ok := c.Context().(*client)
	if !ok {
		return
	}
	sh := cl.shard
	sh.lock()
	cl.fill(sh.now())
	sh.unlock()
}

// add attaches cl to this shard.
func (sh *shard) add(cl *client) {
	cl.shard, cl.slot = sh, len(sh.clients)
	sh.clients = append(sh.clients, cl)
}

// sweep tallies the requests in flight on this loop's clients once the window has closed, and, in an
// open-loop run, notes whether every client of the loop was busy (loadRun.reportSchedule counts the
// requests due and unsent when every loop's were).
func (sh *shard) sweep() {
	sh.lock()
	defer sh.unlock()
	free := false
	for _, cl := range sh.clients {
		if !cl.tallied {
			sh.tally.add(cl, sh.r)
		}
		free = free || cl.n < len(cl.starts)
	}
	sh.swept = true
	sh.busy = sh.paced && sh.running && !free
}

// remove detaches cl from this shard. Once the window has closed, cl's requests in flight are tallied
// first, unless they were: it may be on its way to the waiting clients, whose sweep may have been.
func (sh *shard) remove(cl *client) {
	if !cl.tallied && sh.r.ending() {
		sh.tally.add(cl, sh.r)
	}
	last := sh.clients[len(sh.clients)-1]
	sh.clients[cl.slot], last.slot = last, cl.slot
	sh.clients = sh.clients[:len(sh.clients)-1]
	if cl.onFree {
		for i, f := range sh.free {
			if f == cl {
				sh.free = append(sh.free[:i], sh.free[i+1:]...)
				break
			}
		}
		cl.onFree = false
	}
}

// counts is a snapshot of a shard's counters, for the progress line.
type counts struct {
	roundTrips, errors uint64
	conns              int
}

// snapshot returns the shard's counters; it runs on the loop.
func (sh *shard) snapshot() counts {
	sh.lock()
	defer sh.unlock()
	return counts{roundTrips: sh.roundTrips, errors: sh.errors, conns: len(sh.clients)}
}

// client is one of the load's connections: it keeps the times its requests in flight were sent (or
// scheduled), up to the pipeline depth, and the state of the protocol. In http mode a client outlives its
// connection: when the server closes it, the client dials again and carries on.
type client struct {
	id      int
	r       *loadRun
	shard   *shard // set while connected
	slot    int    // index in shard.clients
	conn    eddy.Conn
	onFree  bool
	tallied bool // its requests in flight when the window closed are counted (loadRun.endWindow)

	// starts is a ring of the start times of the requests in flight, oldest first.
	starts []int64
	head   int
	n      int
	// writtenOff: of the requests in flight (the oldest), those already counted unanswered (hold
	// mode, awaitQuiet): they are out of loadRun.outstanding, and a late reply to one settles nothing.
	writtenOff int

	echo echoState
	http httpState
}

func newClient(r *loadRun, id int) *client {
	cl := &client{id: id, r: r, starts: make([]int64, r.cfg.pipeline)}
	if r.http != nil {
		cl.http.init(r.http)
	} else {
		cl.echo.init(uint64(id), r.cfg.size)
	}
	return cl
}

// push records a request sent with the given start time.
func (cl *client) push(start int64) {
	cl.starts[(cl.head+cl.n)%len(cl.starts)] = start
	cl.n++
}

// pop removes the oldest request in flight and returns its start time.
func (cl *client) pop() int64 {
	t := cl.starts[cl.head]
	cl.head = (cl.head + 1) % len(cl.starts)
	cl.n--
	return t
}

// fill sends requests while the pipeline has room and the shard allows one. In an open-loop run a client
// left with room waits on the shard's free list for the next due request.
func (cl *client) fill(now int64) {
	sh := cl.shard
	for cl.n < len(cl.starts) {
		start, ok := sh.take(now)
		if !ok {
			break
		}
		cl.push(start)
		cl.write()
	}
	if sh.paced && sh.running && !sh.r.stopped.Load() && cl.n < len(cl.starts) {
		// Free, and no request due: wait for the next. (A stopped run refuses due requests too; a client
		// put back then would be popped again by tick for as long as they are due, which is for ever.)
		sh.wait(cl, now)
	}
}

// write sends one request.
func (cl *client) write() {
	if cl.r.http != nil {
		cl.conn.Write(cl.r.http.request)
		return
	}
	cl.echo.write(cl.conn)
}

// attach binds cl to the connection c that was just opened on sh's loop.
func (cl *client) attach(sh *shard, c eddy.Conn) {
	sh.add(cl)
	cl.conn = c
	c.SetContext(cl)
}

// detach unbinds cl from its connection, which is closing, and closes it if it is not closed yet. Its
// OnClose then finds no client and does nothing.
func (cl *client) detach() {
	c := cl.conn
	c.SetContext(nil)
	cl.shard.remove(cl)
	cl.conn = nil
	c.Close()
}

// lose drops the requests in flight, which will never be answered: they settle without a latency.
func (cl *client) lose() {
	if cl.n > 0 {
		if k := cl.n - cl.writtenOff; k > 0 {
			cl.r.settle(int64(k))
		}
		cl.head, cl.n, cl.writtenOff = 0, 0, 0
	}
}

// fail counts an error on cl's connection at now, described by format and args when it is the shard's
// first.
func (cl *client) fail(now int64, format string, args ...any) {
	if sh := cl.shard; sh.failed(now) {
		sh.firstErr = fmt.Errorf("connection %d: "+format, append([]any{cl.id}, args...)...)
	}
}

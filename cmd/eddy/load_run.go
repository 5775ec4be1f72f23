package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/future"
)

// loadRun is one run of eddy load on a dial-only eddy engine. The connections are the engine's own
// outbound connections (Engine.Dial); the load is driven by the handler's callbacks on the engine's loops,
// with no goroutine per connection. Each loop owns a shard: its clients, counters and latency histogram.
type loadRun struct {
	cfg    loadConfig
	http   *httpTarget // the request and what to expect, in http mode; nil in echo mode
	engine *eddy.Engine
	dialTo string        // the address to dial, in the engine's form
	tls    *etls.Handler // https: the engine's handler, which Dial goes through
	shards []*shard
	base   time.Time // the origin of the loops' clocks: times are nanoseconds since base
	ctx    context.Context

	stopped atomic.Bool // the window is over: nothing more is sent, no reply more is counted
	limit   int64       // --requests, or 0
	issued  atomic.Int64
	next    atomic.Int64 // with --rate: the requests of the schedule sent, by every loop (shard.next)
	settled atomic.Int64 // requests answered or lost, toward limit
	live    atomic.Int64 // clients that are connected or dialling
	done    chan struct{}
	doneOne sync.Once

	// The requests still unanswered when the window closed (see endWindow). tallying and endAt are set
	// before stopped; waitTally holds the requests of clients that were waiting for a connection, under
	// waitMu; the shards hold the others.
	tallying  bool
	t0        int64 // when the window began, in nanoseconds since base
	endAt     int64 // when the window closed, in nanoseconds since base: at its end (t0 + --duration) at the latest
	waitTally pendingTally

	// Dialling. Each dial in flight has a client in waiting; OnOpen takes one (clients are
	// interchangeable until they connect), and a failed dial drops one.
	waitMu  sync.Mutex
	waiting []*client
	nextID  atomic.Int64 // the initial dials started
	dialled atomic.Int64 // the initial dials finished, either way, and those never to be made (skipped)
	opened  atomic.Int64 // the initial dials that opened a connection
	dialEnd chan struct{}
	// lastOpen is when opening began or an initial dial last opened a connection, in nanoseconds since
	// base; skipped counts the initial dials not made because none had opened one for --timeout (see
	// dialNext).
	lastOpen atomic.Int64
	skipped  atomic.Int64

	// In hold mode: requests in flight, and a signal when they reach zero; the echoes left unanswered.
	hold        bool
	outstanding atomic.Int64
	quiet       chan struct{}
	unanswered  atomic.Uint64

	dialErrs errorCount // errors outside the shards: failed dials
}

// newLoadRun prepares a run and starts its engine.
func newLoadRun(ctx context.Context, cfg loadConfig, target *httpTarget, dialTo string) (*loadRun, error) {
	r := &loadRun{
		cfg: cfg, http: target, dialTo: dialTo, base: time.Now(), ctx: ctx,
		limit: cfg.requests, done: make(chan struct{}), dialEnd: make(chan struct{}),
		hold: cfg.hold > 0, quiet: make(chan struct{}, 1),
	}
	kind, _ := eddy.ParseEngineKind(cfg.engine) // checked by cfg.check
	var h eddy.Handler = &loadHandler{r}
	if target != nil && target.tls != nil {
		r.tls = etls.Client(h, target.tls) // the handshakes on goroutines, the records on the loops
		h = r.tls
	}
	e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(cfg.loops))
	if err != nil {
		return nil, err
	}
	if err := e.Start(); err != nil {
		return nil, err
	}
	r.engine = e
	for i, l := range e.Loops() {
		r.shards = append(r.shards, newShard(r, i, l))
	}
	if cfg.rate > 0 {
		for _, sh := range r.shards {
			sh.paced, sh.interval, sh.next = true, 1e9/cfg.rate, &r.next
			sh.quota = 1 << 62
			if r.limit > 0 {
				sh.quota = r.limit
			}
		}
	}
	r.live.Store(int64(cfg.conns))
	return r, nil
}

// stop ends the run: nothing more is sent, and the engine closes every connection.
func (r *loadRun) stop() {
	r.stopped.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.engine.Stop(ctx)
}

// finish ends the measured window early: the request limit is reached, or no client is left.
func (r *loadRun) finish() { r.doneOne.Do(func() { close(r.done) }) }

// settle counts n requests answered or lost, toward --requests and, in hold mode, the requests in flight.
func (r *loadRun) settle(n int64) {
	if r.limit > 0 && r.settled.Add(n) >= r.limit {
		r.finish()
	}
	if r.hold && r.outstanding.Add(-n) == 0 {
		select {
		case r.quiet <- struct{}{}:
		default:
		}
	}
}

// clientGone counts a client that will not connect again.
func (r *loadRun) clientGone() {
	if r.live.Add(-1) == 0 {
		r.finish()
	}
}

// dialAll opens cfg.conns connections, at most cfg.dialers at a time so that the server's accept queue
// does not overflow (a dropped SYN costs a second of retransmission), and returns once every dial has
// ended, either way, or ctx is done.
//
// Opening stops early once no connection has opened for --timeout: each dial is bounded by --timeout, but
// against a server that is not accepting (its accept queue full: every SYN dropped) they all run to that
// bound, and opening took conns / dialers * --timeout (5,000 connections with --timeout 2s: over a minute,
// with nothing said) before failing with "no connection could be opened". Now a dial that fails when
// --timeout has passed since the last connection opened (or since opening began) makes no more dials:
// the dials in flight end, each within --timeout, and the rest are skipped, each counted as an error.
// Opening so ends at most about twice --timeout after the last connection opened, and a server that
// accepts, however slowly, is still given every connection. With none open the run fails as before, saying
// so (openConns); with some, the window runs on those.
func (r *loadRun) dialAll() {
	r.lastOpen.Store(int64(time.Since(r.base)))
	for range min(r.cfg.dialers, r.cfg.conns) {
		r.dialNext(false)
	}
	select {
	case <-r.dialEnd:
	case <-r.ctx.Done():
	}
}

// openConns opens the connections (dialAll), says on log when opening stopped early, and returns the
// error of a run that cannot go on: interrupted, or with no connection open. dialTo is the address dialled.
func (r *loadRun) openConns(log io.Writer, dialTo string) error {
	r.dialAll()
	if err := r.dialInterrupted(); err != nil {
		return err
	}
	opened, skipped := r.opened.Load(), r.skipped.Load()
	if opened == 0 {
		if skipped > 0 {
			return fmt.Errorf("no connection could be opened to %s (%s); first error: %s", dialTo, r.stallText(), r.dialErrs.firstError())
		}
		return fmt.Errorf("no connection could be opened to %s; first error: %s", dialTo, r.dialErrs.firstError())
	}
	if skipped > 0 {
		fmt.Fprintf(log, "eddy load: %s; going on with the %s open\n", r.stallText(), plural(int(opened), "connection"))
	}
	return nil
}

// stallText says why and where opening stopped early.
func (r *loadRun) stallText() string {
	return fmt.Sprintf("stopped opening after %d of %d dials: no connection opened for --timeout %v (is the server accepting?)",
		int64(r.cfg.conns)-r.skipped.Load(), r.cfg.conns, r.cfg.timeout)
}

// dialInterrupted returns the error of a run that SIGINT or SIGTERM stopped while dialAll was opening
// the connections, before the measured window: nil if it was not. Such a run measured nothing, and
// its dials cut short are no failure of the server's (dialErrs has none of them; it said "no
// connection could be opened ...; first error: " with nothing after, or ran a window of no time
// and failed it for completing no round trip).
func (r *loadRun) dialInterrupted() error {
	if r.ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("interrupted while opening the connections (%d of %d open)", r.opened.Load(), r.cfg.conns)
}

// dialNext starts the next initial dial; when it ends, the next one starts. A dial whose outcome is
// known at once (a refused loopback connect, a cancelled run) is followed here rather than from its
// continuation, so that thousands of them do not nest. failed says that the dial that just ended
// failed: when no connection has opened for --timeout either, opening stops (see dialAll). Only a
// failure stops it, so that dialAll always makes its first dials, whatever --timeout.
func (r *loadRun) dialNext(failed bool) {
	for {
		if failed && time.Since(r.base)-time.Duration(r.lastOpen.Load()) >= r.cfg.timeout {
			r.skipRest()
			return
		}
		i := r.nextID.Add(1) - 1
		if i >= int64(r.cfg.conns) {
			return
		}
		f := r.dial(newClient(r, int(i)))
		if !f.Resolved() {
			future.Map(f, future.Inline, func(ok bool) (struct{}, error) {
				r.dialEnded(ok)
				r.dialNext(!ok)
				return struct{}{}, nil
			})
			return
		}
		ok, _ := f.Result()
		r.dialEnded(ok)
		failed = !ok
	}
}

// skipRest gives up the initial dials not started yet: their clients are gone, and each is an error.
func (r *loadRun) skipRest() {
	conns := int64(r.cfg.conns)
	for {
		k := r.nextID.Load()
		if k >= conns {
			return
		}
		if !r.nextID.CompareAndSwap(k, conns) {
			continue // another dial started meanwhile
		}
		n := conns - k
		r.skipped.Add(n)
		if r.ctx.Err() == nil {
			r.dialErrs.addN(uint64(n), fmt.Errorf("%s not dialled: none opened within --timeout %v", plural(int(n), "connection"), r.cfg.timeout))
		}
		if r.live.Add(-n) == 0 {
			r.finish()
		}
		r.dialsEnded(n)
		return
	}
}

// dialEnded counts an initial dial that ended.
func (r *loadRun) dialEnded(ok bool) {
	if ok {
		r.opened.Add(1)
		r.lastOpen.Store(int64(time.Since(r.base)))
	}
	r.dialsEnded(1)
}

// dialsEnded counts n initial dials that ended or will not be made, and signals dialAll after the last.
func (r *loadRun) dialsEnded(n int64) {
	if r.dialled.Add(n) == int64(r.cfg.conns) {
		close(r.dialEnd)
	}
}

// dial connects cl, the initial connection of a client or a reconnection, with the engine's Dial. The
// returned future reports whether the connection opened; OnOpen has attached a client to it by then.
func (r *loadRun) dial(cl *client) future.Future[bool] {
	r.waitMu.Lock()
	r.waiting = append(r.waiting, cl)
	r.waitMu.Unlock()
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.timeout)
	var f future.Future[eddy.Conn]
	if r.tls != nil {
		f = future.Map(r.tls.Dial(ctx, r.engine, r.dialTo, nil), future.Inline, func(c *etls.Conn) (eddy.Conn, error) { return c, nil })
	} else {
		f = r.engine.Dial(ctx, r.dialTo)
	}
	opened := future.Map(f, future.Inline, func(eddy.Conn) (bool, error) {
		cancel()
		return true, nil
	})
	return future.Catch(opened, future.Inline, func(err error) (bool, error) {
		cancel()
		var oe *eddy.OpError
		var he *etls.HandshakeError
		if errors.Is(err, eddy.ErrClosed) && !errors.As(err, &oe) && !errors.As(err, &he) {
			// Not a failed connect: the connection opened (OnOpen took a client) and closed at once.
			return true, nil
		}
		r.dropWaiting() // the client of the failed dial: any that waits will do, they are alike
		if r.ctx.Err() == nil && !r.stopped.Load() {
			if errors.Is(err, context.DeadlineExceeded) {
				// The bound of --timeout, which the error calls "context deadline exceeded".
				err = fmt.Errorf("%w (not connected within --timeout %v)", err, r.cfg.timeout)
			}
			r.dialErrs.add(err)
		}
		r.clientGone()
		return false, nil
	})
}

// takeWaiting returns a client whose dial is in flight.
func (r *loadRun) takeWaiting() *client {
	r.waitMu.Lock()
	defer r.waitMu.Unlock()
	cl := r.waiting[len(r.waiting)-1]
	r.waiting = r.waiting[:len(r.waiting)-1]
	return cl
}

// dropWaiting loses a client whose dial failed, tallying its requests first if the window has closed.
func (r *loadRun) dropWaiting() {
	r.waitMu.Lock()
	cl := r.waiting[len(r.waiting)-1]
	r.waiting = r.waiting[:len(r.waiting)-1]
	if r.ending() && !cl.tallied {
		r.waitTally.add(cl, r)
	}
	r.waitMu.Unlock()
	cl.lose()
}

// redial connects cl again after the server closed its connection, unless the run is over.
func (r *loadRun) redial(cl *client) {
	if r.stopped.Load() || r.ctx.Err() != nil {
		cl.lose()
		r.clientGone()
		return
	}
	r.dial(cl)
}

// begin starts the measured window on every loop and returns its start.
func (r *loadRun) begin() time.Time {
	start := time.Now()
	t0 := int64(start.Sub(r.base))
	r.t0 = t0
	for _, sh := range r.shards {
		sh.loop.Execute(func() { sh.begin(t0) })
	}
	return start
}

// await waits for the end of the window: its duration, the request limit, no client left, or ctx.
//
// A run without a duration (--requests) also ends once requests have been in flight with none answered
// for longer than --timeout: a server that leaves one unanswered would keep it waiting for ever, and
// --timeout bounds each request. The stall must last a quarter more than --timeout, so that the oldest
// request in flight, sent at the latest just after the last answer, is an error when the window closes.
func (r *loadRun) await(d time.Duration) {
	var timeout, tick <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	} else if r.limit > 0 {
		t := time.NewTicker(max(r.cfg.timeout/4, time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	settled, since := r.settled.Load(), time.Now()
	for {
		select {
		case <-timeout:
			return
		case <-r.done:
			return
		case <-r.ctx.Done():
			return
		case now := <-tick:
			s := r.settled.Load()
			if s != settled || min(r.issued.Load(), r.limit) <= s { // progress, or nothing in flight
				settled, since = s, now
			} else if now.Sub(since) > r.cfg.timeout+r.cfg.timeout/4 {
				return
			}
		}
	}
}

// endWindow closes the measured window: nothing more is sent, no reply more is counted, and the requests
// in flight are tallied as pending. They are frozen from then on, but a client may still move: from a
// loop to the clients waiting for a connection (a reconnection under way), or back (OnOpen). Each is
// tallied once: by the sweep of its loop (every loop is swept first), then by the sweep of the waiting
// clients; one that moves after the sweep of the place it goes to is tallied as it moves (OnOpen,
// shard.remove, dropWaiting).
func (r *loadRun) endWindow() {
	// The window closes at its end (t0 + --duration), or sooner (--requests, no client left, SIGINT);
	// the requests unanswered then are pending, their age counted to then, as are those whose replies
	// came in the moment after the end, before the window was closed here (shard.complete).
	r.endAt = int64(time.Since(r.base))
	if d := r.cfg.duration; d > 0 {
		r.endAt = min(r.endAt, r.t0+int64(d))
	}
	r.tallying = true
	r.stopped.Store(true)
	var swept sync.WaitGroup
	for _, sh := range r.shards {
		swept.Add(1)
		sh.loop.Execute(func() { sh.sweep(); swept.Done() })
	}
	swept.Wait()
	r.waitMu.Lock()
	for _, cl := range r.waiting {
		if !cl.tallied {
			r.waitTally.add(cl, r)
		}
	}
	r.waitMu.Unlock()
}

// ending reports whether the window has closed and its pending requests are being tallied.
func (r *loadRun) ending() bool { return r.stopped.Load() && r.tallying }

// pendingTally counts requests still unanswered when the window closed.
type pendingTally struct {
	pending uint64 // in flight
	stale   uint64 // in flight for longer than --timeout
	oldest  int64  // how long the oldest had been in flight, in nanoseconds
}

// add tallies the requests in flight of cl, as of the window's end, and marks cl tallied.
func (t *pendingTally) add(cl *client, r *loadRun) {
	for i := range cl.n {
		t.addOne(r.endAt-cl.starts[(cl.head+i)%len(cl.starts)], r)
	}
	cl.tallied = true
}

// addOne tallies one request unanswered when the window closed, sent (or scheduled) age nanoseconds before.
func (t *pendingTally) addOne(age int64, r *loadRun) {
	t.pending++
	if age > int64(r.cfg.timeout) {
		t.stale++
	}
	t.oldest = max(t.oldest, age)
}

// merge adds what o tallied.
func (t *pendingTally) merge(o pendingTally) {
	t.pending += o.pending
	t.stale += o.stale
	t.oldest = max(t.oldest, o.oldest)
}

// progress prints a line to w once a second until stop is closed: the requests per second over the last
// second, the total, and the errors. The counters are read on each loop with Loop.Execute.
func (r *loadRun) progress(w io.Writer, start time.Time, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	snaps := make(chan counts, len(r.shards))
	var last uint64
	for {
		select {
		case <-stop:
			fmt.Fprint(w, "\n")
			return
		case <-tick.C:
		}
		for _, sh := range r.shards {
			sh.loop.Execute(func() { snaps <- sh.snapshot() })
		}
		var total counts
		for range r.shards {
			c := <-snaps
			total.roundTrips += c.roundTrips
			total.errors += c.errors
			total.conns += c.conns
		}
		total.errors += r.dialErrs.n.Load()
		fmt.Fprintf(w, "\r%6.0fs  %9d/s  %d done  %d connections  %d errors\x1b[K",
			time.Since(start).Seconds(), total.roundTrips-last, total.roundTrips, total.conns, total.errors)
		last = total.roundTrips
	}
}

// report merges the shards into r once the engine has stopped.
func (r *loadRun) report(rep *loadReport) {
	lat := newLatencyRecorder()
	var first error
	var firstAt int64
	var pending pendingTally
	for _, sh := range r.shards {
		sh.lock()
		lat.merge(sh.lat)
		pending.merge(sh.tally)
		rep.RoundTrips += sh.roundTrips
		rep.Bytes += sh.bytes
		rep.Errors += sh.errors
		rep.Mismatches += sh.mismatches
		rep.StatusErrors += sh.statusErrors
		if sh.firstErr != nil && (first == nil || sh.firstAt < firstAt) {
			first, firstAt = sh.firstErr, sh.firstAt
		}
		sh.unlock()
	}
	rep.Latency = lat.summary()
	rep.Open = int(r.opened.Load())
	rep.Engine = string(r.engine.Kind())
	rep.Loops = len(r.shards)
	if n := r.dialErrs.n.Load(); n > 0 {
		rep.Errors += n
		if first == nil {
			first = errors.New(r.dialErrs.firstError())
		}
	}
	r.waitMu.Lock()
	pending.merge(r.waitTally)
	r.waitMu.Unlock()
	// The requests unanswered at the window's end are errors when they had been for longer than
	// --timeout, and all of them in a run that had no reply at all: the server is not answering. A reply
	// with a bad status, or an echo that does not match, is a reply: a server that answers every
	// request at once with a 404 had its requests in flight at the end called unanswered.
	rep.Pending, rep.PendingOldest = pending.pending, pending.oldest
	rep.Unanswered = pending.stale
	if rep.RoundTrips == 0 && rep.StatusErrors == 0 && rep.Mismatches == 0 {
		rep.Unanswered = pending.pending
	}
	if rep.Unanswered > 0 {
		rep.Errors += rep.Unanswered
		if first == nil {
			noun := "requests"
			if rep.Unanswered == 1 {
				noun = "request"
			}
			first = fmt.Errorf("%d %s unanswered when the window closed, the oldest sent %v before",
				rep.Unanswered, noun, roundSignificant(time.Duration(pending.oldest), 3))
		}
	}
	rep.Unanswered += r.unanswered.Load() // hold mode: counted in dialErrs
	if r.cfg.rate > 0 {
		r.reportSchedule(rep)
	}
	if first != nil {
		rep.FirstError = first.Error()
	}
	if rep.Seconds > 0 {
		rep.RoundTripsPerSec = float64(rep.RoundTrips) / rep.Seconds
	}
}

// reportSchedule reports how an open-loop run kept to its schedule: the requests sent, the rate they went
// out at, and those due but unsent when the window closed.
//
// A request due and unsent is unsent for one of two reasons: every connection was busy (each waits for
// the answers to its pipeline, or is reconnecting), and the run fell behind its schedule; or a connection
// was free and the pacing timer had not fired yet, which is how it goes out on time. Only the first kind
// counts: as long as a client has room, a due request is sent as soon as its loop sees it due (fill and
// tick take every request due while there is room), so that with a client free on any loop every request
// due is of the second kind, and with none free on any loop (shard.busy) they are all of the first.
//
// The rate is the number sent over the time the schedule took to send them: from the window's start to the
// last send, plus the schedule's interval (n requests on time take n intervals), or to the window's close
// when requests were left unsent. A run that kept up so sends at the rate asked, whether its window ended
// with --duration or, later than its last request was due, with the last reply of --requests; one that
// fell behind, at the rate its connections could carry.
func (r *loadRun) reportSchedule(rep *loadReport) {
	var unsent, t0, end int64
	last := int64(math.MinInt64)
	busy := true
	for _, sh := range r.shards {
		sh.lock()
		busy = busy && sh.busy
		t0, end = sh.t0, sh.end // the same on every loop
		if sh.sent > 0 {
			last = max(last, sh.lastSend)
		}
		sh.unlock()
	}
	sent := r.next.Load()
	if busy {
		// A request may have gone out after endAt, before the run stopped: none is unsent then.
		unsent = max(0, r.shards[0].dueBefore(min(r.endAt, end))-sent)
	}
	if unsent > 0 {
		last = max(last, min(r.endAt, end))
	}
	rep.Sent, rep.Unsent = uint64(sent), uint64(unsent)
	if sent > 0 {
		rep.SentPerSec = float64(sent) / ((float64(last-t0) + 1e9/r.cfg.rate) / 1e9)
	}
}

// loadHandler is the engine's Handler: it routes each connection's events to its client.
type loadHandler struct{ r *loadRun }

// OnOpen attaches a client waiting for a connection to c. A client of a run under way (a reconnection)
// starts sending at once; in hold mode, each client echoes once as it connects.
func (h *loadHandler) OnOpen(c eddy.Conn) {
	r := h.r
	cl := r.takeWaiting()
	sh := r.shards[c.Loop().Index()]
	sh.lock()
	defer sh.unlock()
	cl.attach(sh, c)
	if sh.swept && !cl.tallied {
		sh.tally.add(cl, r) // taken from the waiting clients before their sweep, to a loop swept already
	}
	now := sh.now()
	switch {
	case cl.n > 0: // requests that followed a "Connection: close" response: send them again
		for range cl.n {
			cl.write()
		}
		cl.fill(now)
	case r.hold:
		r.outstanding.Add(1)
		cl.sendOne(now)
	default:
		cl.fill(now)
	}
}

// OnData reads the replies of c's client and sends what may be sent next.
func (h *loadHandler) OnData(c eddy.Conn) {
	cl, ok := c.Context().(*client)
	if !ok {
		c.Discard(-1)
		return
	}
	sh := cl.shard
	sh.lock()
	defer sh.unlock()
	now := sh.now()
	if h.r.stopped.Load() {
		c.Discard(-1)
		return
	}
	if h.r.http != nil {
		cl.readHTTP(c, now)
	} else {
		cl.readEcho(c, now)
	}
}

// OnClose handles a connection that ended without the client asking for it: the server closed it or it
// failed. During the run that is an error (but for a server closing an idle HTTP connection); an http
// client reconnects, an echo client is gone.
func (h *loadHandler) OnClose(c eddy.Conn, err error) {
	cl, ok := c.Context().(*client)
	if !ok {
		return
	}
	r := h.r
	sh := cl.shard
	sh.lock()
	defer sh.unlock()
	now := sh.now()
	sh.remove(cl)
	cl.conn = nil
	if r.stopped.Load() {
		return
	}
	if r.http != nil {
		cl.httpClosed(now, err)
		return
	}
	if err == nil || errors.Is(err, io.EOF) {
		cl.fail(now, "server closed the connection with %s in flight", plural(cl.n, "message"))
	} else {
		cl.fail(now, "%v", err)
	}
	cl.lose()
	r.clientGone()
}

// sendOne sends a single request (hold mode); the caller has counted it in outstanding.
func (cl *client) sendOne(now int64) {
	cl.push(now)
	cl.write()
}

// errorCount counts errors from many goroutines and keeps the first one's message.
type errorCount struct {
	n     atomic.Uint64
	mu    sync.Mutex
	first string
}

// add counts err.
func (e *errorCount) add(err error) { e.addN(1, err) }

// addN counts n errors described by err.
func (e *errorCount) addN(n uint64, err error) {
	if e.n.Add(n) == n {
		e.mu.Lock()
		e.first = err.Error()
		e.mu.Unlock()
	}
}

// firstError returns the first error's message.
func (e *errorCount) firstError() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.first
}

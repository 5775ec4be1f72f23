package eddy_test

// A stateful property test (pgregory.net/rapid) of the Conn contract on every engine, step by step.
//
// Each check starts an engine with options drawn by rapid (one or two loops, the read buffer, the write
// water marks, the task queue's capacity, an engine-wide idle timeout), drives one connection through a
// sequence of actions, each of which completes (or is known not to) before the next one starts, so that
// the model knows the state of the connection at every step and rapid can shrink a failure to a minimal
// sequence, and then ends it (Close, Abort, or the engine's Stop with the connection open) and checks
// what the peer read. The actions are the server's, run on the loop through Execute unless they are safe
// from any goroutine: Write, Writev, AsyncWrite from the loop and from the test goroutine, AsyncWrite(nil),
// Flushed, Execute, SetReadPaused, a pause from inside OnData, SetIdleTimeout (long, off, or short and
// then waited for), Close, CloseWrite and Abort (on the loop or outside); small programs of those run in
// an Execute'd function, in the next OnData, in OnPeerClosed, in OnOpen and in OnClosing, nested in the
// completion callbacks and Execute functions they make; bursts of AsyncWrites and Writes in Execute from
// goroutines outside the loop, racing with each other and with a Close or Abort; and the peer's, a real
// net.TCPConn: send (in small or large pieces), read for a moment, half-close, close, reset.
//
// The model's rules:
//   - the client's stream is made of tagged records; each writer's (a sequence of calls that the contract
//     orders: the steps' own writes, each callback body's Writes, its AsyncWrites, each outside
//     goroutine's) arrive in the order they were issued, intact, without a duplicate; a record appears
//     only if its Write returned its length or its AsyncWrite's callback reported nil, except that the
//     last one may be cut short (a reset); no accepted record of a writer is skipped; on a graceful end
//     (Close, CloseWrite, the peer's FIN, the idle timeout, Stop: no Abort, no reset) the client reads
//     every accepted record and then a clean EOF;
//   - a Write on the loop returns its length on an open connection, ErrClosed after Close, Abort or
//     CloseWrite returned; an AsyncWrite from the loop on an open connection succeeds, and one from the
//     test goroutine succeeds when a later Execute ran before any close; one issued after a Close, Abort
//     or CloseWrite returned never succeeds; a second Close returns ErrClosed, and a CloseWrite after a
//     Close or Abort returned does not return nil;
//   - every AsyncWrite and Flushed callback runs exactly once, with nil, ErrClosed or an *OpError, and on
//     the Conn it was made on; none reports success after OnClose; those of one writer that succeed do
//     so in the order of the writes (never while an earlier one is pending, nor after an earlier one
//     failed), Flushed callbacks in the order of the Flushed calls;
//   - OnOpen and OnClose once each; no callback after OnClose (but failing completion callbacks), no
//     two at once, none inside another but a Flushed callback run at once by Flushed; no OnData after
//     the handler's Close or Abort returned, no Execute function after a Close or Abort returned before
//     Execute was called or the engine started closing, an Execute function at most once, and on an
//     open connection it runs;
//   - OnClosing at most once, with ErrIdleTimeout or ErrEngineStopped, never after a Close in a callback
//     returned; what it writes arrives before the EOF;
//   - inside OnClose, Buffered is 0 and Write, Writev, AsyncWrite, Execute, CloseWrite and Close return
//     ErrClosed, and Flushed reports ErrClosed at once;
//   - while reading is paused, no OnData and no OnPeerClosed; otherwise the peer's bytes reach OnData,
//     all of them, in order (consumed by Peek, Discard and Next in random pieces; bytes left are offered
//     again), and its FIN OnPeerClosed; a paused-and-resumed connection loses nothing;
//   - OnClose's reason: one of the documented ones; nil for the handler's Close, io.EOF for the peer's
//     FIN, ErrIdleTimeout, ErrEngineStopped, the Abort's reason (also when a callback aborted a graceful
//     close before OnClose ran); something non-nil after a reset;
//   - after each engine's checks, no goroutine (goleak) and no descriptor (/proc/self/fd) is left.
//
// go test -race -count=1 -run TestConnModel .    (40 checks per engine; 8 with -short)
// -eddy.rapidconn.checks=N sets the number of checks per engine (rapid's own -rapid.checks is ignored
// unless that is 0); -rapid.seed=S reproduces a run. The interleavings are the machine's: a failure that
// depends on one (a task and a completion in the same loop iteration) may not shrink, and rapid then
// calls it flaky; its first sequence is logged all the same. For a long run:
// go test -race -timeout 0 -count=1 -run TestConnModel . -eddy.rapidconn.checks=3000
//
// Found (session 28): uring acted on the peer's FIN after the handler's Close had returned (from
// another goroutine) but before the Close's task ran: OnPeerClosed after Close, and OnClose reporting
// io.EOF instead of nil (TestCloseThenPeerFIN; fixed in connCore.onEOF). The randomized model it
// replaces (TestConnContractModel, session 20, merged into this one in session 29) found the faults that
// the tests in conformance_model_test.go reproduce.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/eddyio/eddy"
)

var rcChecks = flag.Int("eddy.rapidconn.checks", 40, "TestConnModel: rapid checks per engine (0: rapid's -rapid.checks)")

var errRCAbort = errors.New("rapidconn: abort")

const (
	rcMagic   = 0xB7
	rcHdr     = 9 // magic, id (4), payload length (4)
	rcWait    = 5 * time.Second
	rcMaxOut  = 1 << 20 // keeps a connection's output well under the default high water mark
	rcMaxIn   = 256 << 10
	rcPeriod  = time.Millisecond
	rcQuietly = 15 * time.Millisecond // how long a step that must cause nothing watches for it
)

func rcPayload(id uint32, i int) byte { return byte(int(id)*29 + i*7 + i>>8) }

func rcRecord(id uint32, n int) []byte {
	b := make([]byte, rcHdr+n)
	b[0] = rcMagic
	binary.BigEndian.PutUint32(b[1:], id)
	binary.BigEndian.PutUint32(b[5:], uint32(n))
	for i := 0; i < n; i++ {
		b[rcHdr+i] = rcPayload(id, i)
	}
	return b
}

func rcInByte(i int) byte { return byte(i*7 + i>>9 + 3) }

// rcGoid is the calling goroutine's id, for the owner of a connection's callbacks.
func rcGoid() int64 {
	var buf [40]byte
	n := runtime.Stack(buf[:], false)
	s := buf[len("goroutine "):n]
	if i := bytes.IndexByte(s, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(s[:i]), 10, 64)
		return id
	}
	return -1
}

// ---- records and programs ----

type rcRec struct {
	id     uint32
	writer int // the sequence of calls whose order the contract keeps (0: the steps' own)
	data   []byte
	how    string
	flush  bool // a Flushed or AsyncWrite(nil) entry (m.flushes), not a record of the stream

	// under the connection's mu:
	attempted   bool  // the write was made (an Execute that ran it, an AsyncWrite call)
	settled     bool  // its fate is known: the Write returned, the callback ran
	accepted    bool  // Write returned its length, or the callback reported nil
	async       bool  // a callback is due (AsyncWrite returned nil, Flushed was called)
	refuse      bool  // issued after a Close, Abort or CloseWrite returned: it must not be accepted
	cbs         int   // callbacks run
	cbErr       error // the first callback's error
	flushIdx    int   // a Flushed call's place among the connection's Flushed calls
	mustSucceed bool  // the model says it cannot fail on a graceful end
	issuedOpen  bool  // an outside AsyncWrite issued on an open, writable connection
	before      uint32
}

// rcOp is one operation of a program run on the loop; then runs in its callback (AsyncWrite, Flushed:
// when it reports nil) or its function (Execute).
type rcOp struct {
	kind   string // write, writev, async, flushed, execute, idle, close, closeWrite, abort
	rec    *rcRec
	pieces [][]byte
	d      time.Duration
	then   []*rcOp
}

func (op *rcOp) String() string {
	s := op.kind
	if op.rec != nil {
		s += fmt.Sprintf("#%d/w%d", op.rec.id, op.rec.writer)
	}
	if op.kind == "idle" {
		s += fmt.Sprint("(", op.d, ")")
	}
	if len(op.then) > 0 {
		s += fmt.Sprint(op.then)
	}
	return s
}

// rcTerminal reports whether a program closes, aborts or shuts down the connection somewhere.
func rcTerminal(ops []*rcOp) bool {
	for _, op := range ops {
		switch op.kind {
		case "close", "closeWrite", "abort":
			return true
		}
		if rcTerminal(op.then) {
			return true
		}
	}
	return false
}

// ---- the handler ----

type rcConn struct {
	c           eddy.Conn
	keepWriting atomic.Bool
	closeDone   atomic.Bool // the handler's Close or Abort returned
	peerReset   atomic.Bool // the peer reset the connection: a failed write ends a pause (Conn.SetReadPaused)
	owner       atomic.Int64
	inline      atomic.Int32 // Flushed calls in progress on the owner: its callback may run inside

	mu          sync.Mutex
	rng         *rand.Rand // the input's consumption, on the loop
	violations  []string
	in          []byte
	left        int // input bytes OnData left buffered
	dataCalls   int
	peerClosed  int
	closes      int
	closeErr    error
	closings    int
	closingErr  error
	inClosing   bool
	pausedNow   bool   // the handler paused reading (loop state, kept under mu)
	pauseNext   bool   // the next OnData pauses
	writeShut   bool   // CloseWrite returned nil
	closingSeen bool   // Close or Abort returned, or OnPeerClosed let the engine close
	cbClose     string // a program's Close returned nil ("close") or it aborted ("abort")
	cbClosed    bool   // a program's Close returned nil outside OnClosing
	cbAborted   bool   // a program aborted before OnClose ran: OnClose reports the Abort's reason
	flushCalls  int    // Flushed calls made
	flushOKNext int    // the Flushed call after the last one that reported success
	byWriter    map[int][]*rcRec
	openProg    []*rcOp // programs: OnOpen's, the next OnData's, OnPeerClosed's, OnClosing's
	dataProg    []*rcOp
	peerProg    []*rcOp
	closingProg []*rcOp
}

func (mc *rcConn) violate(format string, args ...any) {
	mc.mu.Lock()
	mc.violateLocked(format, args...)
	mc.mu.Unlock()
}

func (mc *rcConn) violateLocked(format string, args ...any) {
	if len(mc.violations) < 20 {
		mc.violations = append(mc.violations, fmt.Sprintf(format, args...))
	}
}

// enter marks the start of a callback; lateOK allows it after OnClose (a completion callback that reports
// an error). It returns whether this call took the owner flag (false when nested).
func (mc *rcConn) enter(what string, lateOK bool) bool {
	me := rcGoid()
	took := true
	if prev := mc.owner.Load(); prev == me {
		if mc.inline.Load() == 0 {
			mc.violate("%s ran inside another callback of the connection", what)
		}
		took = false
	} else if !mc.owner.CompareAndSwap(0, me) {
		mc.violate("%s ran while another callback of the connection was running (goroutine %d)", what, mc.owner.Load())
		took = false
	}
	if !lateOK {
		mc.mu.Lock()
		if mc.closes > 0 {
			mc.violateLocked("%s ran after OnClose", what)
		}
		mc.mu.Unlock()
	}
	return took
}

func (mc *rcConn) exit(took bool) {
	if took {
		mc.owner.Store(0)
	}
}

func (mc *rcConn) get(f func()) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	f()
}

// writeClosedLocked reports whether writes must fail now: a Close, Abort or CloseWrite returned, or
// OnClose ran.
func (mc *rcConn) writeClosedLocked() bool {
	return mc.closeDone.Load() || mc.writeShut || mc.closes > 0
}

// addRec enters a record made by the test goroutine.
func (mc *rcConn) addRec(r *rcRec) {
	mc.mu.Lock()
	if !r.flush {
		mc.byWriter[r.writer] = append(mc.byWriter[r.writer], r)
	}
	mc.mu.Unlock()
}

// writeDone records a synchronous write's result (a Write or Writev on the loop) and checks it.
func (mc *rcConn) writeDone(r *rcRec, n int, err error, closedBefore bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	r.attempted, r.settled = true, true
	r.accepted = err == nil && n == len(r.data)
	if err != nil && !errors.Is(err, eddy.ErrClosed) {
		mc.violateLocked("%s #%d: %d, %v; want ErrClosed or success", r.how, r.id, n, err)
	}
	if err == nil && n != len(r.data) {
		mc.violateLocked("%s #%d returned %d for %d bytes", r.how, r.id, n, len(r.data))
	}
	if closedBefore && err == nil {
		mc.violateLocked("%s #%d accepted after a Close, Abort or CloseWrite had returned", r.how, r.id)
	}
	if r.accepted {
		mc.orderLocked(r)
	}
}

// orderLocked checks that r, reported accepted, has no earlier record of its writer still pending or
// refused: the writes of one writer succeed in order, and a refused one is no hole.
func (mc *rcConn) orderLocked(r *rcRec) {
	for _, q := range mc.byWriter[r.writer] {
		if q == r {
			return
		}
		switch {
		case !q.attempted:
			// never made (an Execute skipped, a call refused at once): no bytes, no callback
		case !q.settled && q.async && !r.async:
			// a Write is accepted when it is made; an earlier AsyncWrite's callback comes when its bytes are out
		case !q.settled:
			mc.violateLocked("%s #%d reported accepted while the earlier %s #%d of its writer is still pending", r.how, r.id, q.how, q.id)
			return
		case !q.accepted:
			mc.violateLocked("%s #%d accepted after the earlier %s #%d of its writer failed (%v): a hole", r.how, r.id, q.how, q.id, q.cbErr)
			return
		}
	}
}

// completion is the callback of r (an AsyncWrite, a Flushed call); on success it runs then, and after
// it, when not nil, after.
func (mc *rcConn) completion(r *rcRec, then []*rcOp, after func(eddy.Conn, error)) func(eddy.Conn, error) {
	return func(cc eddy.Conn, err error) {
		took := mc.enter(fmt.Sprintf("%s #%d callback (%v)", r.how, r.id, err), err != nil)
		defer mc.exit(took)
		mc.mu.Lock()
		r.cbs++
		if r.cbs > 1 {
			mc.violateLocked("%s #%d: callback ran %d times (%v, then %v)", r.how, r.id, r.cbs, r.cbErr, err)
			mc.mu.Unlock()
			return
		}
		if cc != mc.c {
			mc.violateLocked("%s #%d: callback got another Conn", r.how, r.id)
		}
		var oe *eddy.OpError
		if err != nil && !errors.Is(err, eddy.ErrClosed) && !errors.As(err, &oe) {
			mc.violateLocked("%s #%d: callback error %v (%T)", r.how, r.id, err, err)
		}
		r.cbErr, r.settled = err, true
		r.accepted = err == nil
		if err == nil {
			if mc.closes > 0 {
				mc.violateLocked("%s #%d: callback reported success after OnClose", r.how, r.id)
			}
			if r.refuse {
				mc.violateLocked("%s #%d: callback reported success although issued after a Close, Abort or CloseWrite had returned", r.how, r.id)
			}
			if r.flush {
				if r.how == "Flushed" && r.flushIdx < mc.flushOKNext {
					mc.violateLocked("Flushed call %d reported success after call %d did: out of order", r.flushIdx, mc.flushOKNext-1)
				}
				if r.how == "Flushed" {
					mc.flushOKNext = r.flushIdx + 1
				}
			} else {
				mc.orderLocked(r)
			}
		}
		mc.mu.Unlock()
		if err == nil {
			mc.run(cc, then)
		}
		if after != nil {
			after(cc, err)
		}
	}
}

// run runs a program on the loop, inside a callback or an Execute'd function.
func (mc *rcConn) run(c eddy.Conn, ops []*rcOp) {
	for _, op := range ops {
		mc.mu.Lock()
		closedBefore := mc.writeClosedLocked()
		mc.mu.Unlock()
		switch op.kind {
		case "write":
			n, err := c.Write(op.rec.data)
			mc.writeDone(op.rec, n, err, closedBefore)
		case "writev":
			n, err := c.Writev(op.pieces)
			mc.writeDone(op.rec, n, err, closedBefore)
		case "async":
			r := op.rec
			err := c.AsyncWrite(r.data, mc.completion(r, op.then, nil))
			mc.mu.Lock()
			if err == nil {
				r.attempted, r.async, r.refuse = true, true, closedBefore
			} else if !errors.Is(err, eddy.ErrClosed) && !errors.Is(err, eddy.ErrQueueFull) {
				mc.violateLocked("AsyncWrite #%d on the loop: %v", r.id, err)
			}
			mc.mu.Unlock()
		case "flushed":
			f := op.rec
			mc.mu.Lock()
			f.attempted, f.async, f.refuse = true, true, closedBefore
			f.flushIdx = mc.flushCalls
			mc.flushCalls++
			mc.mu.Unlock()
			mc.inline.Add(1)
			c.Flushed(mc.completion(f, op.then, nil))
			mc.inline.Add(-1)
		case "execute":
			var ran atomic.Int32
			var refused atomic.Bool
			closeDoneBefore := mc.closeDone.Load()
			err := c.Execute(func(cc eddy.Conn) {
				took := mc.enter("Execute function (program)", false)
				defer mc.exit(took)
				if ran.Add(1) > 1 {
					mc.violate("an Execute function ran twice")
				}
				if refused.Load() {
					mc.violate("the function of a refused Execute ran")
				}
				if closeDoneBefore {
					mc.violate("an Execute function ran although a Close or Abort had returned before Execute was called")
				}
				mc.run(cc, op.then)
			})
			if err != nil {
				refused.Store(true)
				if !errors.Is(err, eddy.ErrClosed) && !errors.Is(err, eddy.ErrQueueFull) {
					mc.violate("Execute on the loop: %v", err)
				}
			}
		case "idle":
			if err := c.SetIdleTimeout(op.d); err != nil && !errors.Is(err, eddy.ErrClosed) {
				mc.violate("SetIdleTimeout(%v): %v", op.d, err)
			}
		case "close":
			err := c.Close()
			switch {
			case err == nil:
				mc.closeDone.Store(true)
				mc.mu.Lock()
				if mc.cbClose == "" {
					mc.cbClose = "close"
				}
				mc.cbClosed = mc.cbClosed || !mc.inClosing
				mc.mu.Unlock()
				if err := c.Close(); !errors.Is(err, eddy.ErrClosed) {
					mc.violate("a second Close: %v, want ErrClosed", err)
				}
			case !errors.Is(err, eddy.ErrClosed):
				mc.violate("Close on the loop: %v", err)
			}
		case "closeWrite":
			err := c.CloseWrite()
			switch {
			case err == nil:
				if mc.closeDone.Load() {
					mc.violate("CloseWrite returned nil after a Close or Abort had returned")
				}
				mc.get(func() { mc.writeShut = true })
			case !errors.Is(err, eddy.ErrClosed):
				mc.violate("CloseWrite on the loop: %v", err)
			}
		case "abort":
			c.Abort(errRCAbort)
			mc.closeDone.Store(true)
			mc.mu.Lock()
			mc.cbClose = "abort"
			if mc.closes == 0 {
				mc.cbAborted = true
			}
			mc.mu.Unlock()
		}
	}
}

// consume takes the input in random pieces (Peek and Discard, Next(n), Next(-1)), sometimes leaving a
// little of it for the next OnData, and records it.
func (mc *rcConn) consume(c eddy.Conn) {
	if all, _ := c.Peek(0); len(all) != c.Buffered() {
		mc.violateLocked("Peek(0) returned %d bytes, Buffered %d", len(all), c.Buffered())
	}
	for c.Buffered() > 0 {
		var b []byte
		switch mc.rng.IntN(6) {
		case 0:
			if c.Buffered() < 256 {
				mc.left = c.Buffered()
				return // the rest comes again with more
			}
			fallthrough
		case 1:
			n := 1 + mc.rng.IntN(c.Buffered())
			p, err := c.Peek(n)
			if err != nil || len(p) != n {
				mc.violateLocked("Peek(%d) = %d bytes, %v", n, len(p), err)
				return
			}
			b = bytes.Clone(p)
			if d, _ := c.Discard(n); d != n {
				mc.violateLocked("Discard(%d) = %d", n, d)
				return
			}
		case 2, 3:
			var err error
			if b, err = c.Next(-1); err != nil {
				mc.violateLocked("Next(-1): %v", err)
			}
		default:
			n := 1 + mc.rng.IntN(c.Buffered())
			var err error
			if b, err = c.Next(n); err != nil || len(b) != n {
				mc.violateLocked("Next(%d) = %d bytes, %v", n, len(b), err)
				return
			}
		}
		mc.in = append(mc.in, b...)
	}
	mc.left = 0
}

type rcHandler struct {
	mu       sync.Mutex
	conns    map[string]*rcConn
	openProg []*rcOp        // the next connection's OnOpen program
	newConn  func() *rcConn // the next connection's state
}

func (h *rcHandler) OnOpen(c eddy.Conn) {
	h.mu.Lock()
	mc := h.newConn()
	mc.c = c
	prog := h.openProg
	h.openProg = nil
	h.mu.Unlock()
	c.SetContext(mc)
	took := mc.enter("OnOpen", false)
	mc.run(c, prog)
	mc.exit(took)
	// The model starts once OnOpen's program ran.
	h.mu.Lock()
	if h.conns[c.RemoteAddr().String()] != nil {
		mc.violate("a second OnOpen for %v", c.RemoteAddr())
	}
	h.conns[c.RemoteAddr().String()] = mc
	h.mu.Unlock()
}

func (h *rcHandler) OnData(c eddy.Conn) {
	mc := c.Context().(*rcConn)
	closeDone := mc.closeDone.Load()
	took := mc.enter("OnData", false)
	defer mc.exit(took)
	mc.mu.Lock()
	if closeDone {
		mc.violateLocked("OnData after the handler's Close or Abort returned")
	}
	if mc.pausedNow && !mc.peerReset.Load() {
		mc.violateLocked("OnData while reading was paused")
	}
	if c.Buffered() < mc.left {
		mc.violateLocked("OnData: %d bytes buffered, %d were left", c.Buffered(), mc.left)
	}
	mc.consume(c)
	mc.dataCalls++
	if mc.pauseNext {
		mc.pauseNext = false
		mc.pausedNow = true
		c.SetReadPaused(true)
	}
	prog := mc.dataProg
	mc.dataProg = nil
	mc.mu.Unlock()
	mc.run(c, prog)
}

func (h *rcHandler) OnPeerClosed(c eddy.Conn) bool {
	mc := c.Context().(*rcConn)
	took := mc.enter("OnPeerClosed", false)
	defer mc.exit(took)
	mc.mu.Lock()
	if mc.pausedNow && !mc.peerReset.Load() {
		mc.violateLocked("OnPeerClosed while reading was paused")
	}
	mc.peerClosed++
	if mc.peerClosed > 1 {
		mc.violateLocked("OnPeerClosed twice")
	}
	prog := mc.peerProg
	mc.peerProg = nil
	mc.mu.Unlock()
	mc.run(c, prog)
	kw := mc.keepWriting.Load()
	if !kw {
		mc.get(func() { mc.closingSeen = true })
	}
	return kw
}

func (h *rcHandler) OnClosing(c eddy.Conn, reason error) {
	mc := c.Context().(*rcConn)
	took := mc.enter("OnClosing", false)
	defer mc.exit(took)
	mc.mu.Lock()
	mc.closings++
	if mc.closings > 1 {
		mc.violateLocked("OnClosing twice (%v, then %v)", mc.closingErr, reason)
	}
	mc.closingErr = reason
	if reason != eddy.ErrIdleTimeout && reason != eddy.ErrEngineStopped {
		mc.violateLocked("OnClosing(%v)", reason)
	}
	if mc.cbClosed {
		mc.violateLocked("OnClosing(%v) after a Close in a callback returned", reason)
	}
	mc.inClosing = true
	prog := mc.closingProg
	mc.closingProg = nil
	mc.mu.Unlock()
	mc.run(c, prog)
	mc.get(func() { mc.inClosing = false })
}

func (h *rcHandler) OnClose(c eddy.Conn, err error) {
	mc := c.Context().(*rcConn)
	took := mc.enter("OnClose", false)
	defer mc.exit(took)
	mc.mu.Lock()
	mc.closes++
	if mc.closes > 1 {
		mc.violateLocked("OnClose ran %d times (%v, then %v)", mc.closes, mc.closeErr, err)
		mc.mu.Unlock()
		return
	}
	mc.closeErr = err
	var oe *eddy.OpError
	switch {
	case err == nil, err == io.EOF, err == eddy.ErrIdleTimeout, err == eddy.ErrEngineStopped,
		err == eddy.ErrFlushTimeout, err == eddy.ErrClosed, errors.As(err, &oe), err == errRCAbort:
	default:
		mc.violateLocked("OnClose reason %v (%T) is none of the documented ones", err, err)
	}
	if mc.cbAborted && err != errRCAbort {
		mc.violateLocked("OnClose(%v) after a callback's Abort: OnClose reports the Abort's reason unless it has run already", err)
	}
	if n := c.Buffered(); n != 0 {
		mc.violateLocked("Buffered() = %d in OnClose", n)
	}
	mc.mu.Unlock()

	// Inside OnClose the connection is closed: every output method refuses.
	rec := rcRecord(1<<30, 3)
	if _, werr := c.Write(rec); !errors.Is(werr, eddy.ErrClosed) {
		mc.violate("Write in OnClose: %v, want ErrClosed", werr)
	}
	if _, werr := c.Writev([][]byte{rec, rec}); !errors.Is(werr, eddy.ErrClosed) {
		mc.violate("Writev in OnClose: %v, want ErrClosed", werr)
	}
	if aerr := c.AsyncWrite(rec, func(eddy.Conn, error) { mc.violate("the callback of an AsyncWrite made in OnClose ran") }); !errors.Is(aerr, eddy.ErrClosed) {
		mc.violate("AsyncWrite in OnClose: %v, want ErrClosed", aerr)
	}
	if xerr := c.Execute(func(eddy.Conn) { mc.violate("the function of an Execute made in OnClose ran") }); !errors.Is(xerr, eddy.ErrClosed) {
		mc.violate("Execute in OnClose: %v, want ErrClosed", xerr)
	}
	if cerr := c.CloseWrite(); !errors.Is(cerr, eddy.ErrClosed) {
		mc.violate("CloseWrite in OnClose: %v, want ErrClosed", cerr)
	}
	if cerr := c.Close(); !errors.Is(cerr, eddy.ErrClosed) {
		mc.violate("Close in OnClose: %v, want ErrClosed", cerr)
	}
	ferr := errors.New("not called")
	mc.inline.Add(1)
	c.Flushed(func(_ eddy.Conn, e error) { ferr = e })
	mc.inline.Add(-1)
	if !errors.Is(ferr, eddy.ErrClosed) {
		mc.violate("Flushed in OnClose: the callback got %v, want ErrClosed at once", ferr)
	}
}

// ---- the model ----

type rcModel struct {
	rt   *rapid.T
	kind eddy.EngineKind
	e    *eddy.Engine
	mc   *rcConn
	cl   *net.TCPConn

	nextID      uint32
	nextWriter  int
	before      uint32 // the first record of the current action: a barrier covers those before it
	lowWater    int    // the engine's low water mark, when the check set small ones (0: the default)
	recs        []*rcRec
	flushes     []*rcRec // Flushed callbacks and AsyncWrite(nil): cbs and cbErr only
	outBytes    int
	closing     bool   // a close began (handler's, engine's) or OnClose ran
	closedBy    string // what began it: "close", "abort", "peer", "idle", "stop", "reset"
	ended       bool   // the sequence ends: what it did closes the connection when it closes it
	writeShut   bool
	paused      bool
	pauseArmed  bool
	sent        []byte
	clWriteShut bool
	clReset     bool // the peer reset or closed its socket: it reads no more
	clGot       []byte
	clErr       error
}

func (m *rcModel) logf(format string, args ...any) { m.rt.Logf(format, args...) }

func (m *rcModel) fatalf(format string, args ...any) {
	m.rt.Helper()
	m.mc.mu.Lock()
	v := append([]string(nil), m.mc.violations...)
	m.mc.mu.Unlock()
	m.rt.Fatalf("%s: %s (violations: %q)", m.kind, fmt.Sprintf(format, args...), v)
}

// waitFor polls cond (run under the connection's mu) until it holds or the deadline passes.
func (m *rcModel) waitFor(what string, cond func() bool) {
	m.rt.Helper()
	deadline := time.Now().Add(rcWait)
	for {
		ok := false
		m.mc.get(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			m.fatalf("waited %v for %s", rcWait, what)
		}
		time.Sleep(rcPeriod)
	}
}

func (m *rcModel) closed() (b bool) {
	m.mc.get(func() { b = m.mc.closes > 0 })
	return b
}

// syncClosing folds in what the handler saw and did: a close the engine began, a program's Close,
// Abort or CloseWrite, OnClose.
func (m *rcModel) syncClosing() {
	m.mc.get(func() {
		if m.mc.writeShut {
			m.writeShut = true
		}
		if !m.closing && m.mc.cbClose != "" {
			m.closing, m.closedBy = true, m.mc.cbClose
		}
		if !m.closing && (m.mc.closingSeen || m.mc.closes > 0) {
			m.closing = true
			if m.closedBy == "" {
				if m.mc.peerClosed > 0 && !m.mc.keepWriting.Load() {
					m.closedBy = "peer"
				} else {
					m.closedBy = "unexpected"
				}
			}
		}
	})
}

// execute calls Execute, again while the loop's queue is full.
func (m *rcModel) execute(fn func(eddy.Conn)) error {
	deadline := time.Now().Add(rcWait)
	for {
		err := m.mc.c.Execute(fn)
		if !errors.Is(err, eddy.ErrQueueFull) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(rcPeriod)
	}
}

// onLoop runs fn on the connection's loop through Execute and waits for it, when the connection is open;
// on a closing one it checks that fn is skipped. It reports whether fn ran.
func (m *rcModel) onLoop(what string, fn func(c eddy.Conn)) bool {
	m.rt.Helper()
	closing := m.closing
	done := make(chan struct{})
	mc := m.mc
	err := m.execute(func(c eddy.Conn) {
		took := mc.enter("Execute("+what+")", false)
		defer mc.exit(took)
		if closing {
			mc.violate("Execute(%s) ran on a connection whose close had begun before Execute was called", what)
		}
		fn(c)
		close(done)
	})
	if err != nil {
		if !errors.Is(err, eddy.ErrClosed) {
			m.fatalf("Execute(%s): %v", what, err)
		}
		if !closing && !m.closed() {
			m.fatalf("Execute(%s) returned %v on an open connection", what, err)
		}
		return false
	}
	if closing {
		return false
	}
	deadline := time.After(rcWait)
	for {
		select {
		case <-done:
			return true
		case <-deadline:
			m.fatalf("Execute(%s) on an open connection: the function did not run in %v (closed: %v)", what, rcWait, m.closed())
		case <-time.After(rcPeriod):
			if m.closed() {
				select {
				case <-done:
					return true
				default:
				}
				if m.clReset {
					return false // the engine saw the reset first
				}
				m.fatalf("Execute(%s) on an open connection: OnClose ran instead", what)
			}
		}
	}
}

func (m *rcModel) newWriter() int {
	m.nextWriter++
	return m.nextWriter
}

func (m *rcModel) newRec(how string, writer int) *rcRec {
	var n int
	switch rapid.IntRange(0, 9).Draw(m.rt, "size") {
	case 0, 1, 2, 3, 4:
		n = rapid.IntRange(0, 64).Draw(m.rt, "small")
	case 5, 6, 7:
		n = rapid.IntRange(65, 16<<10).Draw(m.rt, "mid")
	default:
		n = rapid.IntRange(64<<10, 256<<10).Draw(m.rt, "big")
	}
	if m.outBytes+n > rcMaxOut {
		n = 16
	}
	m.outBytes += n
	r := &rcRec{id: m.nextID, writer: writer, data: rcRecord(m.nextID, n), how: how}
	m.nextID++
	m.recs = append(m.recs, r)
	m.mc.addRec(r)
	return r
}

func (m *rcModel) newFlush(how string) *rcRec {
	f := &rcRec{id: uint32(len(m.flushes)), how: how, flush: true, before: m.nextID}
	m.flushes = append(m.flushes, f)
	return f
}

// pieces cuts b into 1 to 4 slices, some of them maybe empty.
func (m *rcModel) pieces(b []byte) [][]byte {
	k := rapid.IntRange(1, 4).Draw(m.rt, "pieces")
	var bs [][]byte
	for i := 0; i < k-1 && len(b) > 0; i++ {
		cut := rapid.IntRange(0, len(b)).Draw(m.rt, "cut")
		bs = append(bs, b[:cut])
		b = b[cut:]
	}
	return append(bs, b)
}

// drawProg draws a program for a callback or an Execute'd function (a body: its Writes are a writer,
// its AsyncWrites another); the callbacks and functions it makes run bodies of their own, down to
// depth 2. top lists the closing operations allowed in this body, nested those in the bodies below.
func (m *rcModel) drawProg(label string, depth int, top, nested []string) []*rcOp {
	n := rapid.IntRange(0, 4-depth).Draw(m.rt, label+"Len")
	syncW, asyncW := -1, -1
	kinds := append([]string{"write", "writev", "async", "flushed", "execute", "idle"}, top...)
	var ops []*rcOp
	for i := 0; i < n; i++ {
		op := &rcOp{kind: rapid.SampledFrom(kinds).Draw(m.rt, label+"Op")}
		switch op.kind {
		case "write", "writev":
			if syncW < 0 {
				syncW = m.newWriter()
			}
			op.rec = m.newRec(op.kind+" ("+label+")", syncW)
			op.pieces = [][]byte{op.rec.data}
			if op.kind == "writev" {
				op.pieces = m.pieces(op.rec.data)
			}
		case "async":
			if asyncW < 0 {
				asyncW = m.newWriter()
			}
			op.rec = m.newRec("AsyncWrite ("+label+")", asyncW)
		case "flushed":
			op.rec = m.newFlush("Flushed")
		case "idle":
			op.d = rapid.SampledFrom([]time.Duration{0, time.Hour}).Draw(m.rt, label+"Idle")
		}
		switch op.kind {
		case "async", "flushed", "execute":
			if depth < 2 {
				op.then = m.drawProg(label, depth+1, nested, nested)
			}
		}
		ops = append(ops, op)
	}
	return ops
}

// barrier notes that the loop reached a point after every outside AsyncWrite issued so far.
func (m *rcModel) barrier() {
	m.mc.get(func() {
		for _, r := range m.recs {
			if r.issuedOpen && r.async && r.id < m.before {
				r.mustSucceed = true
			}
		}
		for _, f := range m.flushes {
			if f.issuedOpen && f.async && f.before < m.before {
				f.mustSucceed = true
			}
		}
	})
}

func (m *rcModel) writable() bool { return !m.closing && !m.writeShut }

// ---- server actions ----

// loopWrite is a Write (or a Writev of the record cut in pieces) in an Execute'd function.
func (m *rcModel) loopWrite(vec bool) {
	how := "Write"
	if vec {
		how = "Writev"
	}
	r := m.newRec(how, 0)
	bs := [][]byte{r.data}
	if vec {
		bs = m.pieces(r.data)
	}
	open := m.writable()
	m.logf("%s #%d (%d bytes in %d slices), writable %v", how, r.id, len(r.data), len(bs), open)
	mc := m.mc
	ran := m.onLoop(how, func(c eddy.Conn) {
		var n int
		var err error
		if vec {
			n, err = c.Writev(bs)
		} else {
			n, err = c.Write(bs[0])
		}
		mc.writeDone(r, n, err, !open)
		if open && (err != nil || n != len(r.data)) {
			mc.violate("%s #%d on a writable connection: %d, %v", how, r.id, n, err)
		}
	})
	if ran {
		m.barrier()
		m.mc.get(func() { r.mustSucceed = open })
	}
}

func (m *rcModel) asyncLoop() {
	r := m.newRec("AsyncWrite(loop)", 0)
	open := m.writable()
	m.logf("AsyncWrite from the loop #%d (%d bytes), writable %v", r.id, len(r.data), open)
	mc := m.mc
	cb := mc.completion(r, nil, nil)
	ran := m.onLoop("AsyncWrite", func(c eddy.Conn) {
		err := c.AsyncWrite(r.data, cb)
		mc.mu.Lock()
		defer mc.mu.Unlock()
		if err == nil {
			r.attempted, r.async, r.refuse = true, true, !open
			r.issuedOpen = open // its task, queued, accepts it; a Close from outside before that refuses it
		} else if !errors.Is(err, eddy.ErrClosed) || open {
			mc.violateLocked("AsyncWrite #%d from the loop (writable %v): %v", r.id, open, err)
		}
	})
	if ran {
		m.barrier()
	}
}

// outsideAsync is AsyncWrite(r's data, or nil for a flush entry) from the test goroutine, with after
// run in its callback. It reports whether the call returned nil.
func (m *rcModel) outsideAsync(r *rcRec, after func(eddy.Conn, error)) bool {
	open := m.writable()
	var data []byte
	if !r.flush {
		data = r.data
	}
	m.logf("%s from the test goroutine #%d (%d bytes), writable %v", r.how, r.id, len(data), open)
	mc := m.mc
	mc.mu.Lock()
	refuse := mc.writeClosedLocked()
	mc.mu.Unlock()
	err := mc.c.AsyncWrite(data, mc.completion(r, nil, after))
	mc.get(func() {
		if err == nil {
			r.attempted, r.async, r.refuse = true, true, refuse
			r.issuedOpen = open
		}
	})
	if err != nil && !errors.Is(err, eddy.ErrQueueFull) && (!errors.Is(err, eddy.ErrClosed) || (open && !m.closed())) {
		m.fatalf("%s #%d from outside on an open connection: %v", r.how, r.id, err)
	}
	return err == nil
}

func (m *rcModel) asyncOut() { m.outsideAsync(m.newRec("AsyncWrite(outside)", 0), nil) }

// asyncEmpty is AsyncWrite(nil) from the test goroutine: its callback runs once the output queued
// before it is out (nil on a graceful end, when it was accepted).
func (m *rcModel) asyncEmpty() { m.outsideAsync(m.newFlush("AsyncWrite(nil)"), nil) }

// asyncThenClose is the documented way to send and then close from another goroutine: AsyncWrite, and
// Close in its callback. The close comes when it comes: the sequence ends here.
func (m *rcModel) asyncThenClose() {
	r := m.newRec("AsyncWrite(then Close)", 0)
	open := m.writable()
	mc := m.mc
	ok := m.outsideAsync(r, func(c eddy.Conn, err error) {
		if err == nil {
			if cerr := c.Close(); cerr != nil {
				mc.violate("Close in the callback of a successful AsyncWrite: %v", cerr)
			}
			mc.closeDone.Store(true)
		}
	})
	if ok && open {
		m.mc.get(func() { r.mustSucceed = true }) // nothing else closes it
		m.closing, m.closedBy = true, "close"
	}
	m.ended = true
}

func (m *rcModel) flushed() {
	f := m.newFlush("Flushed")
	open := m.writable()
	m.logf("Flushed #%d, writable %v", f.id, open)
	mc := m.mc
	op := &rcOp{kind: "flushed", rec: f}
	if m.onLoop("Flushed", func(c eddy.Conn) { mc.run(c, []*rcOp{op}) }) {
		m.barrier()
		m.mc.get(func() { f.mustSucceed = open })
	}
}

// writeFlushedClose writes, registers a Flushed callback and closes in one callback: the bytes arrive,
// then EOF, and the callback reports nil (a Close made after Flushed does not fail it).
func (m *rcModel) writeFlushedClose(closeWrite bool) {
	what := "close"
	if closeWrite {
		what = "closeWrite"
	}
	r := m.newRec("Write+Flushed+"+what, 0)
	f := m.newFlush("Flushed")
	open := m.writable()
	closing := m.closing
	mc := m.mc
	// The Flushed callback may act in turn (during the close's flush): an Abort there decides OnClose's reason.
	then := m.drawProg("flushedThen", 1, []string{"abort"}, nil)
	prog := []*rcOp{{kind: "write", rec: r}, {kind: "flushed", rec: f, then: then}, {kind: what}}
	if rcTerminal(then) {
		m.ended = true // the Abort comes when the callback runs
	}
	m.logf("Write #%d (%d bytes), Flushed #%d %v, %s, in one Execute; writable %v", r.id, len(r.data), f.id, then, what, open)
	if m.onLoop("Write+Flushed+"+what, func(c eddy.Conn) { mc.run(c, prog) }) {
		m.barrier()
		m.mc.get(func() {
			r.mustSucceed, f.mustSucceed = open, open
			if open && !r.accepted {
				mc.violateLocked("Write #%d on a writable connection failed", r.id)
			}
			if open && mc.cbClose != "abort" && (closeWrite && !mc.writeShut || !closeWrite && mc.cbClose == "") {
				mc.violateLocked("%s on an open connection failed", what)
			}
			if !closeWrite && !closing && mc.cbClose == "" {
				mc.violateLocked("Close on an open connection failed")
			}
		})
		if closeWrite {
			m.writeShut = true
		} else {
			m.markClosing("close")
		}
	}
}

// prog runs a program in an Execute'd function. When it closes somewhere (in a callback, maybe), the
// sequence ends.
func (m *rcModel) prog() {
	ops := m.drawProg("prog", 0, []string{"close", "closeWrite", "abort"}, []string{"close", "closeWrite", "abort"})
	m.logf("program in an Execute'd function: %v", ops)
	mc := m.mc
	if m.onLoop("program", func(c eddy.Conn) { mc.run(c, ops) }) {
		m.barrier()
	}
	if rcTerminal(ops) {
		m.ended = true
	}
}

// armProg sets the program of the next OnData or of OnPeerClosed; it may close in its own body, not in
// the callbacks it makes (the model folds in what it did after the step that made it run).
func (m *rcModel) armProg(peer bool) {
	var top []string
	if !peer && m.lowWater == 0 || peer && !m.clWriteShut {
		// (With small water marks, input may wait and OnData run at any time: no close then.)
		top = []string{"close", "closeWrite", "abort"}
	}
	label := "data"
	if peer {
		label = "peer"
	}
	ops := m.drawProg(label, 0, top, nil)
	m.logf("program for %s: %v", map[bool]string{false: "the next OnData", true: "OnPeerClosed"}[peer], ops)
	m.mc.get(func() {
		if peer {
			m.mc.peerProg = ops
		} else {
			m.mc.dataProg = ops
		}
	})
}

// burst writes from 1 to 3 goroutines at once (AsyncWrite, Write in an Execute'd function), each its own
// writer, while the test goroutine may close or abort the connection: the writes may win or lose, but
// what they report decides whether their bytes arrive. With a close, the sequence ends here.
func (m *rcModel) burst() {
	type bop struct {
		kind string
		rec  *rcRec
	}
	k := rapid.IntRange(1, 3).Draw(m.rt, "goroutines")
	closer := rapid.SampledFrom([]string{"", "", "close", "abort"}).Draw(m.rt, "closer")
	open := m.writable()
	quiet := open && closer == ""
	progs := make([][]bop, k)
	for g := range progs {
		w := m.newWriter()
		n := rapid.IntRange(1, 6).Draw(m.rt, "burstLen")
		for j := 0; j < n; j++ {
			op := bop{kind: rapid.SampledFrom([]string{"async", "exec", "yield"}).Draw(m.rt, "burstOp")}
			if op.kind != "yield" {
				op.rec = m.newRec("burst "+op.kind, w)
			}
			progs[g] = append(progs[g], op)
		}
	}
	spins := rapid.IntRange(0, 3).Draw(m.rt, "spins")
	var desc []string
	for _, ops := range progs {
		var ds []string
		for _, op := range ops {
			if op.rec != nil {
				ds = append(ds, fmt.Sprintf("%s#%d", op.kind, op.rec.id))
			} else {
				ds = append(ds, op.kind)
			}
		}
		desc = append(desc, strings.Join(ds, " "))
	}
	m.logf("burst of %d goroutines [%s], closer %q, writable %v", k, strings.Join(desc, " | "), closer, open)
	mc := m.mc
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, ops := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for _, op := range ops {
				r := op.rec
				switch op.kind {
				case "yield":
					runtime.Gosched()
				case "async":
					mc.mu.Lock()
					refuse := mc.writeClosedLocked()
					mc.mu.Unlock()
					err := mc.c.AsyncWrite(r.data, mc.completion(r, nil, nil))
					mc.mu.Lock()
					if err == nil {
						r.attempted, r.async, r.refuse, r.issuedOpen = true, true, refuse, quiet
					} else if !errors.Is(err, eddy.ErrQueueFull) && (!errors.Is(err, eddy.ErrClosed) || quiet) {
						mc.violateLocked("burst AsyncWrite #%d: %v (writable %v)", r.id, err, open)
					}
					mc.mu.Unlock()
				case "exec":
					closeDoneBefore := mc.closeDone.Load()
					err := mc.c.Execute(func(c eddy.Conn) {
						took := mc.enter("Execute function (burst)", false)
						defer mc.exit(took)
						if closeDoneBefore {
							mc.violate("an Execute function ran although a Close or Abort had returned before Execute was called")
						}
						mc.mu.Lock()
						closed := mc.writeClosedLocked()
						mc.mu.Unlock()
						n, err := c.Write(r.data)
						mc.writeDone(r, n, err, closed)
						if quiet && err != nil {
							mc.violate("burst Write #%d in Execute on a writable connection: %v", r.id, err)
						}
					})
					if err == nil {
						mc.get(func() { r.attempted = true })
					} else if !errors.Is(err, eddy.ErrQueueFull) && (!errors.Is(err, eddy.ErrClosed) || quiet) {
						mc.violate("burst Execute #%d: %v (writable %v)", r.id, err, open)
					}
				}
			}
		}()
	}
	close(start)
	for i := 0; i < spins; i++ {
		runtime.Gosched()
	}
	switch closer {
	case "close":
		m.closeOut()
	case "abort":
		m.abortOut()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(rcWait):
		m.fatalf("the burst's goroutines did not finish in %v (an AsyncWrite or Execute blocked?)", rcWait)
	}
	if closer != "" {
		m.ended = true
		return
	}
	m.executeNothing() // after the burst's tasks: its Execute functions ran
}

func (m *rcModel) executeNothing() {
	m.logf("Execute")
	if m.onLoop("nothing", func(eddy.Conn) {}) {
		m.barrier()
	}
}

func (m *rcModel) setPaused(p bool) {
	m.logf("SetReadPaused(%v)", p)
	mc := m.mc
	if m.onLoop("SetReadPaused", func(c eddy.Conn) {
		mc.mu.Lock()
		if !p {
			mc.pausedNow, mc.pauseNext = false, false
		}
		mc.mu.Unlock()
		c.SetReadPaused(p)
		mc.mu.Lock()
		mc.pausedNow = p
		mc.mu.Unlock()
	}) {
		m.barrier()
		m.paused = p
		if !p {
			m.pauseArmed = false
			m.settle()
		}
	}
}

func (m *rcModel) armPause() {
	m.logf("pause in the next OnData")
	mc := m.mc
	if m.onLoop("arm pause", func(eddy.Conn) {
		mc.mu.Lock()
		mc.pauseNext = true
		mc.mu.Unlock()
	}) {
		m.barrier()
		m.pauseArmed = true
	}
}

func (m *rcModel) idle(d time.Duration) {
	m.logf("SetIdleTimeout(%v)", d)
	op := &rcOp{kind: "idle", d: d}
	mc := m.mc
	if m.onLoop("SetIdleTimeout", func(c eddy.Conn) { mc.run(c, []*rcOp{op}) }) {
		m.barrier()
	}
}

func (m *rcModel) markClosing(by string) {
	if !m.closing {
		m.closing = true
		m.closedBy = by
	}
	m.mc.closeDone.Store(true)
}

// closeOut is Close from the test goroutine.
func (m *rcModel) closeOut() {
	m.logf("Close from the test goroutine (closing %v)", m.closing)
	err := m.mc.c.Close()
	if !m.closing && !m.ended && err != nil {
		m.fatalf("Close on an open connection: %v", err)
	}
	if err != nil && !errors.Is(err, eddy.ErrClosed) {
		m.fatalf("Close: %v", err)
	}
	m.markClosing("close")
}

func (m *rcModel) closeLoop() {
	m.logf("Close on the loop (closing %v)", m.closing)
	mc := m.mc
	if m.onLoop("Close", func(c eddy.Conn) { mc.run(c, []*rcOp{{kind: "close"}}) }) {
		m.barrier()
		closed := false
		mc.get(func() { closed = mc.cbClose != "" })
		if !closed {
			m.fatalf("Close on the loop on an open connection failed")
		}
		m.markClosing("close")
	}
}

func (m *rcModel) closeWrite() {
	open := m.writable()
	m.logf("CloseWrite (writable %v)", open)
	mc := m.mc
	if m.onLoop("CloseWrite", func(c eddy.Conn) { mc.run(c, []*rcOp{{kind: "closeWrite"}}) }) {
		m.barrier()
		shut := false
		mc.get(func() { shut = mc.writeShut })
		if open && !shut {
			m.fatalf("CloseWrite on an open connection failed")
		}
		m.writeShut = true
	}
}

// abortOut is Abort from the test goroutine; abortLoop Abort in an Execute'd function. Either way,
// OnClose follows, with the Abort's reason when the connection was open.
func (m *rcModel) abortOut()  { m.abort(false) }
func (m *rcModel) abortLoop() { m.abort(true) }

func (m *rcModel) abort(onLoop bool) {
	m.logf("Abort (on the loop %v, closing %v)", onLoop, m.closing)
	wasClosed := m.closed()
	if onLoop {
		mc := m.mc
		if !m.onLoop("Abort", func(c eddy.Conn) { mc.run(c, []*rcOp{{kind: "abort"}}) }) {
			return
		}
	} else {
		m.mc.c.Abort(errRCAbort)
	}
	switch {
	case !m.closing:
		m.closing, m.closedBy = true, "abort"
	case m.closedBy == "close" || m.closedBy == "peer" || m.closedBy == "idle" || m.closedBy == "stop":
		// A graceful close is under way: the Abort ends it, unless it ended already (OnClose then
		// reports the close's reason).
		m.closedBy = "abort-late:" + m.closedBy
	}
	m.mc.closeDone.Store(true)
	m.waitFor("OnClose after Abort", func() bool { return m.mc.closes > 0 })
	if !wasClosed && m.closedBy == "abort" {
		// OnClose had not run when Abort was called: it reports the Abort's reason (when no reset or
		// idle timeout got there first, which the model does not let happen on an open connection).
		m.mc.get(func() {
			if !errors.Is(m.mc.closeErr, errRCAbort) {
				m.mc.violateLocked("OnClose after Abort (on the loop %v) reported %v", onLoop, m.mc.closeErr)
			}
		})
	}
}

// ---- the peer's actions ----

// settle waits for the engine to act on what the peer sent, when reading is on: every byte in
// OnData (but those it left) and the FIN in OnPeerClosed, or a pause from OnData, or a close from its
// program.
func (m *rcModel) settle() {
	m.syncClosing()
	if m.closing || m.paused {
		return
	}
	cond := func() bool {
		if m.mc.pausedNow || m.mc.closeDone.Load() {
			return true
		}
		return len(m.mc.in)+m.mc.left == len(m.sent) && (!m.clWriteShut || m.mc.peerClosed > 0)
	}
	if m.lowWater > 0 {
		// With small water marks, the engine's back-pressure may hold reading back (the output is
		// above the low water mark, and the peer reads none of it): then the input waits.
		for t0 := time.Now(); time.Since(t0) < rcWait; time.Sleep(20 * rcPeriod) {
			ok := false
			m.mc.get(func() { ok = cond() })
			if ok {
				break
			}
			ob := -1
			done := make(chan struct{})
			if m.mc.c.Execute(func(c eddy.Conn) { ob = c.OutboundBuffered(); close(done) }) == nil {
				select {
				case <-done:
				case <-time.After(rcWait):
				}
			}
			if ob > m.lowWater {
				m.logf("back-pressure: %d bytes of output queued; the input waits", ob)
				return
			}
		}
	}
	m.waitFor("the peer's input in OnData (and its FIN in OnPeerClosed)", cond)
	m.mc.get(func() {
		if m.mc.pausedNow {
			m.paused, m.pauseArmed = true, false
		}
		if !bytes.Equal(m.mc.in, m.sent[:len(m.mc.in)]) {
			m.mc.violateLocked("OnData got bytes that differ from those the peer sent")
		}
	})
	m.syncClosing()
}

func (m *rcModel) send() {
	n := rapid.IntRange(1, 8<<10).Draw(m.rt, "send")
	if !m.paused && !m.pauseArmed && m.lowWater == 0 && rapid.IntRange(0, 4).Draw(m.rt, "bigSend") == 0 {
		n = rapid.IntRange(16<<10, 64<<10).Draw(m.rt, "big")
	}
	if len(m.sent)+n > rcMaxIn {
		n = 1
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = rcInByte(len(m.sent) + i)
	}
	m.logf("peer sends %d bytes (paused %v, armed %v, closing %v)", n, m.paused, m.pauseArmed, m.closing)
	m.cl.SetWriteDeadline(time.Now().Add(rcWait))
	k, err := m.cl.Write(b)
	m.sent = append(m.sent, b[:k]...)
	if err != nil && !m.closing && !m.mc.closeDone.Load() && !m.closed() {
		m.fatalf("the peer's write on an open connection: %v", err)
	}
	if m.paused {
		time.Sleep(rcQuietly)
		return
	}
	m.settle()
}

func (m *rcModel) read() {
	size := rapid.SampledFrom([]int{512, 4 << 10, 64 << 10}).Draw(m.rt, "readSize")
	m.logf("peer reads for a moment, %d bytes at a time", size)
	if m.clErr != nil || m.clReset {
		return
	}
	buf := make([]byte, size)
	m.cl.SetReadDeadline(time.Now().Add(rcQuietly))
	for {
		n, err := m.cl.Read(buf)
		m.clGot = append(m.clGot, buf[:n]...)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				m.clErr = err
			}
			return
		}
	}
}

func (m *rcModel) halfClose() {
	m.logf("peer half-closes (paused %v, closing %v)", m.paused, m.closing)
	if err := m.cl.CloseWrite(); err != nil && !m.closing {
		m.fatalf("the peer's CloseWrite: %v", err)
	}
	m.clWriteShut = true
	if m.paused {
		time.Sleep(rcQuietly)
		return
	}
	m.settle()
}

// peerEnd is the peer's reset (rst), or its close: a FIN, and a reset for what arrives after it.
func (m *rcModel) peerEnd(rst bool) {
	m.logf("peer closes, reset %v (paused %v, closing %v)", rst, m.paused, m.closing)
	m.mc.peerReset.Store(true)
	if rst {
		m.cl.SetLinger(0)
	}
	m.cl.Close()
	m.clReset = true
	if !m.closing {
		m.closedBy = "reset" // the engine's close has not begun: it comes when the engine sees the reset
	}
}

// ---- one check ----

func rcRun(rt *rapid.T, kind eddy.EngineKind) {
	// The engine.
	opts := []eddy.Option{eddy.WithEngine(kind), eddy.WithLoops(rapid.IntRange(1, 2).Draw(rt, "loops"))}
	lowWater := 0
	switch rapid.IntRange(0, 5).Draw(rt, "water") {
	case 0:
		lowWater = 8 << 10
		opts = append(opts, eddy.WithWriteBufferWaterMarks(lowWater, 32<<10))
	case 1:
		lowWater = 2 << 10
		opts = append(opts, eddy.WithWriteBufferWaterMarks(lowWater, 8<<10))
	}
	if n := rapid.SampledFrom([]int{0, 0, 0, 512, 4096}).Draw(rt, "readBuffer"); n > 0 {
		opts = append(opts, eddy.WithReadBufferSize(n))
	}
	if n := rapid.SampledFrom([]int{0, 0, 0, 2, 64}).Draw(rt, "queue"); n > 0 {
		opts = append(opts, eddy.WithTaskQueueCapacity(n))
	}
	if rapid.IntRange(0, 3).Draw(rt, "engineIdle") == 0 {
		opts = append(opts, eddy.WithIdleTimeout(time.Hour))
	}
	mc := &rcConn{byWriter: map[int][]*rcRec{}, rng: rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "inputSeed"), 1))}
	h := &rcHandler{conns: map[string]*rcConn{}, newConn: func() *rcConn { return mc }}
	e, err := eddy.New(h, loopback, opts...)
	if err != nil {
		rt.Fatalf("New: %v", err)
	}
	if err := e.Start(); err != nil {
		rt.Fatalf("Start: %v", err)
	}
	var stopped atomic.Bool
	stop := func() error {
		if stopped.Swap(true) {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*rcWait)
		defer cancel()
		return e.Stop(ctx)
	}
	rt.Cleanup(func() { stop() })

	m := &rcModel{rt: rt, kind: kind, e: e, mc: mc, lowWater: lowWater}
	mc.keepWriting.Store(rapid.Bool().Draw(rt, "keepWriting"))
	openProg := m.drawProg("open", 0, []string{"closeWrite"}, nil)
	closingProg := m.drawProg("closing", 0, []string{"abort"}, nil)
	h.mu.Lock()
	h.openProg = openProg
	h.mu.Unlock()
	mc.get(func() { mc.closingProg = closingProg })
	m.logf("%s: %d options; keepWriting %v, OnOpen %v, OnClosing %v", kind, len(opts), mc.keepWriting.Load(), openProg, closingProg)

	d := net.Dialer{Timeout: rcWait}
	nc, err := d.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		rt.Fatalf("dial: %v", err)
	}
	cl := nc.(*net.TCPConn)
	m.cl = cl
	rt.Cleanup(func() { cl.SetLinger(0); cl.Close() })
	if rapid.Bool().Draw(rt, "smallRcvBuf") {
		cl.SetReadBuffer(4 << 10)
	}
	deadline := time.Now().Add(rcWait)
	for opened := false; !opened; {
		h.mu.Lock()
		opened = h.conns[cl.LocalAddr().String()] != nil
		h.mu.Unlock()
		if !opened {
			if time.Now().After(deadline) {
				rt.Fatalf("no OnOpen for %v", cl.LocalAddr())
			}
			time.Sleep(rcPeriod)
		}
	}
	rt.Cleanup(func() { mc.c.Abort(errRCAbort) })

	steps := rapid.IntRange(1, 24).Draw(rt, "steps")
	for i := 0; i < steps && !m.clReset && !m.ended; i++ {
		m.syncClosing()
		m.before = m.nextID
		acts := []string{"write", "writev", "asyncLoop", "asyncOut", "flushed", "execute", "read", "idleLong", "idleOff", "prog", "prog", "burst", "armData"}
		if !m.paused {
			acts = append(acts, "pause")
			if !m.pauseArmed {
				acts = append(acts, "armPause")
			}
		} else {
			acts = append(acts, "resume")
		}
		if !m.clWriteShut {
			acts = append(acts, "send", "send", "halfClose", "armPeer")
		}
		acts = append(acts, "closeOut", "closeLoop", "closeWrite", "abortOut", "abortLoop", "reset", "peerClose", "idleShort", "writeFlushedClose", "asyncThenClose", "writeFlushedCloseWrite", "asyncEmpty")
		switch a := rapid.SampledFrom(acts).Draw(rt, "action"); a {
		case "write":
			m.loopWrite(false)
		case "writev":
			m.loopWrite(true)
		case "asyncLoop":
			m.asyncLoop()
		case "asyncOut":
			m.asyncOut()
		case "flushed":
			m.flushed()
		case "execute":
			m.executeNothing()
		case "prog":
			m.prog()
		case "armData":
			m.armProg(false)
		case "armPeer":
			m.armProg(true)
		case "burst":
			m.burst()
		case "read":
			m.read()
		case "idleLong":
			m.idle(time.Hour)
		case "idleOff":
			m.idle(0)
		case "pause":
			m.setPaused(true)
		case "resume":
			m.setPaused(false)
		case "armPause":
			m.armPause()
		case "send":
			m.send()
		case "halfClose":
			m.halfClose()
		case "closeOut":
			m.closeOut()
		case "closeLoop":
			m.closeLoop()
		case "closeWrite":
			m.closeWrite()
		case "abortOut":
			m.abortOut()
		case "abortLoop":
			m.abortLoop()
		case "reset":
			m.peerEnd(true)
		case "peerClose":
			m.peerEnd(false)
		case "writeFlushedClose":
			m.writeFlushedClose(false)
		case "writeFlushedCloseWrite":
			m.writeFlushedClose(true)
		case "asyncEmpty":
			m.asyncEmpty()
		case "asyncThenClose":
			m.asyncThenClose()
		case "idleShort":
			m.idle(50 * time.Millisecond)
			if !m.closing {
				m.closing, m.closedBy = true, "idle"
			}
			m.ended = true // the close comes when it comes: end here
		}
	}
	m.finish(stop)
	if err := stop(); err != nil {
		m.fatalf("Stop: %v", err)
	}
	m.check()
}

// finish ends the connection (gracefully, unless the sequence did otherwise: Close, Abort, or the
// engine's Stop), reads the client's stream to its end and checks everything against the model.
func (m *rcModel) finish(stop func() error) {
	m.syncClosing()
	m.before = m.nextID
	var stopErr chan error
	if m.ended && !m.closing {
		m.closeOut() // a program closes it, or will: this Close may come first
	} else if !m.closing && !m.clReset {
		switch rapid.SampledFrom([]string{"close", "abort", "stop"}).Draw(m.rt, "finish") {
		case "close":
			m.closeOut()
		case "abort":
			m.abortOut()
		case "stop":
			m.logf("Stop")
			m.closing, m.closedBy = true, "stop"
			stopErr = make(chan error, 1)
			go func() { stopErr <- stop() }()
		}
	}
	if m.clReset && m.paused && !m.closed() {
		// A paused connection does not act on the reset: resume it so that it sees it. A pause still
		// armed for the next OnData is dropped too: the resume's OnData (the input sent before the
		// reset) paused again, and the reset went unseen (seed 15899317789697456772, epoll and uring).
		m.onLoop("SetReadPaused(false) after the reset", func(c eddy.Conn) {
			m.mc.get(func() { m.mc.pausedNow, m.mc.pauseNext = false, false })
			c.SetReadPaused(false)
		})
		m.pauseArmed = false
	}
	if m.clReset && !m.closed() {
		// The engine acts on the reset (OnClose), or on the FIN before it: wait for one of them (after
		// a resume, the engine may not have read either yet).
		kw := false
		m.waitFor("OnClose or OnPeerClosed after the reset", func() bool {
			kw = m.mc.peerClosed > 0 && m.mc.keepWriting.Load()
			return m.mc.closes > 0 || kw || m.mc.closeDone.Load()
		})
		m.syncClosing()
		if !m.closed() {
			// After OnPeerClosed kept the connection open, the engine reads no more: the reset goes
			// unnoticed until a write fails. Close it.
			m.closeOut()
		}
	}
	// The peer reads to the end.
	if !m.clReset && m.clErr == nil {
		buf := make([]byte, 64<<10)
		m.cl.SetReadDeadline(time.Now().Add(3 * rcWait))
		for {
			n, err := m.cl.Read(buf)
			m.clGot = append(m.clGot, buf[:n]...)
			if err != nil {
				m.clErr = err
				break
			}
		}
		var ne net.Error
		if errors.As(m.clErr, &ne) && ne.Timeout() {
			m.fatalf("the peer read no end of the stream in %v (closed by %s, OnClose ran: %v)", 3*rcWait, m.closedBy, m.closed())
		}
	}
	t0 := time.Now()
	for !m.closed() {
		if time.Since(t0) > 3*rcWait {
			m.fatalf("no OnClose in %v (closed by %s)", 3*rcWait, m.closedBy)
		}
		time.Sleep(rcPeriod)
	}
	if d := time.Since(t0); d > rcWait {
		m.fatalf("OnClose came %v after the peer's end (closed by %s, OnClose(%v))", d, m.closedBy, m.mc.closeErr)
	}
	if stopErr != nil {
		if err := <-stopErr; err != nil {
			m.fatalf("Stop with the connection open: %v", err)
		}
	}
	m.waitFor("every completion callback", func() bool {
		for _, r := range append(m.recs, m.flushes...) {
			if r.async && r.cbs == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(rcQuietly) // for a second OnClose or callback to show
}

func (m *rcModel) check() {
	mc := m.mc
	mc.mu.Lock()
	defer mc.mu.Unlock()
	fail := func(format string, args ...any) {
		m.rt.Fatalf("%s: %s (closed by %s, OnClose(%v), peer's end %v, violations %q)", m.kind, fmt.Sprintf(format, args...), m.closedBy, mc.closeErr, m.clErr, mc.violations)
	}
	if len(mc.violations) > 0 {
		fail("contract violated")
	}
	// The input.
	if len(mc.in) > len(m.sent) || !bytes.Equal(mc.in, m.sent[:len(mc.in)]) {
		fail("OnData got %d bytes that are not a prefix of the %d the peer sent", len(mc.in), len(m.sent))
	}
	// OnClose's reason (a callback's Abort before OnClose decides it: checked in OnClose).
	by := m.closedBy
	if late, ok := strings.CutPrefix(by, "abort-late:"); ok {
		if errors.Is(mc.closeErr, errRCAbort) {
			by = "abort"
		} else {
			by = late
		}
	}
	if m.clReset && by != "abort" {
		by = "reset" // the reset may end a graceful close, or go unnoticed: any reason
	}
	if mc.cbAborted {
		by = "abort"
	}
	switch by {
	case "close":
		if mc.closeErr != nil {
			fail("OnClose after the handler's Close reported %v", mc.closeErr)
		}
	case "peer":
		if mc.closeErr != io.EOF {
			fail("OnClose after the peer's FIN reported %v", mc.closeErr)
		}
	case "idle", "stop":
		want := map[string]error{"idle": eddy.ErrIdleTimeout, "stop": eddy.ErrEngineStopped}[by]
		if !errors.Is(mc.closeErr, want) {
			fail("OnClose after the %s reported %v", by, mc.closeErr)
		}
		if mc.closings != 1 || mc.closingErr != want {
			fail("OnClosing ran %d times (%v) before a close by %s", mc.closings, mc.closingErr, by)
		}
	case "abort":
		if !errors.Is(mc.closeErr, errRCAbort) {
			fail("OnClose after Abort reported %v", mc.closeErr)
		}
	case "reset":
		// Any reason: the engine may not have read the reset before the handler's close (a
		// connection that keeps writing after the peer's FIN reads no more).
	default:
		fail("the connection was closed by something the model did not do")
	}
	if (by == "close" || by == "peer") && mc.closings != 0 {
		fail("OnClosing(%v) before a close by %s", mc.closingErr, by)
	}
	// The output.
	byID := map[uint32]*rcRec{}
	for _, r := range m.recs {
		byID[r.id] = r
		if r.async && r.cbs != 1 {
			fail("%s #%d: callback ran %d times", r.how, r.id, r.cbs)
		}
	}
	for _, f := range m.flushes {
		if f.async && f.cbs != 1 {
			fail("%s #%d: callback ran %d times", f.how, f.id, f.cbs)
		}
	}
	graceful := (m.closedBy == "close" || m.closedBy == "peer" || m.closedBy == "idle" || m.closedBy == "stop") && !m.clReset && !mc.cbAborted
	b := m.clGot
	seen := map[uint32]bool{}
	last := map[int]*rcRec{} // per writer
	partial := false
	for off := 0; off < len(b); {
		if len(b)-off < rcHdr {
			partial = true
			break
		}
		if b[off] != rcMagic {
			fail("bad magic at offset %d of %d", off, len(b))
		}
		id := binary.BigEndian.Uint32(b[off+1:])
		n := int(binary.BigEndian.Uint32(b[off+5:]))
		r := byID[id]
		if r == nil || len(r.data) != rcHdr+n {
			fail("unknown record %d (length %d) at offset %d", id, n, off)
		}
		end := off + rcHdr + n
		if end > len(b) {
			end = len(b)
			partial = true
		}
		if !bytes.Equal(b[off:end], r.data[:end-off]) {
			fail("record %d corrupt at offset %d", id, off)
		}
		if !partial && !r.accepted {
			fail("%s #%d arrived whole but was not accepted (attempted %v, callback %d: %v)", r.how, id, r.attempted, r.cbs, r.cbErr)
		}
		// In its writer's order, none of the writer's accepted records missing before it.
		prev := last[r.writer]
		if prev != nil && id <= prev.id {
			fail("record %d arrived after record %d of its writer %d", id, prev.id, r.writer)
		}
		for _, q := range mc.byWriter[r.writer] {
			if q.id >= id {
				break
			}
			if (prev == nil || q.id > prev.id) && q.accepted {
				fail("%s #%d was accepted but is missing before record %d of its writer %d", q.how, q.id, id, r.writer)
			}
		}
		last[r.writer] = r
		seen[id] = true
		off = end
	}
	if graceful {
		if m.clErr != io.EOF {
			fail("a graceful end, but the peer read %v", m.clErr)
		}
		if partial {
			fail("a graceful end, but the stream ends in the middle of a record")
		}
		for _, r := range m.recs {
			if !seen[r.id] && r.accepted {
				fail("%s #%d was accepted but never arrived (graceful end)", r.how, r.id)
			}
			if r.mustSucceed && !r.accepted {
				fail("%s #%d should have been sent, but %v (callback %d)", r.how, r.id, r.cbErr, r.cbs)
			}
		}
		for _, f := range m.flushes {
			if f.mustSucceed && f.cbErr != nil {
				fail("%s #%d, registered on a writable connection, reported %v on a graceful end", f.how, f.id, f.cbErr)
			}
		}
	}
}

// rcFDs counts the process's open descriptors.
func rcFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestConnModel(t *testing.T) {
	checks := *rcChecks
	if testing.Short() {
		checks /= 5
	}
	if checks > 0 {
		old := flag.Lookup("rapid.checks").Value.String()
		flag.Set("rapid.checks", strconv.Itoa(checks))
		t.Cleanup(func() { flag.Set("rapid.checks", old) })
	}
	ignore := goleak.IgnoreCurrent()
	fds0 := rcFDs(t)
	// The engines run side by side: the checks mostly wait (for a callback, or to see that nothing
	// comes), so this takes as long as the slowest engine instead of the sum (CI time). Their
	// servers and clients are their own; what the process holds is checked once all have ended.
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		// Nothing left behind by the checks: descriptors (lingering sockets end with Stop), goroutines.
		for deadline := time.Now().Add(rcWait); rcFDs(t) > fds0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if n := rcFDs(t); n > fds0 {
			t.Errorf("%d descriptors open after the checks, %d before", n, fds0)
		}
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutines left: %v", err)
		}
	})
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		rapid.Check(t, func(rt *rapid.T) { rcRun(rt, kind) })
	})
}

// ---- findings, reproduced deterministically ----

// rcCloseFINHandler blocks its first OnData (or the test's Execute'd function) until release is closed, and records OnPeerClosed and
// OnClose.
type rcCloseFINHandler struct {
	opened     chan eddy.Conn
	inData     chan struct{}
	release    chan struct{}
	peerClosed atomic.Int32
	closed     chan error
	once       sync.Once
}

func (h *rcCloseFINHandler) OnOpen(c eddy.Conn) { h.opened <- c }
func (h *rcCloseFINHandler) OnData(c eddy.Conn) {
	c.Next(-1)
	h.once.Do(func() {
		close(h.inData)
		<-h.release
	})
}
func (h *rcCloseFINHandler) OnPeerClosed(eddy.Conn) bool    { h.peerClosed.Add(1); return false }
func (h *rcCloseFINHandler) OnClose(_ eddy.Conn, err error) { h.closed <- err }

// TestCloseThenPeerFIN: the handler's Close from another goroutine returned before the peer
// half-closed, but the loop saw the FIN before it ran the Close's task. OnClose must report nil (a close
// the handler asked for), and OnPeerClosed must not run on a connection whose Close had returned. uring
// acted on the FIN (OnPeerClosed, then a close with io.EOF) while the Close's task waited in the queue;
// epoll reads nothing once Close was called.
func TestCloseThenPeerFIN(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for round := 0; round < 5; round++ {
			h := &rcCloseFINHandler{opened: make(chan eddy.Conn, 1), inData: make(chan struct{}), release: make(chan struct{}), closed: make(chan error, 2)}
			srv := startServer(t, kind, h, eddy.WithLoops(1))
			cl := srv.dial(t)
			c := <-h.opened
			if round%2 == 0 {
				// The loop is held in OnData (the reaping of completions, on uring)...
				if _, err := cl.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
			} else {
				// ... or in an Execute'd function (the running of tasks: the Close's task, queued
				// meanwhile, waits for the next batch, behind that iteration's completions).
				if err := c.Execute(func(eddy.Conn) {
					h.once.Do(func() {
						close(h.inData)
						<-h.release
					})
				}); err != nil {
					t.Fatal(err)
				}
			}
			<-h.inData
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := cl.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // the FIN reaches the server's socket while OnData holds the loop
			close(h.release)
			select {
			case err := <-h.closed:
				if err != nil {
					t.Fatalf("round %d: OnClose after the handler's Close (then the peer's FIN) reported %v, want nil", round, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose")
			}
			if n := h.peerClosed.Load(); n != 0 {
				t.Fatalf("round %d: OnPeerClosed ran %d times after the handler's Close had returned", round, n)
			}
			cl.SetReadDeadline(time.Now().Add(10 * time.Second))
			if b, err := io.ReadAll(cl); err != nil || len(b) != 0 {
				t.Fatalf("the peer read %q, %v; want a clean EOF", b, err)
			}
		}
	})
}

package eddy_test

// A stateful property test (pgregory.net/rapid) of the Conn contract on every engine, step by step.
//
// Unlike TestConnContractModel (conformance_model_test.go), which runs random programs concurrently
// and checks what it can, this test drives one connection at a time through a sequence of actions drawn
// by rapid, each of which completes (or is known not to) before the next one starts, so that the
// model knows the state of the connection at every step and rapid can shrink a failure to a minimal
// sequence. The actions are the server's (run on the loop through Execute, one operation per Execute,
// unless they are safe from any goroutine): Write, Writev, AsyncWrite from the loop and from the test
// goroutine, Flushed, Execute, SetReadPaused, a pause from inside OnData, SetIdleTimeout (long, off,
// or short and then waited for), Close (loop or outside), CloseWrite, Abort (loop or outside); and the
// peer's, a real net.TCPConn: send, read for a moment, half-close, reset.
//
// The model's rules:
//   - the client's stream is a sequence of tagged records in the order they were issued; a record appears
//     only if its Write returned its length or its AsyncWrite's callback reported nil, except that the
//     last one may be cut short (a reset); no record is skipped; on a graceful end (Close, CloseWrite,
//     the peer's FIN, the idle timeout: no Abort, no reset) the client reads every accepted record and
//     then a clean EOF;
//   - a Write on the loop returns its length on an open connection, ErrClosed after Close, Abort or
//     CloseWrite; an AsyncWrite from the loop on an open connection succeeds, and one from the test
//     goroutine succeeds when a later Execute ran before any close;
//   - every AsyncWrite and Flushed callback runs exactly once, and none reports success after OnClose;
//   - OnOpen and OnClose once each; no callback after OnClose (but failing completion callbacks), no
//     two at once, no OnData after the handler's Close or Abort returned, no Execute function after a
//     Close or Abort returned or the engine started closing, an Execute function on an open connection
//     runs;
//   - while reading is paused, no OnData and no OnPeerClosed; otherwise the peer's bytes reach OnData,
//     all of them, in order, and its FIN OnPeerClosed; a paused-and-resumed connection loses nothing;
//   - OnClose's reason: nil for the handler's Close, io.EOF for the peer's FIN, ErrIdleTimeout, the
//     Abort's reason; something non-nil after a reset.
//
// go test -race -count=1 -run TestConnModel .    (40 checks per engine; 8 with -short; the
// back-pressure variant half that)
// -eddy.rapidconn.checks=N sets the number of checks per engine (rapid's own -rapid.checks is ignored
// unless that is 0); -rapid.seed=S reproduces a run. The interleavings are the machine's: a failure that
// depends on one (a task and a completion in the same loop iteration) may not shrink, and rapid then
// calls it flaky; its first sequence is logged all the same.
//
// Found (session 28): uring acted on the peer's FIN after the handler's Close had returned (from
// another goroutine) but before the Close's task ran: OnPeerClosed after Close, and OnClose reporting
// io.EOF instead of nil (TestCloseThenPeerFIN; fixed in connCore.onEOF).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	rcMaxIn   = 64 << 10
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

// ---- the handler ----

type rcConn struct {
	c           eddy.Conn
	keepWriting atomic.Bool
	closeDone   atomic.Bool // the handler's Close or Abort returned
	peerReset   atomic.Bool // the peer reset the connection: a failed write ends a pause (Conn.SetReadPaused)

	mu          sync.Mutex
	violations  []string
	in          []byte
	dataCalls   int
	peerClosed  int
	closes      int
	closeErr    error
	inCallback  bool
	pausedNow   bool // the handler paused reading (loop state, kept under mu)
	pauseNext   bool // the next OnData pauses
	writeShut   bool // CloseWrite returned
	closingSeen bool // Close or Abort returned, or OnPeerClosed let the engine close
}

func (mc *rcConn) violate(format string, args ...any) {
	mc.mu.Lock()
	mc.violations = append(mc.violations, fmt.Sprintf(format, args...))
	mc.mu.Unlock()
}

// enter marks a top-level callback's start; mu is held on return.
func (mc *rcConn) enter(what string) {
	mc.mu.Lock()
	if mc.inCallback {
		mc.violations = append(mc.violations, what+" ran while another callback of the connection was running")
	}
	if mc.closes > 0 {
		mc.violations = append(mc.violations, what+" ran after OnClose")
	}
	mc.inCallback = true
}

func (mc *rcConn) leave() {
	mc.inCallback = false
	mc.mu.Unlock()
}

func (mc *rcConn) get(f func()) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	f()
}

type rcHandler struct {
	mu    sync.Mutex
	conns map[string]*rcConn
}

func (h *rcHandler) OnOpen(c eddy.Conn) {
	mc := &rcConn{c: c}
	c.SetContext(mc)
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
	mc.enter("OnData")
	defer mc.leave()
	if closeDone {
		mc.violations = append(mc.violations, "OnData after the handler's Close or Abort returned")
	}
	if mc.pausedNow && !mc.peerReset.Load() {
		mc.violations = append(mc.violations, "OnData while reading was paused")
	}
	b, err := c.Next(-1)
	if err != nil {
		mc.violations = append(mc.violations, "OnData: Next(-1): "+err.Error())
	}
	mc.in = append(mc.in, b...)
	mc.dataCalls++
	if mc.pauseNext {
		mc.pauseNext = false
		mc.pausedNow = true
		c.SetReadPaused(true)
	}
}

func (h *rcHandler) OnPeerClosed(c eddy.Conn) bool {
	mc := c.Context().(*rcConn)
	mc.enter("OnPeerClosed")
	defer mc.leave()
	if mc.pausedNow && !mc.peerReset.Load() {
		mc.violations = append(mc.violations, "OnPeerClosed while reading was paused")
	}
	mc.peerClosed++
	if mc.peerClosed > 1 {
		mc.violations = append(mc.violations, "OnPeerClosed twice")
	}
	kw := mc.keepWriting.Load()
	if !kw {
		mc.closingSeen = true
	}
	return kw
}

func (h *rcHandler) OnClose(c eddy.Conn, err error) {
	mc := c.Context().(*rcConn)
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.inCallback {
		mc.violations = append(mc.violations, "OnClose ran while another callback of the connection was running")
	}
	mc.closes++
	if mc.closes > 1 {
		mc.violations = append(mc.violations, fmt.Sprintf("OnClose ran %d times (%v, then %v)", mc.closes, mc.closeErr, err))
		return
	}
	mc.closeErr = err
	if n := c.Buffered(); n != 0 {
		mc.violations = append(mc.violations, fmt.Sprintf("Buffered() = %d in OnClose", n))
	}
	if _, werr := c.Write([]byte("x")); !errors.Is(werr, eddy.ErrClosed) {
		mc.violations = append(mc.violations, fmt.Sprintf("Write in OnClose: %v, want ErrClosed", werr))
	}
}

// ---- the model ----

type rcRec struct {
	id   uint32
	data []byte
	how  string

	// under the connection's mu:
	attempted   bool // the write was made (an Execute that ran it, an AsyncWrite call)
	accepted    bool // Write returned its length, or the callback reported nil
	async       bool // a callback is due (AsyncWrite returned nil)
	cbs         int
	cbErr       error
	mustSucceed bool   // the model says it cannot fail on a graceful end
	issuedOpen  bool   // an outside AsyncWrite issued on an open, writable connection
	before      uint32 // AsyncWrite(nil): the records issued before it
}

type rcModel struct {
	rt   *rapid.T
	kind eddy.EngineKind
	mc   *rcConn
	cl   *net.TCPConn

	nextID      uint32
	before      uint32 // the first record of the current action: a barrier covers those before it
	lowWater    int    // the engine's low water mark, when the test set small ones (0: the default)
	recs        []*rcRec
	flushes     []*rcRec // Flushed callbacks: cbs and cbErr only
	outBytes    int
	closing     bool   // a close began (handler's, engine's) or OnClose ran
	closedBy    string // what began it: "close", "abort", "peer", "idle", "reset"
	writeShut   bool
	paused      bool
	pauseArmed  bool
	sent        []byte
	clWriteShut bool
	clReset     bool
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

// syncClosing folds in what the handler saw: a close the engine began, OnClose.
func (m *rcModel) syncClosing() {
	m.mc.get(func() {
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

// onLoop runs fn on the connection's loop through Execute and waits for it, when the connection is open;
// on a closing one it checks that fn is skipped. It reports whether fn ran.
func (m *rcModel) onLoop(what string, fn func(c eddy.Conn)) bool {
	m.rt.Helper()
	closing := m.closing
	done := make(chan struct{})
	mc := m.mc
	err := mc.c.Execute(func(c eddy.Conn) {
		mc.mu.Lock()
		if mc.inCallback {
			mc.violations = append(mc.violations, "Execute("+what+") ran while another callback of the connection was running")
		}
		if mc.closes > 0 {
			mc.violations = append(mc.violations, "Execute("+what+") ran after OnClose")
		}
		if closing {
			mc.violations = append(mc.violations, "Execute("+what+") ran on a connection whose close had begun before Execute was called")
		}
		mc.mu.Unlock()
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

func (m *rcModel) newRec(how string) *rcRec {
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
	r := &rcRec{id: m.nextID, data: rcRecord(m.nextID, n), how: how}
	m.nextID++
	m.recs = append(m.recs, r)
	return r
}

// asyncCB is the completion callback of r.
func (m *rcModel) asyncCB(r *rcRec) func(eddy.Conn, error) {
	mc := m.mc
	return func(_ eddy.Conn, err error) {
		mc.mu.Lock()
		defer mc.mu.Unlock()
		r.cbs++
		if r.cbs > 1 {
			mc.violations = append(mc.violations, fmt.Sprintf("%s #%d: callback ran %d times (%v, then %v)", r.how, r.id, r.cbs, r.cbErr, err))
			return
		}
		r.cbErr = err
		r.accepted = err == nil && len(r.data) > 0
		if err == nil && mc.closes > 0 {
			mc.violations = append(mc.violations, fmt.Sprintf("%s #%d: callback reported success after OnClose", r.how, r.id))
		}
	}
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

func (m *rcModel) write() {
	r := m.newRec("Write")
	open := m.writable()
	m.logf("Write #%d (%d bytes), writable %v", r.id, len(r.data), open)
	mc := m.mc
	ran := m.onLoop("Write", func(c eddy.Conn) {
		n, err := c.Write(r.data)
		mc.mu.Lock()
		defer mc.mu.Unlock()
		r.attempted = true
		if err == nil && n == len(r.data) {
			r.accepted = true
		}
		if open && (err != nil || n != len(r.data)) {
			mc.violations = append(mc.violations, fmt.Sprintf("Write #%d on a writable connection: %d, %v", r.id, n, err))
		}
		if !open && !errors.Is(err, eddy.ErrClosed) {
			mc.violations = append(mc.violations, fmt.Sprintf("Write #%d after a close or CloseWrite: %d, %v; want ErrClosed", r.id, n, err))
		}
	})
	if ran {
		m.barrier()
		m.mc.get(func() { r.mustSucceed = open })
	}
}

func (m *rcModel) writev() {
	r := m.newRec("Writev")
	k := rapid.IntRange(1, 4).Draw(m.rt, "pieces")
	var bs [][]byte
	rest := r.data
	for i := 0; i < k-1 && len(rest) > 0; i++ {
		cut := rapid.IntRange(0, len(rest)).Draw(m.rt, "cut")
		bs = append(bs, rest[:cut])
		rest = rest[cut:]
	}
	bs = append(bs, rest)
	open := m.writable()
	m.logf("Writev #%d (%d bytes in %d slices), writable %v", r.id, len(r.data), len(bs), open)
	mc := m.mc
	ran := m.onLoop("Writev", func(c eddy.Conn) {
		n, err := c.Writev(bs)
		mc.mu.Lock()
		defer mc.mu.Unlock()
		r.attempted = true
		if err == nil && n == len(r.data) {
			r.accepted = true
		}
		if open && (err != nil || n != len(r.data)) {
			mc.violations = append(mc.violations, fmt.Sprintf("Writev #%d on a writable connection: %d, %v", r.id, n, err))
		}
		if !open && !errors.Is(err, eddy.ErrClosed) {
			mc.violations = append(mc.violations, fmt.Sprintf("Writev #%d after a close or CloseWrite: %d, %v; want ErrClosed", r.id, n, err))
		}
	})
	if ran {
		m.barrier()
		m.mc.get(func() { r.mustSucceed = open })
	}
}

func (m *rcModel) asyncLoop() {
	r := m.newRec("AsyncWrite(loop)")
	open := m.writable()
	m.logf("AsyncWrite from the loop #%d (%d bytes), writable %v", r.id, len(r.data), open)
	mc := m.mc
	cb := m.asyncCB(r)
	ran := m.onLoop("AsyncWrite", func(c eddy.Conn) {
		err := c.AsyncWrite(r.data, cb)
		mc.mu.Lock()
		defer mc.mu.Unlock()
		r.attempted = true
		if err == nil {
			r.async = true
			r.issuedOpen = open // its task, queued, accepts it; a Close from outside before that refuses it
		} else if !errors.Is(err, eddy.ErrClosed) || open {
			mc.violations = append(mc.violations, fmt.Sprintf("AsyncWrite #%d from the loop (writable %v): %v", r.id, open, err))
		}
	})
	if ran {
		m.barrier()
	}
}

func (m *rcModel) asyncOut() {
	r := m.newRec("AsyncWrite(outside)")
	open := m.writable()
	m.logf("AsyncWrite from the test goroutine #%d (%d bytes), writable %v", r.id, len(r.data), open)
	m.mc.mu.Lock()
	r.attempted = true
	m.mc.mu.Unlock()
	err := m.mc.c.AsyncWrite(r.data, m.asyncCB(r))
	m.mc.get(func() {
		if err == nil {
			r.async = true
			r.issuedOpen = open
		}
	})
	if err != nil && (!errors.Is(err, eddy.ErrClosed) || (open && !m.closed())) {
		m.fatalf("AsyncWrite #%d from outside on an open connection: %v", r.id, err)
	}
}

func (m *rcModel) flushed() {
	f := &rcRec{id: uint32(len(m.flushes)), how: "Flushed"}
	m.flushes = append(m.flushes, f)
	open := m.writable()
	m.logf("Flushed #%d, writable %v", f.id, open)
	mc := m.mc
	cb := m.asyncCB(f)
	if m.onLoop("Flushed", func(c eddy.Conn) {
		mc.mu.Lock()
		f.attempted, f.async = true, true
		mc.mu.Unlock()
		c.Flushed(cb)
	}) {
		m.barrier()
		m.mc.get(func() { f.mustSucceed = open })
	}
}

// writeFlushedClose writes, registers a Flushed callback and closes in one callback: the bytes arrive,
// then EOF, and the callback reports nil (a Close made after Flushed does not fail it).
func (m *rcModel) writeFlushedClose(closeWrite bool) {
	what := "Close"
	if closeWrite {
		what = "CloseWrite"
	}
	r := m.newRec("Write+Flushed+" + what)
	f := &rcRec{id: uint32(len(m.flushes)), how: "Flushed(then " + what + ")"}
	m.flushes = append(m.flushes, f)
	open := m.writable()
	closing := m.closing
	m.logf("Write #%d (%d bytes), Flushed #%d, %s, in one Execute; writable %v", r.id, len(r.data), f.id, what, open)
	mc := m.mc
	cb := m.asyncCB(f)
	var cerr error
	if m.onLoop("Write+Flushed+"+what, func(c eddy.Conn) {
		n, err := c.Write(r.data)
		c.Flushed(cb)
		if closeWrite {
			cerr = c.CloseWrite()
		} else {
			cerr = c.Close()
		}
		mc.mu.Lock()
		defer mc.mu.Unlock()
		r.attempted, f.attempted, f.async = true, true, true
		r.accepted = err == nil && n == len(r.data)
		if open && !r.accepted {
			mc.violations = append(mc.violations, fmt.Sprintf("Write #%d on a writable connection: %d, %v", r.id, n, err))
		}
	}) {
		m.barrier()
		m.mc.get(func() { r.mustSucceed, f.mustSucceed = open, open })
		if open && cerr != nil {
			m.fatalf("%s on an open connection: %v", what, cerr)
		}
		if closeWrite {
			m.writeShut = true
		} else {
			if !closing && cerr != nil {
				m.fatalf("Close on an open connection: %v", cerr)
			}
			m.markClosing("close")
		}
	}
}

// asyncEmpty is AsyncWrite(nil) from the test goroutine: its callback runs once the output queued
// before it is out (nil on a graceful end, when it was accepted).
func (m *rcModel) asyncEmpty() {
	f := &rcRec{id: uint32(len(m.flushes)), how: "AsyncWrite(nil)"}
	m.flushes = append(m.flushes, f)
	f.before = m.nextID
	open := m.writable()
	m.logf("AsyncWrite(nil) from the test goroutine #%d, writable %v", f.id, open)
	m.mc.get(func() { f.attempted = true })
	err := m.mc.c.AsyncWrite(nil, m.asyncCB(f))
	m.mc.get(func() {
		if err == nil {
			f.async = true
			f.issuedOpen = open
		}
	})
	if err != nil && (!errors.Is(err, eddy.ErrClosed) || (open && !m.closed())) {
		m.fatalf("AsyncWrite(nil) from outside on an open connection: %v", err)
	}
}

// raceClose writes from another goroutine (AsyncWrite, or Write in an Execute'd function) while the test
// goroutine closes: the write may win or lose, but what it reports decides whether its bytes arrive (a
// Write that returned its length, a callback that reported nil: before the EOF; otherwise never). The
// sequence ends here.
func (m *rcModel) raceClose() {
	viaExecute := rapid.Bool().Draw(m.rt, "viaExecute")
	spins := rapid.IntRange(0, 3).Draw(m.rt, "spins")
	r := m.newRec("racing write")
	m.logf("racing write #%d (%d bytes, Execute %v) against Close, writable %v", r.id, len(r.data), viaExecute, m.writable())
	mc := m.mc
	start := make(chan struct{})
	issued := make(chan struct{})
	go func() {
		<-start
		for i := 0; i < spins; i++ {
			runtime.Gosched()
		}
		mc.get(func() { r.attempted = true })
		if viaExecute {
			mc.c.Execute(func(c eddy.Conn) {
				n, err := c.Write(r.data)
				mc.get(func() { r.accepted = err == nil && n == len(r.data) })
			})
		} else if err := mc.c.AsyncWrite(r.data, m.asyncCB(r)); err == nil {
			mc.get(func() { r.async = true })
		}
		close(issued)
	}()
	close(start)
	err := mc.c.Close()
	if !m.closing && err != nil {
		m.fatalf("Close on an open connection: %v", err)
	}
	m.markClosing("close")
	<-issued
}

// asyncThenClose is the documented way to send and then close from another goroutine: AsyncWrite, and
// Close in its callback. The close comes when it comes: the sequence ends here.
func (m *rcModel) asyncThenClose() {
	r := m.newRec("AsyncWrite(then Close)")
	open := m.writable()
	m.logf("AsyncWrite from the test goroutine #%d (%d bytes), Close in its callback; writable %v", r.id, len(r.data), open)
	inner := m.asyncCB(r)
	mc := m.mc
	m.mc.get(func() { r.attempted = true })
	err := m.mc.c.AsyncWrite(r.data, func(c eddy.Conn, err error) {
		inner(c, err)
		if err == nil {
			if cerr := c.Close(); cerr != nil {
				mc.violate("Close in the callback of a successful AsyncWrite: %v", cerr)
			}
			mc.closeDone.Store(true)
		}
	})
	m.mc.get(func() {
		if err == nil {
			r.async = true
			r.issuedOpen = open
			r.mustSucceed = open // nothing else closes it
		}
	})
	if err != nil && (!errors.Is(err, eddy.ErrClosed) || (open && !m.closed())) {
		m.fatalf("AsyncWrite #%d from outside on an open connection: %v", r.id, err)
	}
	if err == nil && open && !m.closing {
		m.closing, m.closedBy = true, "close"
	}
}

func (m *rcModel) execute() {
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
	mc := m.mc
	if m.onLoop("SetIdleTimeout", func(c eddy.Conn) {
		if err := c.SetIdleTimeout(d); err != nil {
			mc.violate("SetIdleTimeout(%v): %v", d, err)
		}
	}) {
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

func (m *rcModel) closeOut() {
	m.logf("Close from the test goroutine (closing %v)", m.closing)
	err := m.mc.c.Close()
	if !m.closing && err != nil {
		m.fatalf("Close on an open connection: %v", err)
	}
	if m.closing && err != nil && !errors.Is(err, eddy.ErrClosed) {
		m.fatalf("Close on a closing connection: %v", err)
	}
	m.markClosing("close")
}

func (m *rcModel) closeLoop() {
	m.logf("Close on the loop (closing %v)", m.closing)
	var err error
	if m.onLoop("Close", func(c eddy.Conn) { err = c.Close() }) {
		m.barrier()
		if err != nil {
			m.fatalf("Close on the loop on an open connection: %v", err)
		}
		m.markClosing("close")
	}
}

func (m *rcModel) closeWrite() {
	m.logf("CloseWrite (writable %v)", m.writable())
	var err error
	open := m.writable()
	if m.onLoop("CloseWrite", func(c eddy.Conn) { err = c.CloseWrite() }) {
		m.barrier()
		if open && err != nil {
			m.fatalf("CloseWrite on an open connection: %v", err)
		}
		if !open && err != nil && !errors.Is(err, eddy.ErrClosed) {
			m.fatalf("CloseWrite again: %v", err)
		}
		m.writeShut = true
	}
}

func (m *rcModel) abortOut() {
	m.logf("Abort from the test goroutine (closing %v)", m.closing)
	wasClosed := m.closed()
	m.mc.c.Abort(errRCAbort)
	switch {
	case !m.closing:
		m.closing, m.closedBy = true, "abort"
	case m.closedBy == "close" || m.closedBy == "peer" || m.closedBy == "idle":
		// A graceful close is under way: the Abort ends it, unless it ended already (OnClose then
		// reports the close's reason).
		m.closedBy = "abort-late:" + m.closedBy
	}
	m.mc.closeDone.Store(true)
	m.waitFor("OnClose after Abort", func() bool { return m.mc.closes > 0 })
	if !wasClosed {
		// OnClose had not run when Abort was called: it reports the Abort's reason (when no reset or
		// idle timeout got there first, which the model does not let happen on an open connection).
		m.mc.get(func() {
			if m.closedBy == "abort" && !errors.Is(m.mc.closeErr, errRCAbort) {
				m.mc.violations = append(m.mc.violations, fmt.Sprintf("OnClose after Abort reported %v", m.mc.closeErr))
			}
		})
	}
}

func (m *rcModel) abortLoop() {
	m.logf("Abort on the loop (closing %v)", m.closing)
	if m.onLoop("Abort", func(c eddy.Conn) { c.Abort(errRCAbort) }) {
		m.closing, m.closedBy = true, "abort"
		m.mc.closeDone.Store(true)
		m.waitFor("OnClose after Abort", func() bool { return m.mc.closes > 0 })
		m.mc.get(func() {
			if !errors.Is(m.mc.closeErr, errRCAbort) {
				m.mc.violations = append(m.mc.violations, fmt.Sprintf("OnClose after Abort (loop) reported %v", m.mc.closeErr))
			}
		})
	}
}

// ---- the peer's actions ----

// settle waits for the engine to act on what the peer sent, when reading is on: every byte in
// OnData and the FIN in OnPeerClosed, or a pause from OnData.
func (m *rcModel) settle() {
	m.syncClosing()
	if m.closing || m.paused {
		return
	}
	cond := func() bool {
		if m.mc.pausedNow {
			return true
		}
		return len(m.mc.in) == len(m.sent) && (!m.clWriteShut || m.mc.peerClosed > 0)
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
			m.mc.violations = append(m.mc.violations, "OnData got bytes that differ from those the peer sent")
		}
	})
	m.syncClosing()
}

func (m *rcModel) send() {
	n := rapid.IntRange(1, 8<<10).Draw(m.rt, "send")
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
	if err != nil && !m.closing && !m.closed() {
		m.fatalf("the peer's write on an open connection: %v", err)
	}
	if m.paused {
		time.Sleep(rcQuietly)
		return
	}
	m.settle()
}

func (m *rcModel) read() {
	m.logf("peer reads for a moment")
	if m.clErr != nil || m.clReset {
		return
	}
	buf := make([]byte, 64<<10)
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

func (m *rcModel) reset() {
	m.logf("peer resets (paused %v, closing %v)", m.paused, m.closing)
	m.mc.peerReset.Store(true)
	m.cl.SetLinger(0)
	m.cl.Close()
	m.clReset = true
	if !m.closing {
		m.closedBy = "reset" // the engine's close has not begun: it comes when the engine sees the reset
	}
}

// ---- one check ----

func rcRun(rt *rapid.T, kind eddy.EngineKind, h *rcHandler, addr string, lowWater int) {
	d := net.Dialer{Timeout: rcWait}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		rt.Fatalf("dial: %v", err)
	}
	cl := nc.(*net.TCPConn)
	rt.Cleanup(func() { cl.SetLinger(0); cl.Close() })
	if rapid.Bool().Draw(rt, "smallRcvBuf") {
		cl.SetReadBuffer(4 << 10)
	}
	var mc *rcConn
	deadline := time.Now().Add(rcWait)
	for mc == nil {
		h.mu.Lock()
		mc = h.conns[cl.LocalAddr().String()]
		delete(h.conns, cl.LocalAddr().String())
		h.mu.Unlock()
		if mc == nil {
			if time.Now().After(deadline) {
				rt.Fatalf("no OnOpen for %v", cl.LocalAddr())
			}
			time.Sleep(rcPeriod)
		}
	}
	rt.Cleanup(func() { mc.c.Abort(errRCAbort) })
	m := &rcModel{rt: rt, kind: kind, mc: mc, cl: cl, lowWater: lowWater}
	mc.keepWriting.Store(rapid.Bool().Draw(rt, "keepWriting"))
	m.logf("%s: keepWriting %v", kind, mc.keepWriting.Load())

	steps := rapid.IntRange(1, 24).Draw(rt, "steps")
	for i := 0; i < steps && !m.clReset; i++ {
		m.syncClosing()
		m.before = m.nextID
		acts := []string{"write", "writev", "asyncLoop", "asyncOut", "flushed", "execute", "read", "idleLong", "idleOff"}
		if !m.paused {
			acts = append(acts, "pause")
			if !m.pauseArmed {
				acts = append(acts, "armPause")
			}
		} else {
			acts = append(acts, "resume")
		}
		if !m.clWriteShut {
			acts = append(acts, "send", "send", "halfClose")
		}
		acts = append(acts, "closeOut", "closeLoop", "closeWrite", "abortOut", "abortLoop", "reset", "idleShort", "writeFlushedClose", "asyncThenClose", "raceClose", "writeFlushedCloseWrite", "asyncEmpty")
		a := rapid.SampledFrom(acts).Draw(rt, "action")
		switch a {
		case "write":
			m.write()
		case "writev":
			m.writev()
		case "asyncLoop":
			m.asyncLoop()
		case "asyncOut":
			m.asyncOut()
		case "flushed":
			m.flushed()
		case "execute":
			m.execute()
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
			m.reset()
		case "writeFlushedClose":
			m.writeFlushedClose(false)
		case "writeFlushedCloseWrite":
			m.writeFlushedClose(true)
		case "asyncEmpty":
			m.asyncEmpty()
		case "raceClose":
			m.raceClose()
			i = steps
		case "asyncThenClose":
			m.asyncThenClose()
			i = steps
		case "idleShort":
			m.idle(50 * time.Millisecond)
			if !m.closing {
				m.closing, m.closedBy = true, "idle"
			}
			i = steps // the close comes when it comes: end here
		}
	}
	m.finish()
}

// finish ends the connection (gracefully, unless the sequence did otherwise), reads the client's
// stream to its end and checks everything against the model.
func (m *rcModel) finish() {
	m.syncClosing()
	m.before = m.nextID
	if !m.closing && !m.clReset {
		if rapid.Bool().Draw(m.rt, "finishByAbort") {
			m.abortOut()
		} else {
			m.closeOut()
		}
	}
	if m.clReset && m.paused && !m.closed() {
		// A paused connection does not act on the reset: resume it so that it sees it.
		m.onLoop("SetReadPaused(false) after the reset", func(c eddy.Conn) {
			m.mc.get(func() { m.mc.pausedNow = false })
			c.SetReadPaused(false)
		})
	}
	if m.clReset && !m.closed() {
		// The engine acts on the reset (OnClose), or on the FIN before it: wait for one of them (after
		// a resume, the engine may not have read either yet).
		kw := false
		m.waitFor("OnClose or OnPeerClosed after the reset", func() bool {
			kw = m.mc.peerClosed > 0 && m.mc.keepWriting.Load()
			return m.mc.closes > 0 || kw
		})
		if kw && !m.closed() {
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
	m.waitFor("every completion callback", func() bool {
		for _, r := range append(m.recs, m.flushes...) {
			if r.async && r.cbs == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(rcQuietly) // for a second OnClose or callback to show
	m.check()
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
	// OnClose's reason.
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
	switch by {
	case "close":
		if mc.closeErr != nil {
			fail("OnClose after the handler's Close reported %v", mc.closeErr)
		}
	case "peer":
		if mc.closeErr != io.EOF {
			fail("OnClose after the peer's FIN reported %v", mc.closeErr)
		}
	case "idle":
		if !errors.Is(mc.closeErr, eddy.ErrIdleTimeout) {
			fail("OnClose after the idle timeout reported %v", mc.closeErr)
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
			fail("Flushed #%d: callback ran %d times", f.id, f.cbs)
		}
	}
	graceful := (m.closedBy == "close" || m.closedBy == "peer" || m.closedBy == "idle") && !m.clReset
	b := m.clGot
	var seen []uint32
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
		if len(seen) > 0 && id <= seen[len(seen)-1] {
			fail("record %d arrived after record %d", id, seen[len(seen)-1])
		}
		// No accepted record between the last one and this may be missing.
		from := uint32(0)
		if len(seen) > 0 {
			from = seen[len(seen)-1] + 1
		}
		for j := from; j < id; j++ {
			if byID[j].accepted && len(byID[j].data) > 0 {
				fail("%s #%d was accepted but is missing before record %d", byID[j].how, j, id)
			}
		}
		seen = append(seen, id)
		off = end
	}
	if graceful {
		if m.clErr != io.EOF {
			fail("a graceful end, but the peer read %v", m.clErr)
		}
		if partial {
			fail("a graceful end, but the stream ends in the middle of a record")
		}
		last := -1
		if len(seen) > 0 {
			last = int(seen[len(seen)-1])
		}
		for _, r := range m.recs {
			if int(r.id) > last && r.accepted {
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

func TestConnModel(t *testing.T) {
	checks := *rcChecks
	if checks > 0 {
		old := flag.Lookup("rapid.checks").Value.String()
		flag.Set("rapid.checks", strconv.Itoa(checks))
		t.Cleanup(func() { flag.Set("rapid.checks", old) })
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &rcHandler{conns: map[string]*rcConn{}}
		srv := startServer(t, kind, h)
		rapid.Check(t, func(rt *rapid.T) { rcRun(rt, kind, h, srv.addr, 0) })
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

// TestConnModelBackPressure is the model with small water marks (8 KiB, 32 KiB), so that the
// engine's own back-pressure comes into play; the model lets the input wait while the output is above
// the low water mark. Half the checks of TestConnModel.
func TestConnModelBackPressure(t *testing.T) {
	checks := *rcChecks / 2
	if checks > 0 {
		old := flag.Lookup("rapid.checks").Value.String()
		flag.Set("rapid.checks", strconv.Itoa(checks))
		t.Cleanup(func() { flag.Set("rapid.checks", old) })
	}
	const low, high = 8 << 10, 32 << 10
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &rcHandler{conns: map[string]*rcConn{}}
		srv := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(low, high))
		rapid.Check(t, func(rt *rapid.T) { rcRun(rt, kind, h, srv.addr, low) })
	})
}

package future_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/eddyio/eddy/future"
)

// A model-based test of futures: random graphs of promises (plain, with a context, with a cancel
// function), derived futures (Map, Catch, Handle, Then, All, Any, Race, WithTimeout, WithContext,
// GoOn) on Inline or on one of two hand-driven executors, driven by random completions, Cancels,
// cancellations of parent contexts and runs of queued continuations. Everything runs one step at a
// time (each on a goroutine of its own, waited for, since a continuation may call runtime.Goexit),
// so a plain reference model, which settles each future once and runs its dependants in the order
// they were made, nested, predicts every outcome, every call of a user function and the executor it
// runs on, every cancel function called and every context cancelled.

type mKind int

const (
	kPlain mKind = iota // NewPromise
	kCtx                // NewPromiseContext(parent)
	kFunc               // NewPromiseFunc; its cancel function may reject it
	kMap
	kCatch
	kHandle
	kThen
	kAll // Map(All(...), Inline, sum)
	kAny
	kRace
	kTimeout // WithTimeout(f, an hour)
	kWithCtx // WithContext(a context never done, f)
	kGoOn    // GoOn(parent, queue, fn)
	nKinds
)

// opKind is what a user function does.
type opKind int

const (
	opOK opKind = iota
	opErr
	opPanic
	opGoexit // only on a queue: drains run on goroutines of their own
)

type mNode struct {
	kind   mKind
	ins    []int
	exec   int // -1 Inline, else a queue
	op     opKind
	delta  int
	ret    int // Then: the node fn returns
	parent int // kCtx, kGoOn: parent context
	reject bool
	panics bool // kFunc: its cancel function panics

	// model
	settled   bool
	val       int
	err       error
	deps      []dep // nodes to notify, in the order they subscribed
	thenNext  bool  // Then: fn has run and dst follows ret
	srcDone   bool  // Then: its source is complete
	cancelled bool  // Then: a cancel request has passed
	cancelRef int   // node whose own cancel function Cancel of this one calls, -1 none
	window    bool  // kAll: settled early, its inputs being cancelled; see settleEarly
	ctxDone   bool  // kCtx, kGoOn: the context given to the producer is done
	ctxErr    error
	ctxCause  error
	calls     int // user function calls, or cancel function calls for kFunc
	wantExec  int // where the user function must run: -1 the step's goroutine outside drains, else a queue
	left      int // combinators: inputs still to come
	acc       int
	errs      []error
}

// dep is a dependant node and the position of the input among its inputs.
type dep struct{ id, pos int }

type model struct {
	n       []*mNode
	queues  [2][]int // node ids whose continuation waits in each queue
	curExec int
	parents [2]struct {
		done  bool
		err   error
		cause error
	}
}

func (m *model) settle(id int, v int, err error) {
	x := m.n[id]
	if x.settled {
		return
	}
	x.settled, x.val, x.err = true, v, err
	x.cancelRef = -1
	if (x.kind == kCtx || x.kind == kGoOn) && !x.ctxDone {
		x.ctxDone, x.ctxErr, x.ctxCause = true, context.Canceled, context.Canceled // released on completion
	}
	m.notify(id)
}

func (m *model) notify(id int) {
	deps := m.n[id].deps
	m.n[id].deps = nil
	for _, d := range deps {
		m.onInput(d.id, id, d.pos)
	}
}

// settleEarly is settle for a combinator that no longer needs its inputs: complete, cancel the
// inputs, then run the continuations.
func (m *model) settleEarly(id int, v int, err error) {
	x := m.n[id]
	if x.settled {
		return
	}
	x.settled, x.val, x.err = true, v, err
	// kAll is Map(All(...)): All's settle cancels its inputs before the Map's continuation runs,
	// and the Map, still pending, holds All's cancel function meanwhile. A Cancel of it that
	// comes in that window (from a continuation that a panicking cancel function ran: the input
	// it failed feeds another combinator, which cancels this one) goes on to All's inputs again,
	// and calls a NewPromiseFunc's cancel function a second time, as NewPromiseFunc documents
	// (seed 12792737550863731629).
	x.window = x.kind == kAll
	if !x.window {
		x.cancelRef = -1
	}
	for _, in := range x.ins {
		m.request(in)
	}
	x.window, x.cancelRef = false, -1
	m.notify(id)
}

func (m *model) runOp(id int, v int, err error) (int, error, bool) {
	x := m.n[id]
	x.calls++
	x.wantExec = m.curExec
	switch x.op {
	case opErr:
		return 0, fmt.Errorf("op %d failed", id), true
	case opPanic:
		return 0, &future.PanicError{Value: fmt.Sprint("panic ", id)}, true
	case opGoexit:
		return 0, future.ErrGoexit, true
	}
	_ = err
	return v + x.delta, nil, true
}

func (m *model) onInput(id, from, pos int) {
	x := m.n[id]
	in := m.n[from]
	switch x.kind {
	case kMap, kCatch, kHandle:
		if x.kind == kMap && in.err != nil {
			m.settle(id, 0, in.err)
			return
		}
		if x.kind == kCatch && in.err == nil {
			m.settle(id, in.val, nil)
			return
		}
		if x.exec >= 0 {
			m.queues[x.exec] = append(m.queues[x.exec], id)
			return
		}
		m.runCont(id)
	case kThen:
		if x.thenNext {
			m.settle(id, in.val, in.err)
			return
		}
		x.srcDone = true
		if in.err != nil {
			m.settle(id, 0, in.err)
			return
		}
		if x.exec >= 0 {
			m.queues[x.exec] = append(m.queues[x.exec], id)
			return
		}
		m.runCont(id)
	case kAll:
		if x.settled {
			return
		}
		if in.err != nil {
			m.settleEarly(id, 0, in.err)
			return
		}
		x.acc += in.val
		if x.left--; x.left == 0 {
			m.settle(id, x.acc, nil)
		}
	case kAny:
		if x.settled {
			return
		}
		if in.err == nil {
			m.settleEarly(id, in.val, nil)
			return
		}
		x.errs[pos] = in.err
		if x.left--; x.left == 0 {
			m.settle(id, 0, errors.Join(x.errs...))
		}
	case kRace:
		m.settleEarly(id, in.val, in.err)
	case kTimeout, kWithCtx:
		m.settle(id, in.val, in.err)
	}
}

// runCont runs the continuation of id, its input being complete.
func (m *model) runCont(id int) {
	x := m.n[id]
	if x.kind == kGoOn {
		if x.ctxDone {
			m.settle(id, 0, x.ctxErr)
			return
		}
		v, err, _ := m.runOp(id, 0, nil)
		m.settle(id, v, err)
		return
	}
	in := m.n[x.ins[0]]
	switch x.kind {
	case kMap:
		v, err, _ := m.runOp(id, in.val, nil)
		m.settle(id, v, err)
	case kCatch:
		v, err, _ := m.runOp(id, 0, in.err)
		m.settle(id, v, err)
	case kHandle:
		v, err, _ := m.runOp(id, in.val, in.err)
		m.settle(id, v, err)
	case kThen:
		x.calls++
		x.wantExec = m.curExec
		if x.op == opPanic || x.op == opGoexit {
			_, err, _ := m.runOp(id, 0, nil)
			x.calls--
			m.settle(id, 0, err)
			return
		}
		x.thenNext = true
		if x.cancelled {
			m.request(x.ret)
		}
		if r := m.n[x.ret]; r.settled {
			m.settle(id, r.val, r.err)
		} else {
			r.deps = append(r.deps, dep{id, 0})
		}
	}
}

// request is requestCancel of node id's state.
func (m *model) request(id int) {
	x := m.n[id]
	if (x.settled && !x.window) || x.cancelRef < 0 {
		return
	}
	m.call(x.cancelRef, id)
}

// call runs the own cancel function of node id (which may be complete), reached through the state
// of node via, which a panic in it fails.
func (m *model) call(id, via int) {
	x := m.n[id]
	switch x.kind {
	case kCtx, kGoOn:
		if !x.ctxDone {
			x.ctxDone, x.ctxErr, x.ctxCause = true, context.Canceled, context.Canceled
		}
	case kFunc:
		x.calls++
		if x.reject {
			m.settle(id, 0, errCancelled)
		}
		if x.panics {
			m.settle(via, 0, &future.PanicError{Value: "cancel panic"})
		}
	case kThen:
		if x.cancelled {
			return
		}
		x.cancelled = true
		if !x.srcDone {
			m.request(x.ins[0])
		}
		if x.thenNext {
			m.request(x.ret)
		}
	case kAll, kAny, kRace:
		for _, in := range x.ins {
			m.request(in)
		}
	}
}

var errCancelled = errors.New("rejected by its cancel function")

// harness is the real side.
type harness struct {
	t       *rapid.T
	fs      []future.Future[int]
	ps      []future.Promise[int]
	ctxs    []context.Context
	calls   []int
	ran     []int // executor each user function ran on
	queues  [2][]func()
	curExec int
	parents [2]context.Context
	cancels [2]context.CancelCauseFunc
}

func (h *harness) exec(q int) future.Executor {
	if q < 0 {
		return nil
	}
	return future.ExecutorFunc(func(fn func()) { h.queues[q] = append(h.queues[q], fn) })
}

func (h *harness) op(id int, x *mNode, v int) (int, error) {
	h.calls[id]++
	h.ran[id] = h.curExec
	switch x.op {
	case opErr:
		return 0, fmt.Errorf("op %d failed", id)
	case opPanic:
		panic(fmt.Sprint("panic ", id))
	case opGoexit:
		runtime.Goexit()
	}
	return v + x.delta, nil
}

// step runs fn on a goroutine of its own and waits for it to end.
func step(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func TestModelFutures(t *testing.T) {
	for range 10 { // 1000 cases: rapid's default of 100 leaves rare paths out
		rapid.Check(t, modelFutures)
	}
}

func modelFutures(rt *rapid.T) {
	{
		m := &model{curExec: -1}
		h := &harness{t: rt, curExec: -1}
		never := neverCtx{context.Background(), make(chan struct{})}
		var c0 context.Context
		c0, h.cancels[0] = context.WithCancelCause(context.Background())
		c1, cancel1 := context.WithDeadline(context.Background(), time.Unix(1, 0)) // already expired
		defer cancel1()
		defer h.cancels[0](nil)
		h.parents = [2]context.Context{c0, c1}
		m.parents[1].done, m.parents[1].err, m.parents[1].cause = true, context.DeadlineExceeded, context.DeadlineExceeded

		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for s := range steps {
			act := rapid.IntRange(0, 9).Draw(rt, "act")
			switch {
			case act <= 3 || len(m.n) == 0: // a new node
				h.newNode(m, rt, never)
			case act == 4: // complete a source
				id := rapid.IntRange(0, len(m.n)-1).Draw(rt, "id")
				x := m.n[id]
				if x.kind > kFunc {
					continue
				}
				fail := rapid.Bool().Draw(rt, "fail")
				v := rapid.IntRange(-50, 50).Draw(rt, "v")
				var err error
				if fail {
					v, err = 0, fmt.Errorf("source %d failed", id)
				}
				want := !x.settled
				var got bool
				step(func() { got = h.ps[id].Complete(v, err) })
				m.settle(id, v, err)
				if got != want {
					rt.Fatalf("step %d: Complete of %d = %v, want %v", s, id, got, want)
				}
			case act == 5 || act == 6: // Cancel
				id := rapid.IntRange(0, len(m.n)-1).Draw(rt, "id")
				step(h.fs[id].Cancel)
				m.request(id)
			case act == 7: // a NewPromiseContext producer reacts to its context
				id := rapid.IntRange(0, len(m.n)-1).Draw(rt, "id")
				x := m.n[id]
				if x.kind != kCtx || !x.ctxDone {
					continue
				}
				step(func() { h.ps[id].Reject(h.ctxs[id].Err()) })
				m.settle(id, 0, x.ctxErr)
			case act == 8: // cancel parent context 0, with a cause
				step(func() { h.cancels[0](errCause) })
				if !m.parents[0].done {
					m.parents[0].done, m.parents[0].err, m.parents[0].cause = true, context.Canceled, errCause
					for _, x := range m.n {
						if (x.kind == kCtx || x.kind == kGoOn) && x.parent == 0 && !x.ctxDone {
							x.ctxDone, x.ctxErr, x.ctxCause = true, context.Canceled, errCause
						}
					}
				}
			case act == 9: // run the next continuation of a queue
				q := rapid.IntRange(0, 1).Draw(rt, "q")
				if len(m.queues[q]) != len(h.queues[q]) {
					rt.Fatalf("step %d: queue %d holds %d, model %d", s, q, len(h.queues[q]), len(m.queues[q]))
				}
				if len(m.queues[q]) == 0 {
					continue
				}
				fn := h.queues[q][0]
				h.queues[q] = h.queues[q][1:]
				id := m.queues[q][0]
				m.queues[q] = m.queues[q][1:]
				h.curExec, m.curExec = q, q
				step(fn)
				m.runCont(id)
				h.curExec, m.curExec = -1, -1
			}
			h.check(m, s)
		}
	}
}

var errCause = errors.New("the cause")

// neverCtx is a context that could be done but never is, for WithContext. It schedules the
// functions of context.AfterFunc itself (never), so that none waits on a goroutine of its own.
type neverCtx struct {
	context.Context
	done chan struct{}
}

func (c neverCtx) Done() <-chan struct{}               { return c.done }
func (c neverCtx) AfterFunc(func()) (stop func() bool) { return func() bool { return true } }

func (h *harness) newNode(m *model, rt *rapid.T, never context.Context) {
	id := len(m.n)
	k := mKind(rapid.IntRange(0, int(nKinds)-1).Draw(rt, "kind"))
	if id == 0 && k > kFunc {
		k = kPlain
	}
	x := &mNode{kind: k, exec: -1, cancelRef: -1, wantExec: -2}
	pick := func() int { return rapid.IntRange(0, id-1).Draw(rt, "in") }
	switch k {
	case kMap, kCatch, kHandle, kThen, kTimeout, kWithCtx:
		x.ins = []int{pick()}
	case kAll, kAny, kRace:
		n := rapid.IntRange(1, 4).Draw(rt, "nin")
		for range n {
			x.ins = append(x.ins, pick())
		}
	}
	switch k {
	case kMap, kCatch, kHandle, kThen, kGoOn:
		x.exec = rapid.IntRange(-1, 1).Draw(rt, "exec")
		if k == kGoOn && x.exec < 0 {
			x.exec = 0
		}
		x.op = opKind(rapid.IntRange(0, 3).Draw(rt, "op"))
		if x.op == opGoexit && x.exec < 0 {
			x.op = opPanic
		}
		x.delta = rapid.IntRange(1, 9).Draw(rt, "delta")
	}
	if k == kThen {
		x.ret = pick()
	}
	if k == kCtx || k == kGoOn {
		x.parent = rapid.IntRange(0, 1).Draw(rt, "parent")
	}
	if k == kFunc {
		x.reject = rapid.Bool().Draw(rt, "reject")
		x.panics = rapid.IntRange(0, 3).Draw(rt, "panics") == 0
	}
	m.n = append(m.n, x)
	h.calls = append(h.calls, 0)
	h.ran = append(h.ran, -2)
	h.ctxs = append(h.ctxs, nil)
	h.ps = append(h.ps, future.Promise[int]{})
	h.fs = append(h.fs, future.Future[int]{})

	// The model: subscribe, or run at once if the input is complete.
	switch k {
	case kCtx, kFunc, kThen, kAll, kAny, kRace, kGoOn:
		x.cancelRef = id
	case kMap, kCatch, kHandle, kTimeout, kWithCtx:
		if in := m.n[x.ins[0]]; !in.settled {
			x.cancelRef = in.cancelRef
		}
	}
	if k == kCtx {
		if p := m.parents[x.parent]; p.done {
			x.ctxDone, x.ctxErr, x.ctxCause = true, p.err, p.cause
		}
	}

	// The real one.
	var f future.Future[int]
	in := func(i int) future.Future[int] { return h.fs[x.ins[i]] }
	step(func() {
		switch k {
		case kPlain:
			h.ps[id] = future.NewPromise[int]()
			f = h.ps[id].Future()
		case kCtx:
			h.ps[id], h.ctxs[id] = future.NewPromiseContext[int](h.parents[x.parent])
			f = h.ps[id].Future()
		case kFunc:
			var p future.Promise[int]
			p = future.NewPromiseFunc[int](func() {
				h.calls[id]++
				if x.reject {
					p.Reject(errCancelled)
				}
				if x.panics {
					panic("cancel panic")
				}
			})
			h.ps[id] = p
			f = p.Future()
		case kMap:
			f = future.Map(in(0), h.exec(x.exec), func(v int) (int, error) { return h.op(id, x, v) })
		case kCatch:
			f = future.Catch(in(0), h.exec(x.exec), func(error) (int, error) { return h.op(id, x, 0) })
		case kHandle:
			f = future.Handle(in(0), h.exec(x.exec), func(v int, _ error) (int, error) { return h.op(id, x, v) })
		case kThen:
			f = future.Then(in(0), h.exec(x.exec), func(int) future.Future[int] {
				h.calls[id]++
				h.ran[id] = h.curExec
				switch x.op {
				case opPanic:
					panic(fmt.Sprint("panic ", id))
				case opGoexit:
					runtime.Goexit()
				}
				return h.fs[x.ret]
			})
		case kAll:
			fs := make([]future.Future[int], len(x.ins))
			for i := range fs {
				fs[i] = in(i)
			}
			f = future.Map(future.All(fs...), nil, func(vs []int) (int, error) {
				sum := 0
				for _, v := range vs {
					sum += v
				}
				return sum, nil
			})
		case kAny, kRace:
			fs := make([]future.Future[int], len(x.ins))
			for i := range fs {
				fs[i] = in(i)
			}
			if k == kAny {
				f = future.Any(fs...)
			} else {
				f = future.Race(fs...)
			}
		case kTimeout:
			f = future.WithTimeout(in(0), time.Hour)
		case kWithCtx:
			f = future.WithContext(never, in(0))
		case kGoOn:
			f = future.GoOn(h.parents[x.parent], h.exec(x.exec), func(ctx context.Context) (int, error) {
				h.ctxs[id] = ctx
				return h.op(id, x, 0)
			})
		}
	})
	h.fs[id] = f

	// The model's subscriptions, in the order the real ones were made.
	switch k {
	case kMap, kCatch, kHandle, kThen, kTimeout, kWithCtx:
		if src := m.n[x.ins[0]]; src.settled {
			m.onInput(id, x.ins[0], 0)
		} else {
			src.deps = append(src.deps, dep{id, 0})
		}
	case kAll, kAny, kRace:
		x.left = len(x.ins)
		x.errs = make([]error, len(x.ins))
		for pos, i := range x.ins {
			if x.settled {
				break
			}
			if m.n[i].settled {
				m.onInput(id, i, pos)
			} else {
				m.n[i].deps = append(m.n[i].deps, dep{id, pos})
			}
		}
	case kGoOn:
		if p := m.parents[x.parent]; p.done {
			x.ctxDone, x.ctxErr = true, p.err
			m.settle(id, 0, p.err)
		} else {
			m.queues[x.exec] = append(m.queues[x.exec], id)
		}
	}
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var pa, pb *future.PanicError
	if errors.As(b, &pb) {
		return errors.As(a, &pa) && fmt.Sprint(pa.Value) == fmt.Sprint(pb.Value)
	}
	return a.Error() == b.Error() && (errors.Is(a, b) || errors.Is(b, context.Canceled) == errors.Is(a, context.Canceled))
}

func (h *harness) check(m *model, s int) {
	rt := h.t
	for id, x := range m.n {
		v, err := h.fs[id].Result()
		if !x.settled {
			if err != future.ErrPending {
				rt.Fatalf("step %d: node %d (kind %d) = %v, %v; model: pending", s, id, x.kind, v, err)
			}
		} else if v != x.val || !sameErr(err, x.err) {
			rt.Fatalf("step %d: node %d (kind %d) = %v, %v; model: %v, %v", s, id, x.kind, v, err, x.val, x.err)
		}
		if h.calls[id] != x.calls {
			rt.Fatalf("step %d: node %d (kind %d): %d calls, model %d", s, id, x.kind, h.calls[id], x.calls)
		}
		if x.calls > 0 && x.kind != kFunc && h.ran[id] != x.wantExec {
			rt.Fatalf("step %d: node %d (kind %d) ran on %d, model %d", s, id, x.kind, h.ran[id], x.wantExec)
		}
		if (x.kind == kCtx || x.kind == kGoOn) && h.ctxs[id] != nil {
			got := h.ctxs[id].Err()
			if (got != nil) != x.ctxDone || (got != nil && !errors.Is(got, x.ctxErr)) {
				rt.Fatalf("step %d: context of node %d: %v, model done %v with %v", s, id, got, x.ctxDone, x.ctxErr)
			}
			if got != nil && context.Cause(h.ctxs[id]) != x.ctxCause {
				rt.Fatalf("step %d: context of node %d: cause %v, model %v", s, id, context.Cause(h.ctxs[id]), x.ctxCause)
			}
		}
	}
	for q := range h.queues {
		if len(h.queues[q]) != len(m.queues[q]) {
			rt.Fatalf("step %d: queue %d holds %d, model %d", s, q, len(h.queues[q]), len(m.queues[q]))
		}
	}
}

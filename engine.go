package eddy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy/future"
)

// impl is what each engine (epoll, std, ...) provides behind Engine.
type impl interface {
	// start opens the listeners and starts the loops.
	start() error
	// addrs returns the bound listen addresses.
	addrs() []net.Addr
	// loopList returns the event loops.
	loopList() []Loop
	// dial connects to ep from one of the loops and completes p with the connection, whose Context is v
	// from the start; ctx ends with p's future's Cancel too.
	dial(ctx context.Context, ep *endpoint, v any, p future.Promise[Conn])
	// stopAccepting closes the listeners and returns once no loop accepts any more; connections are
	// served on.
	stopAccepting()
	// stop stops accepting, closes every connection gracefully and waits for that until ctx is done, when
	// it closes what is left at once. It returns after the loops have exited.
	stop(ctx context.Context) error
}

// Engine serves connections with one Handler on a set of event loops. Create it with New, then Start it;
// Stop ends it. Serve does all three.
type Engine struct {
	h    Handler
	eps  []*endpoint
	opts options
	kind EngineKind
	impl impl

	mu       sync.Mutex // Start, Stop and StopAccepting, which it serialises; held while they run
	started  bool
	stopped  bool
	stopErr  error
	stopDone chan struct{}
	// running: Dial may go ahead. Set before OnBoot (the loops exist then), cleared when Stop begins
	// or Start fails; read without mu, which Start holds through OnBoot and StopAccepting while it
	// waits for the loops: a Dial made in OnBoot, or in a callback meanwhile, must not wait for them.
	running atomic.Bool

	// The lookups of the host names that Dial was given: each runs on a goroutine of its own
	// (dialName), counted by lookups; lookupCtx ends when Stop begins or Start fails, which abandons
	// them, and Stop waits for them. lookupMu orders lookups.Add before the end.
	lookupMu  sync.Mutex
	lookupCtx context.Context
	lookupEnd context.CancelFunc
	lookups   sync.WaitGroup
}

// New checks the handler, addresses and options and prepares an engine without starting anything.
// Addresses are tcp://host:port, tcp4://host:port, tcp6://[host]:port or unix:///path; a missing scheme
// means tcp. The errors name the bad value: an address listed twice is one (port 0 is not: each
// listener gets a port of its own), and so is an IPv6 zone that names no interface. A host name is
// looked up once, here: the engine listens on the first of its addresses (IPv4 first on tcp, IPv6
// first for a name in brackets, tcp://[name]:port), as net.Listen listens on one. As with net.Listen,
// tcp with no host or an unspecified one (tcp://:port, tcp://0.0.0.0:port, tcp://[::]:port, all the
// same address) listens on every address of the machine, IPv4 and IPv6, and Addrs reports [::];
// tcp4://:port is IPv4 only and tcp6://:port IPv6 only. An engine without addresses (or listeners,
// WithListeners) only makes outbound connections (Dial).
//
// A unix socket path must not exist when the engine starts, as with net.Listen: a socket file left
// behind by a process that never closed its listener (one that crashed) fails Start with an *OpError
// wrapping syscall.EADDRINUSE, and the engine leaves the file alone, since another process may be
// serving on it. Remove it before Start once no process listens there (a dial refused with
// ECONNREFUSED tells). The engine removes the files of the sockets it bound when it closes them
// (StopAccepting, Stop, a failed Start), as package net's UnixListener does, but, unlike it, only
// while the path still names the file the engine made: a new server that removed the file and
// listened on the path meanwhile (a restart) keeps its own. An abstract name ("unix://@name",
// Linux) has no file. A socket path, or an abstract name with its '@', longer than 107 bytes (103 on
// macOS and the BSDs) is a bad address, refused here; package net takes an abstract name of 108.
//
// The errors of New are plain errors whose text begins "eddy: bad address" and which wrap package
// net's (a *net.AddrError for an IPv4 address on tcp6, an IPv6 one on tcp4 or a port out of range;
// a *net.DNSError for a service name the services database does not know or a host not found), where
// net.Listen returns them in a *net.OpError; a listen that fails at Start is an *OpError, as
// net.Listen's.
func New(h Handler, addrs []string, opts ...Option) (*Engine, error) {
	if h == nil {
		return nil, errors.New("eddy: nil Handler")
	}
	eps, err := parseEndpoints(addrs)
	if err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("eddy: nil Option")
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.lowWater >= o.highWater {
		return nil, fmt.Errorf("eddy: write low water mark %d is not below the high water mark %d", o.lowWater, o.highWater)
	}
	eps = append(eps, listenerEndpoints(o.listeners)...)
	e := &Engine{h: h, eps: eps, opts: o, stopDone: make(chan struct{})}
	e.lookupCtx, e.lookupEnd = context.WithCancel(context.Background())
	kind, im, err := newImpl(e)
	if err != nil {
		return nil, err
	}
	e.kind, e.impl = kind, im
	return e, nil
}

// Kind returns the engine in use (never EngineAuto).
func (e *Engine) Kind() EngineKind { return e.kind }

// Start opens the listeners, calls OnBoot if the handler has it, and starts serving. It returns once the
// engine accepts connections.
func (e *Engine) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("eddy: engine already started")
	}
	e.started = true
	if err := e.impl.start(); err != nil {
		e.running.Store(false)
		e.endLookups()
		e.stopped = true
		e.closeAdopted()
		close(e.stopDone)
		return err
	}
	return nil
}

// Addrs returns the addresses the engine listens on, with real ports where port 0 was asked for. It is
// valid after Start.
func (e *Engine) Addrs() []net.Addr { return e.impl.addrs() }

// Stop stops the engine gracefully: it stops accepting, flushes the output already accepted on every
// connection, closes them (OnClose runs for each) and calls OnShutdown. When ctx ends first, the
// connections left are closed at once, OnClose reporting ErrEngineStopped; those whose output was not
// all out are reset (on TCP), so that their peers cannot take what they got for the whole, and the
// others (an idle connection, one whose output is all out) get a plain close, their peers reading EOF,
// even when ctx is done before Stop begins. Stop then returns ctx's error. Calling Stop again waits for
// the first call and returns its result. A nil ctx means context.Background(): no bound. Before Start,
// Stop returns ErrEngineStopped and changes nothing: the engine can still be started (unlike
// http.Server, whose Shutdown before Serve closes it for good). Stop waits for every loop to finish, so
// it must not be called from a callback or a function running on one of the engine's loops, where it
// would wait for ever whatever ctx says (on every engine): run it on a goroutine of its own there.
func (e *Engine) Stop(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e.mu.Lock()
	if !e.started {
		e.mu.Unlock()
		return ErrEngineStopped
	}
	if e.stopped {
		e.mu.Unlock()
		select {
		case <-e.stopDone: // checked first: a finished stop reports its result even to an expired ctx
			return e.stopErr
		default:
		}
		select {
		case <-e.stopDone:
			return e.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.stopped = true
	e.running.Store(false)
	e.mu.Unlock()
	e.endLookups()
	err := e.impl.stop(ctx)
	e.closeAdopted()
	if sh, ok := e.h.(ShutdownHandler); ok {
		sh.OnShutdown(e)
	}
	e.stopErr = err
	close(e.stopDone)
	return err
}

// StopAccepting closes the engine's listeners and keeps serving the connections it has: they run until
// they close, or until Stop closes them. It returns once no loop accepts any more, so a client that
// connects afterwards is refused by the kernel (connections that were in the accept queue are dropped).
// This is the first half of a drain, as net/http's Shutdown does it: stop accepting, let requests in
// flight finish, then Stop. It returns ErrEngineStopped before Start or after Stop; calling it again is
// a no-op. It waits for every loop, so it must not be called from a callback or a function running on
// one of the engine's loops (run it on a goroutine of its own there), as Stop must not.
func (e *Engine) StopAccepting() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.stopped {
		return ErrEngineStopped
	}
	e.impl.stopAccepting()
	e.closeAdopted() // the engine accepted on duplicates: the caller's listener would go on listening
	return nil
}

// Done returns a channel closed once the engine has stopped.
func (e *Engine) Done() <-chan struct{} { return e.stopDone }

// Dial connects to addr (in the same forms New accepts) from one of the engine's loops, with a
// non-blocking connect: no goroutine waits for it. The connection gets the engine's Handler callbacks
// like an accepted one: OnOpen runs first, then the future resolves with the Conn (or fails with
// ErrClosed if the connection was closed before that: by OnOpen, or, on the std engine, by a Stop
// running meanwhile). A refused or timed-out connect (ctx's deadline or cancellation), or one that Stop
// abandons (ErrEngineStopped), fails the future with an *OpError, and no callback runs. Cancelling the
// future (Future.Cancel, or a combinator that gives up on it: future.WithTimeout, the losers of
// future.Any or future.Race) cancels a connect still in progress as cancelling ctx does: the future
// fails with an *OpError wrapping context.Canceled. On epoll and uring that includes a connect the
// kernel has completed and the loop has not finished yet; the std engine, which connects on a
// goroutine, opens a connection whose connect returned before the cancellation. Continuations added
// with future.Inline run on the loop, so they must not block. A nil ctx means context.Background().
//
// A host name is looked up as net.Dialer looks it up (net.DefaultResolver), on a goroutine of its own,
// so that Dial does not block its caller (a loop's callback, often) on the name server, and the lookup
// ends with ctx, Future.Cancel or Stop as a connect does. A lookup that fails fails the future with an
// *OpError naming no address and wrapping the resolver's *net.DNSError, as net.Dialer's; such a failure
// (or one at ctx's end, Future.Cancel or Stop during the lookup) settles the future on the lookup's
// goroutine, where its Inline continuations then run: Stop, which waits for that goroutine, must not be
// called from them, as it must not be from a loop (run it on a goroutine of its own). Unlike
// net.Dialer, which tries each address the name has in turn, Dial connects to one, chosen as New
// chooses the address it listens on: on tcp the first IPv4 one (the first IPv6 one for a name in
// brackets, tcp://[name]:port, as net.ResolveTCPAddr), else the first. A malformed address
// fails at once with an error that names it and wraps package net's (a *net.AddrError, say), not an
// *OpError.
func (e *Engine) Dial(ctx context.Context, addr string) future.Future[Conn] {
	return e.DialWith(ctx, addr, nil)
}

// DialWith is Dial for a connection whose Context (Conn.Context) is v from the start, so that OnOpen
// already knows what the connection was dialled for: the request it carries, the TLS configuration
// to use (package etls dials with it), a pool to return to.
func (e *Engine) DialWith(ctx context.Context, addr string, v any) future.Future[Conn] {
	ep, err := parseEndpointName(addr, false)
	if err == nil {
		err = checkZone(ep)
	}
	if err != nil {
		return future.Failed[Conn](err)
	}
	if !e.running.Load() {
		return future.Failed[Conn](&OpError{Op: "dial", Net: ep.network, Addr: ep.dialAddr(), Err: ErrEngineStopped})
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return future.Failed[Conn](&OpError{Op: "dial", Net: ep.network, Addr: ep.dialAddr(), Err: err})
	}
	// The dial watches the promise's context, which ends with ctx and with the future's Cancel: a
	// caller that gives up on the future (WithTimeout, the losers of Any or Race) stops the connect,
	// rather than leaving it to open a connection nobody holds.
	p, pctx := future.NewPromiseContext[Conn](ctx)
	if ep.tcp == nil && ep.unix == nil {
		e.dialName(pctx, ep, v, p)
	} else {
		e.impl.dial(pctx, ep, v, p)
	}
	return p.Future()
}

// dialAddr is the address an *OpError of a dial names: none for a host name not yet looked up, as
// net.Dialer's names none for a failed lookup.
func (ep *endpoint) dialAddr() net.Addr {
	if ep.tcp == nil && ep.unix == nil {
		return nil
	}
	return ep.addr()
}

// dialName looks up the host name of ep on a goroutine of its own, as net.Dialer does, so that the
// caller (a loop's callback, often) is not held for the name server, and the lookup ends with the
// dial's context; then it dials the address found. A failed lookup fails the dial with an *OpError
// naming no address and wrapping the resolver's *net.DNSError, as net.Dialer's, or ctx's error when
// ctx ended it; one that Stop abandons, with ErrEngineStopped.
func (e *Engine) dialName(ctx context.Context, ep *endpoint, v any, p future.Promise[Conn]) {
	e.lookupMu.Lock()
	if e.lookupCtx.Err() != nil {
		e.lookupMu.Unlock()
		p.Reject(&OpError{Op: "dial", Net: ep.network, Err: ErrEngineStopped})
		return
	}
	e.lookups.Add(1)
	e.lookupMu.Unlock()
	go func() {
		defer e.lookups.Done()
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(e.lookupCtx, cancel) // Stop abandons the lookup
		rep, err := resolveEndpoint(lctx, ep)
		if !stop() {
			err = ErrEngineStopped
		} else if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = cerr // the caller's reason, as for a connect (the resolver's error names it as a rule)
		}
		if err != nil {
			p.Reject(&OpError{Op: "dial", Net: ep.network, Err: err})
			return
		}
		e.impl.dial(ctx, rep, v, p)
	}()
}

// endLookups abandons the host name lookups of dials in progress and waits for them: the engine is
// stopping (or failed to start).
func (e *Engine) endLookups() {
	e.lookupMu.Lock()
	e.lookupEnd()
	e.lookupMu.Unlock()
	e.lookups.Wait()
}

// Serve creates and starts an engine, serves until ctx is done, then stops it gracefully, waiting at most
// the stop timeout (WithStopTimeout). It returns the first error from starting or stopping. A nil ctx
// means context.Background(): Serve serves until the program ends.
func Serve(ctx context.Context, h Handler, addrs []string, opts ...Option) error {
	if ctx == nil {
		ctx = context.Background()
	}
	e, err := New(h, addrs, opts...)
	if err != nil {
		return err
	}
	if len(e.eps) == 0 {
		return errors.New("eddy: no address to listen on")
	}
	if err := e.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), e.opts.stopTimeout)
	defer cancel()
	return e.Stop(sctx)
}

// boot calls the handler's OnBoot if it has one. The engine's start calls it once the loops exist: Dial
// works from here on.
func (e *Engine) boot() error {
	e.running.Store(true)
	if b, ok := e.h.(BootHandler); ok {
		return b.OnBoot(e)
	}
	return nil
}

// tick runs the handler's OnTick if it has one and returns the next delay, or -1 for none.
func (e *Engine) tick() time.Duration {
	if t, ok := e.h.(TickHandler); ok {
		return t.OnTick()
	}
	return -1
}

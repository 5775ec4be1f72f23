package eddy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// stdEngine is the portable engine, built on package net. Each connection has a reader goroutine that
// calls the handler and a writer goroutine that drains its output queue; a per-connection mutex keeps the
// callbacks of one connection from running concurrently. It serves where epoll does not exist and is the
// reference the conformance suite holds the other engines to.
type stdEngine struct {
	e     *Engine
	lns   []net.Listener
	files []sockFile // the socket files of lns that the engine bound, removed when they close
	bound []net.Addr
	loops []*stdLoop
	next  int // round-robin cursor for assigning connections to loops (BalanceRoundRobin), under mu

	mu    sync.Mutex
	conns map[*stdConn]struct{}
	quit  chan struct{} // closed when the engine stops: ends accept back-off waits and ticks
	// booted is closed once OnBoot has succeeded: a Dial made in OnBoot connects meanwhile but opens
	// its connection only then, as the loop engines' loops start only then, and fails if OnBoot fails.
	booted chan struct{}

	wg sync.WaitGroup // accept loops, tick loop and connection goroutines

	// sections hands a connection's section, held, to a goroutine parked in sectionRunner (handOff);
	// parked counts those goroutines.
	sections chan *stdConn
	parked   atomic.Int32

	// forced is set when Stop's context has ended: the connections are aborted (stopAbort) once their
	// graceful close, and OnClosing, has begun (stdConn.stopBegun).
	forced atomic.Bool
}

// maxParkedRunners bounds the goroutines that wait for a section to run (sectionRunner): enough for the
// sections of a burst of AsyncWrite and Execute calls to find one, few enough that an engine keeps little
// after the burst. Beyond it, a section starts a goroutine of its own, which ends with it.
const maxParkedRunners = 16

func newStdEngine(e *Engine) *stdEngine {
	return &stdEngine{e: e, conns: make(map[*stdConn]struct{}), quit: make(chan struct{}),
		booted: make(chan struct{}), sections: make(chan *stdConn)}
}

// handOff runs the section of c, which the caller holds, on another goroutine, which releases it (push):
// one parked in sectionRunner, or a new one when none is. It never waits. Its callers hold the section,
// which the connection's reader needs before it ends, so the WaitGroup is above zero for the Add.
func (g *stdEngine) handOff(c *stdConn) {
	select {
	case g.sections <- c: // unbuffered: taken by a runner that waits now, never left in a buffer
		return
	default:
	}
	g.wg.Add(1)
	go g.sectionRunner(c)
}

// sectionRunner runs c's section (its tasks, then the release), then waits for another connection's,
// unless maxParkedRunners wait already or the engine is stopping. A task that ends the goroutine
// (runtime.Goexit) ends the runner: the section's guard hands it on (sectionLost). A task that leaves
// the goroutine locked to its thread (runtime.LockOSThread) leaves the runner locked: the sections it
// runs next, of any connection, run on that thread until the runner ends (docs/engine.md, review h33).
func (g *stdEngine) sectionRunner(c *stdConn) {
	defer g.wg.Done()
	for c != nil {
		c.endGuarded()
		c = g.parkRunner()
	}
}

// parkRunner waits for a section handed off, or returns nil when the runner is to end.
func (g *stdEngine) parkRunner() *stdConn {
	if g.parked.Add(1) > maxParkedRunners {
		g.parked.Add(-1)
		return nil
	}
	defer g.parked.Add(-1)
	select {
	case c := <-g.sections:
		return c
	case <-g.quit: // Stop waits for the runners (wg): the parked ones end here
		return nil
	}
}

func (g *stdEngine) addrs() []net.Addr { return g.bound }

func (g *stdEngine) loopList() []Loop {
	ls := make([]Loop, len(g.loops))
	for i, l := range g.loops {
		ls[i] = l
	}
	return ls
}

func (g *stdEngine) start() error {
	for _, ep := range g.e.eps {
		if ep.ln != nil { // adopted: accepted on as it is, closed by closeListeners and Engine.Stop
			if err := checkAdopted(ep.ln); err != nil {
				g.closeListeners()
				return &OpError{Op: "listen", Net: ep.network, Addr: ep.addr(), Err: unwrapNetOp(err)}
			}
			g.lns = append(g.lns, ep.ln)
			g.files = append(g.files, sockFile{})
			g.bound = append(g.bound, ep.ln.Addr())
			continue
		}
		ln, err := stdListen(ep)
		if err != nil {
			g.closeListeners()
			return &OpError{Op: "listen", Net: ep.network, Addr: ep.addr(), Err: unwrapNetOp(err)}
		}
		var f sockFile
		if ul, ok := ln.(*net.UnixListener); ok {
			// removed by closeListeners while the path still names it, as on the other engines,
			// not unconditionally as package net removes it
			ul.SetUnlinkOnClose(false)
			f = newSockFile(ul.Addr().String())
		}
		g.lns = append(g.lns, ln)
		g.files = append(g.files, f)
		g.bound = append(g.bound, ln.Addr())
	}
	for i := 0; i < g.e.opts.loops; i++ {
		l := newStdLoop(i)
		g.loops = append(g.loops, l)
		go l.run()
	}
	if err := g.e.boot(); err != nil {
		g.closeListeners()
		g.mu.Lock()
		close(g.quit) // a Dial made in OnBoot fails, as on the loop engines (adopt refuses its connection)
		g.mu.Unlock()
		g.wg.Wait() // the dials' goroutines
		g.stopLoops()
		return err
	}
	close(g.booted)
	for i, ln := range g.lns { // one per endpoint, in order
		g.wg.Add(1)
		go g.acceptLoop(ln, g.e.eps[i].network)
	}
	if _, ok := g.e.h.(TickHandler); ok {
		g.wg.Add(1)
		go g.tickLoop()
	}
	return nil
}

// stdListen listens on ep: for TCP on the address New resolved (a host name is looked up once, by
// New, on every engine: giving package net the name again failed Start when the name server had gone
// away meanwhile, and could listen on another address than the one New checked).
func stdListen(ep *endpoint) (net.Listener, error) {
	if ep.tcp != nil {
		return net.ListenTCP(ep.network, ep.tcp)
	}
	return net.Listen(ep.network, ep.address)
}

// unwrapNetOp takes the inner error out of a *net.OpError so that it is not wrapped twice.
func unwrapNetOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// stopAccepting closes the listeners; the accept goroutines end on their own.
func (g *stdEngine) stopAccepting() { g.closeListeners() }

func (g *stdEngine) closeListeners() {
	for i, ln := range g.lns {
		ln.Close()
		g.files[i].remove()
	}
}

// acceptLoop accepts until the listener closes. On descriptor exhaustion and other temporary errors it
// waits with a growing back-off, like the epoll engine, rather than spinning.
func (g *stdEngine) acceptLoop(ln net.Listener, network string) {
	defer g.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, acceptBackoff0), acceptBackoffN)
			g.e.opts.logger.Warn("eddy: accept failed, backing off", "addr", ln.Addr().String(), "err", err, "retry", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-g.quit:
				return
			}
		}
		backoff = 0
		g.setupConn(nc)
		c, ok := g.adopt(nc, nil, network)
		if !ok {
			return
		}
		go c.readLoop() // which starts the writer after OnOpen
	}
}

// adopt registers a new connection with the engine and a loop; the caller starts its goroutines. It fails
// (and closes nc) once the engine is stopping.
func (g *stdEngine) adopt(nc net.Conn, ctx any, network string) (*stdConn, bool) {
	c := newStdConn(g, nc, network)
	c.ctx = ctx // before the connection is published: DialWith's value, for OnOpen
	// The connection's section is held from here until OnOpen returns (readLoop): nothing posted to
	// it, as Stop's OnClosing, runs before OnOpen.
	c.mu.Lock()
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.quit:
		nc.Close()
		return nil, false
	default:
	}
	if g.e.opts.balance == BalanceLeastConnections {
		c.loop = leastLoaded(g.loops)
	} else {
		c.loop = g.loops[g.next%len(g.loops)]
		g.next++
	}
	c.loop.inc()
	g.conns[c] = struct{}{}
	g.wg.Add(2)
	return c, true
}

func (g *stdEngine) setupConn(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	o := &g.e.opts
	tc.SetNoDelay(o.noDelay)
	if o.keepAlive > 0 {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: o.keepAlive, Interval: o.keepAlive})
	} else {
		tc.SetKeepAlive(false)
	}
}

// tickLoop times the handler's OnTick and runs each on the first loop (TickHandler), serialised with the
// functions given to it, as on the loop engines. A tick that has not begun when the engine stops is
// skipped; one running then is waited for, with the loop, by stopLoops.
func (g *stdEngine) tickLoop() {
	defer g.wg.Done()
	next := make(chan time.Duration, 1) // buffered: a tick that ends after tickLoop returned does not block the loop
	tick := func() {
		select {
		case <-g.quit:
			next <- -1
		default:
			next <- g.e.tick()
		}
	}
	for {
		g.loops[0].Execute(tick)
		var d time.Duration
		select {
		case d = <-next:
		case <-g.quit:
			return
		}
		if d < 0 {
			return
		}
		select {
		case <-time.After(d):
		case <-g.quit:
			return
		}
	}
}

func (g *stdEngine) removeConn(c *stdConn) {
	g.mu.Lock()
	if _, ok := g.conns[c]; ok {
		delete(g.conns, c)
		c.loop.dec()
	}
	g.mu.Unlock()
}

// stop closes the listeners, closes every connection gracefully and waits for their goroutines; when ctx
// ends first, it closes the sockets at once.
func (g *stdEngine) stop(ctx context.Context) error {
	g.mu.Lock()
	close(g.quit)
	conns := make([]*stdConn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	g.closeListeners()
	// Not on the caller: a post runs the section's tasks (OnClosing, the Execute functions queued) on its
	// goroutine when nobody holds the section, and one that ends its goroutine (runtime.Goexit) would end
	// the caller's in the middle of Stop, leaving the other connections open and the engine never stopped.
	g.wg.Add(1) // before the Wait below begins
	go g.closeConns(conns)
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	defer g.stopLoops()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// Out of time: each connection is aborted once its graceful close has begun, OnClosing first, as
	// on the loop engines, whose loop runs the graceful part of the stop before the forced one (even
	// when ctx is done before Stop begins). A connection whose close task has not run yet aborts
	// itself at its end (closeConns); this aborts the others. The two look at each other's flags in
	// opposite orders (forced then stopBegun here, stopBegun then forced there): one of them, or both
	// (stopAbort may run twice), sees the other's.
	g.forced.Store(true)
	g.mu.Lock()
	for c := range g.conns {
		if c.stopBegun.Load() {
			c.stopAbort()
		}
	}
	g.mu.Unlock()
	<-done
	return ctx.Err()
}

// closeConns starts the graceful close of each of conns for Stop. A callback that ends its goroutine
// (the connection's guard has aborted that connection) leaves the rest to a new goroutine.
func (g *stdEngine) closeConns(conns []*stdConn) {
	defer g.wg.Done()
	i := 0
	defer func() {
		if i < len(conns) {
			g.wg.Add(1) // this goroutine's count is still held
			go g.closeConns(conns[i:])
		}
	}()
	for i < len(conns) {
		c := conns[i]
		i++
		// In the connection's section, as on the loop engines, where the stop runs between callbacks:
		// a callback running now keeps its writes whole (a close from here cut them off halfway, and
		// the peer got a clean end), and a ClosingHandler has its last word.
		c.post(func() {
			c.engineClose(ErrEngineStopped)
			c.stopReading() // not before the close: the reader would take the deadline for an error; no linger for the peer's FIN
			c.stopBegun.Store(true)
			if g.forced.Load() { // Stop ran out of time before this task ran (see stop)
				c.stopAbort()
			}
		})
	}
}

func (g *stdEngine) stopLoops() {
	for _, l := range g.loops {
		l.stop()
	}
}

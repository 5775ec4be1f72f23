package eddy

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listenBacklog is the accept queue length asked of the kernel where net.core.somaxconn cannot be
// read (socket.ListenBacklog); otherwise somaxconn is asked for, as package net asks.
const listenBacklog = 4096

// epollEngine runs one epLoop per configured loop, each on its own goroutine.
type epollEngine struct {
	e      *Engine
	base   time.Time // zero of every loop's clock
	loops  []*epLoop
	bound  []net.Addr
	wg     sync.WaitGroup
	nextLB atomic.Uint32 // round-robin cursor for the single acceptor and Dial (any goroutine)
}

func newEpollEngine(e *Engine) *epollEngine {
	return &epollEngine{e: e, base: time.Now()}
}

func (g *epollEngine) addrs() []net.Addr { return g.bound }

func (g *epollEngine) loopList() []Loop {
	ls := make([]Loop, len(g.loops))
	for i, l := range g.loops {
		ls[i] = l
	}
	return ls
}

// start creates the loops, opens the listeners (one per loop with SO_REUSEPORT, otherwise one in all on
// loop 0), runs OnBoot and starts the loop goroutines.
func (g *epollEngine) start() (err error) {
	o := &g.e.opts
	for i := 0; i < o.loops; i++ {
		l, err := newEpLoop(g, i)
		if err != nil {
			g.closeAll()
			return err
		}
		g.loops = append(g.loops, l)
	}
	defer func() {
		if err != nil {
			g.closeAll()
		}
	}()
	g.bound, err = openListeners(g.e, len(g.loops), func(i, fd int, ep *endpoint, bound net.Addr, shared bool) error {
		ln := &epListener{fd: fd, network: ep.network, addr: bound, file: socketFile(ep, bound), shared: shared, adopted: ep.ln != nil}
		if err := g.loops[i].addListener(ln); err != nil {
			closeListenerFD(fd, &ln.file)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := g.e.boot(); err != nil {
		return err
	}
	for _, l := range g.loops {
		g.wg.Add(1)
		go l.run()
	}
	return nil
}

// closeAll ends loops that never ran, as a stop ends them (finish): what was queued on them meanwhile
// (a function OnBoot gave Loop.Execute, a Dial, a Loop.AfterFunc timer) runs, fails or is handed to
// the runtime, and what comes later runs on its caller. The loops stay in g.loops: a Dial racing with
// the failed Start may still pick one, and finds its queue closed.
func (g *epollEngine) closeAll() {
	for _, l := range g.loops {
		l.stopping = true
		l.finish()
	}
}

// stopAccepting has every loop close its listeners and waits until they have.
func (g *epollEngine) stopAccepting() {
	onEveryLoop(g.loops, func(l *epLoop, _ *sync.WaitGroup) { l.closeListeners() })
}

// stop asks every loop to stop gracefully, escalates to a forced stop when ctx ends, and waits for the
// loops to exit.
func (g *epollEngine) stop(ctx context.Context) error { return stopLoops(ctx, g.loops, &g.wg) }

// pickLoop returns the loop that gets the next connection from a single acceptor or Dial (any
// goroutine), by the engine's Balance.
func (g *epollEngine) pickLoop() *epLoop {
	if g.e.opts.balance == BalanceLeastConnections {
		return leastLoaded(g.loops)
	}
	return g.loops[(g.nextLB.Add(1)-1)%uint32(len(g.loops))]
}

package eddy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// uringEngine runs one urLoop per configured loop. Each loop owns an io_uring instance created on its own
// locked OS thread (SINGLE_ISSUER binds the ring to the thread that created it), so the rings are set up by
// the loop goroutines themselves and start waits for each to report.
type uringEngine struct {
	e        *Engine
	base     time.Time // zero of every loop's clock
	loops    []*urLoop
	bound    []net.Addr
	wg       sync.WaitGroup
	nextLB   uint32        // round-robin cursor of the single acceptor; touched only by the accepting loop
	nextDial atomic.Uint32 // round-robin cursor of Dial, which any goroutine may call
}

func newUringEngine(e *Engine) *uringEngine {
	return &uringEngine{e: e, base: time.Now()}
}

// uringUnavailable turns the reason io_uring cannot be used into the error New returns for an explicit
// EngineUring: it matches ErrUnsupported and the cause (errors.Is(err, unix.EPERM), ...), and names the
// errno so that the message is useful in a log line.
func uringUnavailable(cause error) error {
	var errno unix.Errno
	if errors.As(cause, &errno) {
		return fmt.Errorf("eddy: engine %q: %w (%s): %w", EngineUring, ErrUnsupported, unix.ErrnoName(errno), cause)
	}
	return fmt.Errorf("eddy: engine %q: %w: %w", EngineUring, ErrUnsupported, cause)
}

func (g *uringEngine) addrs() []net.Addr { return g.bound }

// start sets up the loops (each creates its ring on its own thread and reports), opens the listeners (one
// per loop with SO_REUSEPORT, otherwise one in all on loop 0), runs OnBoot and lets the loops run. Until
// then no accept is armed, so no connection is served before OnBoot; the kernel queues them meanwhile.
func (g *uringEngine) start() (err error) {
	o := &g.e.opts
	ready := make(chan error, o.loops)
	for i := 0; i < o.loops; i++ {
		l, err := newUrLoop(g, i)
		if err != nil {
			g.abort()
			return err
		}
		g.loops = append(g.loops, l)
		g.wg.Add(1)
		go l.run(ready)
	}
	for range g.loops {
		if e := <-ready; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		g.abort()
		return err
	}
	defer func() {
		if err != nil {
			g.abort()
		}
	}()
	g.bound, err = openListeners(g.e, len(g.loops), func(i, fd int, ep *endpoint, bound net.Addr, shared bool) error {
		g.loops[i].addListener(&urListener{fd: fd, network: ep.network, addr: bound, file: socketFile(ep, bound), shared: shared,
			adopted: ep.ln != nil})
		return nil
	})
	if err != nil {
		return err
	}
	if err := g.e.boot(); err != nil {
		return err
	}
	urLoopsRunning.Add(int32(len(g.loops))) // before any of them decides whether to park
	for _, l := range g.loops {
		l.startCh <- true
	}
	return nil
}

// abort ends loops that never started serving: each releases its ring on its own thread and closes its
// listeners; abort waits for that, fails whatever was queued meanwhile (a Dial racing with a failed
// Start), and closes the queues and then the eventfds.
func (g *uringEngine) abort() {
	for _, l := range g.loops {
		select {
		case l.startCh <- false:
		default: // the loop failed its setup and is gone, or was already told
		}
	}
	g.wg.Wait()
	for _, l := range g.loops {
		l.stopping = true // the loop goroutine has exited: its state is ours now
		l.runLeftTasks()
		l.handOverTimers() // a Loop.AfterFunc timer made in OnBoot fires all the same, as at a stop
		l.closeWaker()
	}
	// The loops stay in g.loops: a Dial racing with the failed Start may still pick one, and finds
	// its queue closed.
}

// stopAccepting has every loop close its listeners and waits until their sockets are closed.
func (g *uringEngine) stopAccepting() {
	onEveryLoop(g.loops, func(l *urLoop, wg *sync.WaitGroup) { l.stopAccepting(wg) })
}

// stop asks every loop to stop gracefully, escalates to a forced stop when ctx ends, and waits for the
// loops to exit. The loops' eventfds are closed only then, so that a late wake-up never writes to a
// descriptor number that was reused.
func (g *uringEngine) stop(ctx context.Context) error {
	err := stopLoops(ctx, g.loops, &g.wg)
	for _, l := range g.loops {
		l.closeWaker()
	}
	return err
}

// pickLoop returns the loop that gets the next connection from a single acceptor, by the engine's
// Balance.
func (g *uringEngine) pickLoop() *urLoop {
	if g.e.opts.balance == BalanceLeastConnections {
		return leastLoaded(g.loops)
	}
	l := g.loops[g.nextLB%uint32(len(g.loops))]
	g.nextLB++
	return l
}

// dialLoop returns the loop that gets the next connection of Dial, by the engine's Balance. Any
// goroutine may call it.
func (g *uringEngine) dialLoop() *urLoop {
	if g.e.opts.balance == BalanceLeastConnections {
		return leastLoaded(g.loops)
	}
	return g.loops[(g.nextDial.Add(1)-1)%uint32(len(g.loops))] // not the acceptor's cursor
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
)

// runHold is the idle variant of the echo mode, for measuring what an idle connection costs a server: it
// opens every connection, at most cfg.dialers connects at a time, and echoes one message on each as it
// opens; logs "holding" once they are all open and answered; keeps them open and silent for cfg.hold;
// then echoes once more on each (a server that dropped idle connections shows up as errors) and closes
// them. The measured window is the hold.
func runHold(ctx context.Context, cfg loadConfig, log io.Writer) (*loadReport, error) {
	r, err := newLoadRun(ctx, cfg, nil, cfg.addr)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	fmt.Fprintf(log, "eddy load: opening %s to %s, echoing once on each (engine %s, %s)\n",
		plural(cfg.conns, "connection"), cfg.addr, r.engine.Kind(), loopsText(len(r.shards)))
	t0 := time.Now()
	if err := r.openConns(log, cfg.addr); err != nil {
		return nil, err
	}
	r.awaitQuiet()
	if err := r.dialInterrupted(); err != nil {
		// Before the hold, with echoes unanswered: it said "holding N connections", and failed a
		// window of no time for completing no round trip, with no word of the echoes it waited for.
		return nil, err
	}
	open := r.live.Load()
	fmt.Fprintf(log, "eddy load: holding %s for %v (opened in %v)\n", plural(int(open), "connection"), cfg.hold, time.Since(t0).Round(time.Millisecond))

	start := time.Now()
	t := time.NewTimer(cfg.hold)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	held := time.Since(start)
	if ctx.Err() == nil {
		var sent sync.WaitGroup // every loop has counted its echoes in outstanding
		for _, sh := range r.shards {
			sent.Add(1)
			sh.loop.Execute(func() { sh.echoAll(); sent.Done() })
		}
		sent.Wait()
		r.awaitQuiet()
	}
	r.stop()
	rep := &loadReport{Mode: "echo --hold", Addr: cfg.addr, Conns: cfg.conns, Size: cfg.size, Pipeline: 1, Seconds: held.Seconds()}
	r.report(rep)
	rep.RoundTripsPerSec = 0 // not a throughput
	return rep, nil
}

// awaitQuiet waits until every echo sent has been answered (or its connection lost), for at most
// cfg.timeout, and counts those still unanswered then as errors.
func (r *loadRun) awaitQuiet() {
	t := time.NewTimer(r.cfg.timeout)
	defer t.Stop()
	for r.outstanding.Load() > 0 {
		select {
		case <-r.quiet:
		case <-t.C:
			// Each loop writes off its clients' echoes still in flight: counted once here, they leave
			// outstanding, and a late answer to one settles nothing (the clients of a connection lost
			// meanwhile settle theirs as they go, and are not here).
			var n atomic.Int64
			var swept sync.WaitGroup
			for _, sh := range r.shards {
				swept.Add(1)
				sh.loop.Execute(func() { n.Add(int64(sh.writeOff())); swept.Done() })
			}
			swept.Wait()
			if k := n.Load(); k > 0 {
				r.outstanding.Add(-k)
				r.dialErrs.addN(uint64(k), fmt.Errorf("%d echoes unanswered after %v", k, r.cfg.timeout))
				r.unanswered.Add(uint64(k))
			}
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// echoAll sends one message on every client of the shard (hold mode). It runs on the loop; on the std
// engine each message is sent from its connection's own callbacks, through Conn.Execute: it is in flight
// from the start (pushed here), so that a connection lost before it goes settles it, and an Execute
// refused counts an error and settles it.
func (sh *shard) echoAll() {
	sh.lock()
	now := sh.now()
	var held []*client
	var conns []eddy.Conn
	for _, cl := range sh.clients {
		if cl.n > 0 {
			continue // its first echo is still unanswered (and counted so: writeOff)
		}
		sh.r.outstanding.Add(1)
		if sh.locking {
			cl.push(now)
			held, conns = append(held, cl), append(conns, cl.conn)
		} else {
			cl.sendOne(now)
		}
	}
	sh.unlock()
	for i, c := range conns {
		err := c.Execute(func(c eddy.Conn) {
			if cl, ok := c.Context().(*client); ok {
				cl.shard.lock()
				if cl.n > 0 {
					cl.starts[cl.head] = cl.shard.now() // sent now: its latency counts from here
					cl.write()
				}
				cl.shard.unlock()
			}
		})
		if err != nil && !errors.Is(err, eddy.ErrClosed) {
			// Closed, the connection's OnClose loses the message, or did (a mismatch); refused, it is
			// an error here.
			cl := held[i]
			sh.lock()
			if cl.conn == c && cl.n > 0 {
				cl.fail(sh.now(), "the echo after the hold could not be sent: %v", err)
				cl.lose()
			}
			sh.unlock()
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// runHoldLoad is the idle variant of the echo mode, for measuring what an idle connection costs a
// server: it opens every connection and echoes one message on each as it opens, logs "holding" once
// they are all open, keeps them open and silent for cfg.hold, then echoes once more on each (a server
// that dropped idle connections shows up as errors) and closes them. The measured window is the hold.
func runHoldLoad(ctx context.Context, cfg loadConfig, log io.Writer) (*loadReport, error) {
	var (
		hist histogram
		errs errorCount
	)
	echoOnce := func(i int, c net.Conn, round uint64) error {
		m := newMessage(uint64(i), cfg.size)
		m.stamp(round)
		c.SetDeadline(time.Now().Add(cfg.timeout))
		defer c.SetDeadline(time.Time{})
		t0 := time.Now()
		if err := m.roundTrip(c); err != nil {
			err = fmt.Errorf("connection %d, round %d: %w", i, round, err)
			errs.add(err, false)
			return err
		}
		d := time.Since(t0)
		if err := m.verify(); err != nil {
			err = fmt.Errorf("connection %d, round %d: %w", i, round, err)
			errs.add(err, true)
			return err
		}
		hist.Record(d)
		return nil
	}

	fmt.Fprintf(log, "eddy load: opening %d connections to %s, echoing once on each\n", cfg.conns, cfg.addr)
	t0 := time.Now()
	ids := make(map[net.Conn]int, cfg.conns)
	var idsMu sync.Mutex
	conns := dialAll(ctx, cfg, &errs, func(i int, c net.Conn) error {
		idsMu.Lock()
		ids[c] = i
		idsMu.Unlock()
		return echoOnce(i, c, 0)
	})
	defer closeAll(conns)
	if len(conns) == 0 {
		return nil, fmt.Errorf("no connection could be opened to %s; first error: %s", cfg.addr, errs.first)
	}
	fmt.Fprintf(log, "eddy load: holding %d connections for %v (opened in %v)\n", len(conns), cfg.hold, time.Since(t0).Round(time.Millisecond))

	start := time.Now()
	select {
	case <-time.After(cfg.hold):
	case <-ctx.Done():
	}
	held := time.Since(start)

	if ctx.Err() == nil {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range min(cfg.dialers, len(conns)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := int(next.Add(1)) - 1; j < len(conns); j = int(next.Add(1)) - 1 {
					echoOnce(ids[conns[j]], conns[j], 1)
				}
			}()
		}
		wg.Wait()
	}

	r := &loadReport{
		Mode: "echo --hold", Addr: cfg.addr, Conns: cfg.conns, Open: len(conns), Size: cfg.size,
		Seconds:    held.Seconds(),
		RoundTrips: hist.Count(),
		Bytes:      hist.Count() * uint64(cfg.size),
		Latency:    summarize(&hist),
	}
	errs.fill(r)
	return r, nil
}

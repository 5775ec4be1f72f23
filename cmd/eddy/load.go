package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// loadCommand is "eddy load": a load generator. Each mode lives in its own file (load_<mode>.go) and
// fills in the same report; today there is the echo mode, with its idle variant selected by --hold.
var loadCommand = command{
	name:    "load",
	summary: "drive an echo server with many connections, verify every byte and report round trips and latency",
	usage:   "eddy load [--addr 127.0.0.1:9000] [--mode echo] [--conns N] [--size B] [--duration D | --hold D] [--json]",
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		var cfg loadConfig
		fs := flag.NewFlagSet("load", flag.ContinueOnError)
		fs.StringVar(&cfg.addr, "addr", "127.0.0.1:9000", "server `address`: host:port, tcp://host:port, tcp4://, tcp6:// or unix:///path")
		fs.StringVar(&cfg.mode, "mode", "echo", "load `mode`: echo (ping-pong, one message in flight per connection)")
		fs.IntVar(&cfg.conns, "conns", 100, "number of connections")
		fs.IntVar(&cfg.size, "size", 64, "message size in `bytes`")
		fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the measured window (0: until SIGINT or SIGTERM)")
		fs.DurationVar(&cfg.hold, "hold", 0, "idle mode: open every connection, echo once on each, then hold them all open for this `duration` and close them")
		fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "bound on each dial, and on each reply outside the measured window")
		fs.IntVar(&cfg.dialers, "dialers", 128, "connections dialled at once while opening them")
		fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
		return fs, func(ctx context.Context, stdout, stderr io.Writer) error { return runLoad(ctx, cfg, stdout, stderr) }
	},
}

// loadConfig is the configuration of a load run.
type loadConfig struct {
	addr     string
	mode     string
	conns    int
	size     int
	duration time.Duration
	hold     time.Duration
	timeout  time.Duration
	dialers  int
	json     bool
}

// loadModes maps each mode to the function that runs it. A mode opens its connections, generates its
// load, closes them and fills in the report; progress lines go to the log writer.
var loadModes = map[string]func(ctx context.Context, cfg loadConfig, log io.Writer) (*loadReport, error){
	"echo": runEchoLoad,
}

// check validates the configuration.
func (cfg loadConfig) check() error {
	if _, ok := loadModes[cfg.mode]; !ok {
		return usagef("load", "--mode %q: want echo", cfg.mode)
	}
	if _, _, err := splitAddr(cfg.addr); err != nil {
		return usagef("load", "--addr: %v", err)
	}
	switch {
	case cfg.conns < 1:
		return usagef("load", "--conns %d: want at least 1", cfg.conns)
	case cfg.size < 1 || cfg.size > 64<<20:
		return usagef("load", "--size %d: want 1..%d", cfg.size, 64<<20)
	case cfg.duration < 0:
		return usagef("load", "--duration %v: want 0 or more", cfg.duration)
	case cfg.hold < 0:
		return usagef("load", "--hold %v: want 0 or more", cfg.hold)
	case cfg.timeout <= 0:
		return usagef("load", "--timeout %v: want more than 0", cfg.timeout)
	case cfg.dialers < 1:
		return usagef("load", "--dialers %d: want at least 1", cfg.dialers)
	}
	return nil
}

// runLoad runs the configured mode, prints its report to stdout and fails when any error was counted.
func runLoad(ctx context.Context, cfg loadConfig, stdout, stderr io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	r, err := loadModes[cfg.mode](ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.writeText(stdout)
	}
	if r.Errors > 0 {
		return fmt.Errorf("%d errors (%d mismatched replies); first: %s", r.Errors, r.Mismatches, r.FirstError)
	}
	return nil
}

// loadReport is the outcome of a load run, printed as text or, with --json, as this JSON object.
type loadReport struct {
	Mode  string `json:"mode"`
	Addr  string `json:"addr"`
	Conns int    `json:"conns"` // connections asked for
	Open  int    `json:"open"`  // connections that were opened
	Size  int    `json:"size"`
	// Seconds is the measured window: the ping-pong time in echo mode, the hold time in idle mode.
	Seconds          float64 `json:"seconds"`
	RoundTrips       uint64  `json:"round_trips"` // replies received and verified
	RoundTripsPerSec float64 `json:"round_trips_per_sec"`
	Bytes            uint64  `json:"bytes"` // bytes echoed and verified
	Latency          latency `json:"latency"`
	// Errors counts every failure: dials, reads, writes, early closes and mismatched replies.
	Errors     uint64 `json:"errors"`
	Mismatches uint64 `json:"mismatches"` // replies whose bytes differ from what was sent
	FirstError string `json:"first_error,omitempty"`
}

// latency summarises a histogram of round-trip times, in nanoseconds.
type latency struct {
	P50  int64 `json:"p50_ns"`
	P99  int64 `json:"p99_ns"`
	Max  int64 `json:"max_ns"`
	Mean int64 `json:"mean_ns"`
}

// summarize reads the percentiles of h, once recording is over.
func summarize(h *histogram) latency {
	return latency{
		P50:  int64(h.Quantile(0.50)),
		P99:  int64(h.Quantile(0.99)),
		Max:  int64(h.Max()),
		Mean: int64(h.Mean()),
	}
}

// writeText prints the report for people, one aspect a line.
func (r *loadReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "mode         %s, %s\n", r.Mode, r.Addr)
	fmt.Fprintf(w, "connections  %d of %d open, %d-byte messages\n", r.Open, r.Conns, r.Size)
	fmt.Fprintf(w, "window       %.2fs\n", r.Seconds)
	if r.RoundTripsPerSec > 0 {
		fmt.Fprintf(w, "round trips  %d (%.0f/s), %d bytes verified\n", r.RoundTrips, r.RoundTripsPerSec, r.Bytes)
	} else {
		fmt.Fprintf(w, "round trips  %d, %d bytes verified\n", r.RoundTrips, r.Bytes)
	}
	d := func(ns int64) time.Duration { return roundSignificant(time.Duration(ns), 3) }
	fmt.Fprintf(w, "latency      p50 %v  p99 %v  max %v  mean %v\n", d(r.Latency.P50), d(r.Latency.P99), d(r.Latency.Max), d(r.Latency.Mean))
	fmt.Fprintf(w, "errors       %d (%d mismatched replies)\n", r.Errors, r.Mismatches)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", r.FirstError)
	}
}

// roundSignificant rounds d to n significant digits, for printing: 974.8µs and 5.18ms rather than
// 5.177301ms.
func roundSignificant(d time.Duration, n int) time.Duration {
	unit := time.Duration(1)
	for d/unit >= time.Duration(math.Pow10(n)) {
		unit *= 10
	}
	return d.Round(unit)
}

// errorCount counts the failures of a run from many goroutines and keeps the first one for the report.
type errorCount struct {
	n          atomic.Uint64
	mismatches atomic.Uint64
	once       sync.Once
	first      string
}

// add counts err; a mismatch is also counted as one.
func (e *errorCount) add(err error, mismatch bool) {
	e.n.Add(1)
	if mismatch {
		e.mismatches.Add(1)
	}
	e.once.Do(func() { e.first = err.Error() })
}

// fill copies the counts into r; it is called once the goroutines that add are done.
func (e *errorCount) fill(r *loadReport) {
	r.Errors, r.Mismatches, r.FirstError = e.n.Load(), e.mismatches.Load(), e.first
}

// dialAll opens cfg.conns connections, at most cfg.dialers at a time so that the server's accept queue
// does not overflow (a dropped SYN costs a second of retransmission). Each connection, once open, is
// passed to setup on the dialling goroutine, which may use it (the idle mode echoes once there); a
// connection for which setup fails is closed and left out. Failed dials are counted in errs. dialAll
// returns the connections kept, in no particular order, and stops dialling when ctx is done.
func dialAll(ctx context.Context, cfg loadConfig, errs *errorCount, setup func(i int, c net.Conn) error) []net.Conn {
	network, address, _ := splitAddr(cfg.addr) // checked by cfg.check
	d := net.Dialer{Timeout: cfg.timeout}
	var (
		mu    sync.Mutex
		conns = make([]net.Conn, 0, cfg.conns)
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for range min(cfg.dialers, cfg.conns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.conns || ctx.Err() != nil {
					return
				}
				c, err := d.DialContext(ctx, network, address)
				if err != nil {
					if ctx.Err() == nil {
						errs.add(err, false)
					}
					continue
				}
				if setup != nil {
					if err := setup(i, c); err != nil {
						c.Close()
						continue
					}
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return conns
}

// closeAll closes every connection.
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// bench holds what every run of a benchmark needs.
type bench struct {
	cfg  benchConfig
	pin  pinning
	cpu  cpuReader  // nil where the CPU time of another process cannot be read
	core coreReader // nil where the server's CPU is not known (not pinned) or cannot be read
	pids []int      // every child started, for the report (and the tests: none may be left)
}

// benchRun is one run: one server on one case in one round.
type benchRun struct {
	Case   string `json:"case"`
	Server string `json:"server"`
	Round  int    `json:"round"`
	Error  string `json:"error,omitempty"` // a failed run; it counts in no median

	Seconds   float64 `json:"seconds"` // the load generator's measured window
	Ops       uint64  `json:"ops"`     // round trips or requests in the window
	OpsPerSec float64 `json:"ops_per_sec"`
	P50       int64   `json:"p50_ns"`
	P99       int64   `json:"p99_ns"`
	// LoadErrors counts the load generator's errors; FirstError is the first of them.
	LoadErrors uint64 `json:"load_errors"`
	FirstError string `json:"first_error,omitempty"`
	// LoadEngine is the engine the load generator ran on (its --engine auto: uring where the kernel has
	// it), which sets what a round trip costs the load generator and so how hard it can drive a server.
	LoadEngine string `json:"load_engine,omitempty"`

	// CPU figures are absent where CPU time is not measured. ServerCPU is the server's user plus system
	// time over the window; OpsPerCPU round trips (requests) per server CPU-second; LoadCPU the load
	// generator's CPU-seconds per second of window (near 1 with pinning: the client was the limit).
	ServerCPU *float64 `json:"server_cpu_s,omitempty"`
	OpsPerCPU *float64 `json:"ops_per_cpu_s,omitempty"`
	LoadCPU   *float64 `json:"load_cpu,omitempty"`
	// CoreOthers is the share of the server's CPU that other processes (and the hypervisor) took in the
	// window; present when the server is pinned. It says how much the run was disturbed.
	CoreOthers *float64 `json:"core_others,omitempty"`
}

// line summarises the run on one progress line.
func (r *benchRun) line() string {
	if r.Error != "" {
		return "error: " + r.Error
	}
	s := fmt.Sprintf("%9s/s  p99 %-8v", thousands(r.OpsPerSec), roundSignificant(time.Duration(r.P99), 3))
	if r.ServerCPU != nil {
		s += fmt.Sprintf("  cpu %.2fs  %9s per cpu-s", *r.ServerCPU, thousands(*r.OpsPerCPU))
	}
	if r.LoadCPU != nil {
		s += fmt.Sprintf("  load gen cpu %.2f", *r.LoadCPU)
	}
	if r.CoreOthers != nil {
		s += fmt.Sprintf("  others %2.0f%%", 100**r.CoreOthers)
	}
	if r.LoadErrors > 0 {
		s += fmt.Sprintf("  (%d load errors: %s)", r.LoadErrors, r.FirstError)
	}
	return s
}

// benchLoadReport is what eddy bench reads of eddy load's --json report (the same fields in echo and
// http mode).
type benchLoadReport struct {
	Mode             string  `json:"mode"`
	Conns            int     `json:"conns"`
	Open             int     `json:"open"`
	Seconds          float64 `json:"seconds"`
	RoundTrips       uint64  `json:"round_trips"`
	RoundTripsPerSec float64 `json:"round_trips_per_sec"`
	Latency          struct {
		P50 int64 `json:"p50_ns"`
		P99 int64 `json:"p99_ns"`
	} `json:"latency"`
	Errors     uint64 `json:"errors"`
	FirstError string `json:"first_error"`
	Engine     string `json:"engine"`
}

// errNotStarted is a server that exited before it listened, for instance because this kernel lacks the
// engine asked for. The bench skips that server from then on.
type errNotStarted struct{ reason string }

func (e *errNotStarted) Error() string { return "exited before listening: " + e.reason }

// errLoadCannot is a load generator that does not know how to drive a case: it rejected its command
// line (exit code 2, no report, and eddy's pointer to its usage), as an eddy load without the mode does.
// The bench skips that case.
type errLoadCannot struct{ reason string }

func (e *errLoadCannot) Error() string {
	return "eddy load cannot run this case (it rejected its command line: " + e.reason + ")"
}

// Bounds on the waits of a run.
const (
	listenTimeout = 10 * time.Second // from a server's start to its "listening" line
	serverGrace   = 5 * time.Second  // from SIGTERM to SIGKILL when stopping a server
	loadGrace     = 30 * time.Second // how much longer than the duration a load generator may take, connecting included
	sampleEvery   = 50 * time.Millisecond
	// serverExitWait is how long a run whose load generator failed waits to see whether the server
	// exited, the likelier cause.
	serverExitWait = 250 * time.Millisecond
)

// listeningLine finds the address in a server's "listening on <addr>" log line.
var listeningLine = regexp.MustCompile(`listening on (\S+)`)

// measure runs server s on case c once: it starts the server, drives it with eddy load, samples CPU time
// meanwhile, and stops both.
func (b *bench) measure(ctx context.Context, c benchCase, s benchServer, round int) (benchRun, error) {
	r := benchRun{Case: c.ID, Server: s.Name, Round: round}
	sp, err := b.start(s.Name, b.pin.serverCPU, true, append(s.args, "--addr", "tcp://127.0.0.1:0"))
	if err != nil {
		return r, err
	}
	defer sp.stop(serverGrace)
	addr, err := awaitListening(ctx, sp)
	if err != nil {
		return r, err
	}

	args := []string{"load", "--json", "--conns", strconv.Itoa(c.Conns), "--duration", b.cfg.duration.String()}
	switch c.Kind {
	case kindEcho:
		args = append(args, "--mode", "echo", "--addr", addr, "--size", strconv.Itoa(c.Size))
	case kindHTTP:
		args = append(args, "--mode", "http", "--url", "http://"+addr+"/")
	}
	lp, err := b.start("eddy load", b.pin.loadCPU, false, args)
	if err != nil {
		return r, err
	}
	// One deadline for the whole of the load generator's run, connecting included: one that never says
	// it runs is given up on then, not waited for a second time.
	deadline := lp.started.Add(b.cfg.duration + loadGrace)
	// Sample both processes' CPU time until the load generator exits, and note when it says its window
	// starts (every connection open); the CPU window is then cut to match the load generator's.
	samples := b.sample(sp.pid(), lp.pid(), lp.done)
	defer func() {
		lp.stop(time.Second)
		samples() // the sampling ends with the load generator
	}()
	windowStart := lp.started
	if t, ok := awaitPrefix(ctx, lp, "eddy load: running", time.Until(deadline)); ok {
		windowStart = t
	}
	select {
	case <-lp.done:
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(time.Until(deadline)):
		return r, fmt.Errorf("eddy load still running %v after its duration", loadGrace)
	}
	trace := samples()

	rep, err := loadResult(lp)
	if err != nil || rep.Errors > 0 {
		// A load generator that failed, or counted errors, may have done so because the server died:
		// give its end the time to be seen (it is reaped as its standard error closes), so that the
		// run's error is the server's, not the load generator's "connection refused" that it caused.
		select {
		case <-sp.done:
		case <-time.After(serverExitWait):
		}
	}
	if sp.exited() {
		return r, fmt.Errorf("the server exited during the run: %s", sp.why(listeningLine.MatchString))
	}
	if err != nil {
		return r, err
	}
	r.Seconds, r.Ops, r.OpsPerSec = rep.Seconds, rep.RoundTrips, rep.RoundTripsPerSec
	r.P50, r.P99 = rep.Latency.P50, rep.Latency.P99
	r.LoadErrors, r.FirstError, r.LoadEngine = rep.Errors, rep.FirstError, rep.Engine
	if b.cpu != nil {
		r.fillCPU(trace.window(windowStart, windowStart.Add(time.Duration(rep.Seconds*float64(time.Second)))))
	}
	if rep.RoundTrips == 0 {
		if rep.Errors > 0 {
			return r, fmt.Errorf("eddy load: no round trip, %d errors; first: %s", rep.Errors, rep.FirstError)
		}
		return r, errors.New("eddy load: no round trip")
	}
	return r, nil
}

// start starts "eddy args..." as a child pinned to cpu, with GOMAXPROCS=1 for servers (and for the load
// generator when it is pinned, so that it keeps to its CPU).
func (b *bench) start(name string, cpu int, server bool, args []string) (*child, error) {
	argv, env := b.cfg.command(args)
	argv = b.pin.wrap(cpu, argv)
	if server || b.pin.pinned() {
		env = append(env, "GOMAXPROCS=1")
	}
	c, err := startChild(name, argv, env)
	if err != nil {
		return nil, err
	}
	b.pids = append(b.pids, c.pid())
	return c, nil
}

// awaitListening waits for the server's "listening on" line and returns the address in it.
func awaitListening(ctx context.Context, sp *child) (string, error) {
	timeout := time.After(listenTimeout)
	for {
		select {
		case line, ok := <-sp.lines:
			if !ok {
				<-sp.done
				return "", &errNotStarted{reason: sp.why(nil)}
			}
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				return m[1], nil
			}
		case <-timeout:
			return "", fmt.Errorf("not listening after %v", listenTimeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// awaitPrefix waits for a standard error line of p that starts with prefix, and returns when it was
// read. It gives up when p's standard error ends, ctx ends or timeout passes.
func awaitPrefix(ctx context.Context, p *child, prefix string, timeout time.Duration) (time.Time, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return time.Time{}, false
			}
			if strings.HasPrefix(line, prefix) {
				return time.Now(), true
			}
		case <-deadline:
			return time.Time{}, false
		case <-ctx.Done():
			return time.Time{}, false
		}
	}
}

// loadResult reads the report of a load generator that has exited. eddy load exits with 1 when it
// counted errors and still prints its report; with 2, no report and its last line pointing to its usage
// ("Run 'eddy help load' for usage.") it did not understand its command line, which means it cannot run
// the case. A Go program that crashes exits with 2 too, without that line: its run fails.
func loadResult(lp *child) (*benchLoadReport, error) {
	out := bytes.TrimSpace(lp.stdout.Bytes())
	if len(out) == 0 {
		if lp.exitCode() == exitUsage && strings.HasPrefix(lp.lastLine(), "Run 'eddy help") {
			return nil, &errLoadCannot{reason: lp.firstLine()}
		}
		return nil, errors.New("eddy load: " + lp.why(nil))
	}
	var rep benchLoadReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("eddy load: reading its report: %w", err)
	}
	return &rep, nil
}

// cpuReader returns the CPU time (user plus system, all threads) that process pid has used so far.
type cpuReader func(pid int) (time.Duration, error)

// coreReader returns how long CPU cpu has been busy running processes (user, nice and system time, and
// time stolen by the hypervisor) and how long it has been up, so far.
type coreReader func(cpu int) (busy, total time.Duration, err error)

// cpuSample is the CPU time of the server and of the load generator at one moment, and the busy and
// total time of the server's CPU (zero when not known).
type cpuSample struct {
	at                  time.Time
	server, load        time.Duration
	coreBusy, coreTotal time.Duration
}

// cpuTrace is the samples of one run, in time order.
type cpuTrace []cpuSample

// sample reads the CPU time of both processes every sampleEvery until done is closed. The function it
// returns waits for the sampling to end and returns the samples.
func (b *bench) sample(server, load int, done <-chan struct{}) func() cpuTrace {
	if b.cpu == nil {
		return func() cpuTrace { return nil }
	}
	var (
		trace cpuTrace
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			s, errS := b.cpu(server)
			l, errL := b.cpu(load)
			if errS != nil || errL != nil {
				return // one of them has exited
			}
			sample := cpuSample{at: time.Now(), server: s, load: l}
			if b.core != nil {
				sample.coreBusy, sample.coreTotal, _ = b.core(b.pin.serverCPU)
			}
			trace = append(trace, sample)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() cpuTrace {
		wg.Wait()
		return trace
	}
}

// cpuWindow is the CPU time of both processes, and the busy and total time of the server's CPU, between
// two samples.
type cpuWindow struct {
	span                time.Duration // between the two samples
	server, load        time.Duration
	coreBusy, coreTotal time.Duration
}

// window returns the CPU time used between the first sample at or after from and the last at or before
// to: the part of the run in which every connection was open and the load ran. It returns a zero span
// when fewer than two samples fall inside.
func (t cpuTrace) window(from, to time.Time) cpuWindow {
	first, last := -1, -1
	for i, s := range t {
		if first < 0 && !s.at.Before(from) {
			first = i
		}
		if !s.at.After(to) {
			last = i
		}
	}
	if first < 0 || last <= first {
		return cpuWindow{}
	}
	a, z := t[first], t[last]
	return cpuWindow{span: z.at.Sub(a.at), server: z.server - a.server, load: z.load - a.load,
		coreBusy: z.coreBusy - a.coreBusy, coreTotal: z.coreTotal - a.coreTotal}
}

// fillCPU sets the CPU figures of r from the window w sampled inside the load generator's window of
// r.Seconds: the server's CPU time is scaled from w's span to r.Seconds, and divides r.Ops.
func (r *benchRun) fillCPU(w cpuWindow) {
	if w.span <= 0 || w.server <= 0 || r.Seconds <= 0 {
		return
	}
	scale := r.Seconds / w.span.Seconds()
	cpu := w.server.Seconds() * scale
	perCPU := float64(r.Ops) / cpu
	load := w.load.Seconds() / w.span.Seconds()
	r.ServerCPU, r.OpsPerCPU, r.LoadCPU = &cpu, &perCPU, &load
	if w.coreTotal > 0 {
		// The server is pinned, so all its time was spent on that CPU; the rest of the busy time was
		// others'. Busy counts interrupt time (see platformCore): the server's own CPU time already
		// holds the interrupts that landed while it ran, its loopback traffic's softirq work among them.
		others := max(0, float64(w.coreBusy-w.server)/float64(w.coreTotal))
		r.CoreOthers = &others
	}
}

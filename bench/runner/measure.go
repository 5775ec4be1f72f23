package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// runner holds what every measurement needs.
type runner struct {
	cfg     config
	procs   procs
	ticks   int64  // clock ticks per second (getconf CLK_TCK)
	eddyCLI string // the eddy binary, for eddy load
	wrk     string // the wrk binary, or "" when HTTP cases are skipped
}

// result is one run: one server on one case in one round. Throughput fields are zero for idle runs and
// memory fields zero for the others.
type result struct {
	Case   string `json:"case"`
	Server string `json:"server"`
	Round  int    `json:"round"`
	Error  string `json:"error,omitempty"` // a failed run; it counts in no median

	Window     float64 `json:"window_s"` // the measured window as the runner timed it
	Ops        uint64  `json:"ops"`      // round trips or requests in the window
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50        float64 `json:"p50_us"`
	P99        float64 `json:"p99_us"`
	LoadErrors uint64  `json:"load_errors"` // errors the load generator counted
	// LoadErrorDetail is the load generator's own account of its errors (its first error, or wrk's
	// error lines).
	LoadErrorDetail string `json:"load_error_detail,omitempty"`

	UserSeconds float64 `json:"user_s"` // server CPU in the window, from /proc/PID/stat
	SysSeconds  float64 `json:"sys_s"`
	OpsPerCPU   float64 `json:"ops_per_cpu_s"` // round trips (requests) per server CPU-second
	// CoreOthers is the share of the server's core that other processes (and the hypervisor's steal)
	// took in the window; LoadGenCPU the load generator's CPU seconds per second of window.
	CoreOthers float64 `json:"core_others"`
	LoadGenCPU float64 `json:"loadgen_cpu"`

	Open      int     `json:"open,omitempty"` // idle: connections held open
	RSSBefore int64   `json:"rss_before,omitempty"`
	RSSAfter  int64   `json:"rss_after,omitempty"`
	PerConn   float64 `json:"rss_per_conn,omitempty"` // bytes
	RSSPeak   int64   `json:"rss_peak,omitempty"`     // VmHWM at the end of the run

	LoadAvg float64 `json:"load_avg"` // one-minute load average when the run started
}

// cpuSeconds is the server's user plus system time in the window.
func (r *result) cpuSeconds() float64 { return r.UserSeconds + r.SysSeconds }

// measure runs srv on c once and fills r. A server that exits before listening is reported as an
// errNotStarted.
func (rn *runner) measure(ctx context.Context, srv server, c benchCase, r *result) error {
	r.LoadAvg = loadAverage()
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	argv := append([]string{srv.bin}, expand(srv.args, addr)...)
	argv = append(argv, "-addr", addr)
	sp, err := rn.procs.start(srv.Name, rn.cfg.serverCPU, []string{"GOMAXPROCS=1"}, argv...)
	if err != nil {
		return err
	}
	defer sp.stop(5 * time.Second)
	if err := waitListening(ctx, sp, addr, 10*time.Second); err != nil {
		return err
	}
	switch c.Kind {
	case kindEcho:
		err = rn.echo(ctx, sp, addr, c, r)
	case kindIdle:
		err = rn.idle(ctx, sp, addr, c, r)
	case kindHTTP:
		err = rn.http(ctx, sp, addr, c, r)
	}
	if err == nil && sp.exited() {
		err = fmt.Errorf("server exited during the run: %s", sp.stderr.last())
	}
	if peak, perr := statusBytes(sp.pid, "VmHWM"); perr == nil {
		r.RSSPeak = peak
	}
	return err
}

// expand replaces {addr} in args.
func expand(args []string, addr string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "{addr}", addr)
	}
	return out
}

// loadReport is the part of eddy load's --json report the runner reads.
type loadReport struct {
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
}

// startLoad starts eddy load pinned to the load CPU with the given flags after --addr, --json and
// --engine.
func (rn *runner) startLoad(addr string, flags ...string) (*proc, error) {
	argv := append([]string{rn.eddyCLI, "load", "--addr", addr, "--json", "--engine", rn.cfg.loadEng}, flags...)
	return rn.procs.start("eddy load", rn.cfg.loadCPU, []string{"GOMAXPROCS=1"}, argv...)
}

// awaitLine waits until p prints a standard error line that starts with prefix, and returns when it saw
// it. It fails when p exits first, ctx ends, or timeout passes.
func awaitLine(ctx context.Context, p *proc, prefix string, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return time.Time{}, fmt.Errorf("eddy load ended before %q: %v", prefix, p.wait(ctx))
			}
			if strings.HasPrefix(line, prefix) {
				return time.Now(), nil
			}
		case <-deadline:
			return time.Time{}, fmt.Errorf("eddy load: no %q after %v", prefix, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// Bounds on how long a load generator may run.
const (
	// loadGrace is how long after the end of its run a load generator may take to exit: eddy load bounds
	// the closing of its connections at 5 s, a second less; one that takes longer is stuck.
	loadGrace = 6 * time.Second
	// holdTimeout is the --timeout of eddy load --hold: its bound on the dials and on the echo it sends
	// on every connection when the hold ends.
	holdTimeout = 10 * time.Second
)

// finishLoad waits for a load generator that should have ended by end to exit (for loadGrace more at
// most) and decodes its JSON report. eddy load exits with an error when it counted errors, and still
// prints its report: the report is kept and the errors counted.
func finishLoad(ctx context.Context, p *proc, end time.Time) (*loadReport, error) {
	werr := p.waitEnd(ctx, end, loadGrace)
	if errors.Is(werr, context.Canceled) || errors.Is(werr, context.DeadlineExceeded) || errors.Is(werr, errStillRunning) {
		return nil, werr
	}
	var rep loadReport
	if err := json.Unmarshal(p.stdout.Bytes(), &rep); err != nil {
		if werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("eddy load: reading its report: %w", err)
	}
	return &rep, nil
}

// cpuWindow samples CPU time at the start and the end of a measured window: the server's, the load
// generator's, and how busy the server's core was in all (from /proc/stat), to tell how much of that core
// other processes took.
type cpuWindow struct {
	server, load int // PIDs
	core         int // the server's CPU
	start        time.Time
	user, sys    int64 // server ticks at the start
	loadTicks    int64 // load generator ticks (user + sys) at the start
	coreBusy     int64 // the core's busy and total ticks at the start
	coreTotal    int64
}

// begin samples the start of the window.
func (w *cpuWindow) begin(server, load, core int) error {
	w.server, w.load, w.core, w.start = server, load, core, time.Now()
	var err error
	if w.user, w.sys, err = cpuTicks(server); err != nil {
		return err
	}
	if u, s, err := cpuTicks(load); err == nil {
		w.loadTicks = u + s
	}
	w.coreBusy, w.coreTotal, _ = coreTicks(core)
	return nil
}

// end samples the end of the window and writes the window and the CPU figures into r.
func (w *cpuWindow) end(ticks int64, r *result) error {
	u, s, err := cpuTicks(w.server)
	if err != nil {
		return err
	}
	r.Window = time.Since(w.start).Seconds()
	r.UserSeconds = float64(u-w.user) / float64(ticks)
	r.SysSeconds = float64(s-w.sys) / float64(ticks)
	if lu, ls, err := cpuTicks(w.load); err == nil && r.Window > 0 {
		r.LoadGenCPU = float64(lu+ls-w.loadTicks) / float64(ticks) / r.Window
	}
	if busy, total, err := coreTicks(w.core); err == nil && total > w.coreTotal {
		others := float64(busy-w.coreBusy-(u-w.user)-(s-w.sys)) / float64(total-w.coreTotal)
		r.CoreOthers = max(0, others)
	}
	return nil
}

// windowMargin is how much earlier than the load generator's own window the CPU window ends.
const windowMargin = 100 * time.Millisecond

// echo drives an echo server with eddy load for the configured duration.
func (rn *runner) echo(ctx context.Context, sp *proc, addr string, c benchCase, r *result) error {
	lp, err := rn.startLoad(addr,
		"--conns", strconv.Itoa(c.Conns), "--size", strconv.Itoa(c.Size),
		"--duration", rn.cfg.duration.String())
	if err != nil {
		return err
	}
	return rn.drive(ctx, sp, lp, r)
}

// http drives an HTTP server with eddy load --mode http (keep-alive GET /, one request in flight per
// connection) for the configured duration, or with wrk under --http-load wrk.
func (rn *runner) http(ctx context.Context, sp *proc, addr string, c benchCase, r *result) error {
	if rn.cfg.httpLoad == "wrk" {
		return rn.httpWrk(ctx, sp, addr, c, r)
	}
	lp, err := rn.startLoad(addr, "--mode", "http", "--url", "http://"+addr+"/",
		"--conns", strconv.Itoa(c.Conns), "--duration", rn.cfg.duration.String())
	if err != nil {
		return err
	}
	return rn.drive(ctx, sp, lp, r)
}

// drive follows the eddy load lp against the server sp and fills r. The CPU window opens when eddy load
// says it starts the load (every connection is open by then) and closes the duration later, as eddy
// load's own window does, so neither connecting nor closing is counted. An eddy load still running
// loadGrace after its window's end fails the run.
func (rn *runner) drive(ctx context.Context, sp, lp *proc, r *result) error {
	defer lp.stop(3 * time.Second)
	if _, err := awaitLine(ctx, lp, "eddy load: running", 60*time.Second); err != nil {
		return err
	}
	var w cpuWindow
	if err := w.begin(sp.pid, lp.pid, rn.cfg.serverCPU); err != nil {
		return err
	}
	// End the CPU window a little before eddy load's own (which started a moment before its line was
	// read), so that the load generator is still there to be sampled.
	select {
	case <-time.After(rn.cfg.duration - windowMargin):
	case <-lp.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := w.end(rn.ticks, r); err != nil {
		return err
	}
	rep, err := finishLoad(ctx, lp, w.start.Add(rn.cfg.duration))
	if err != nil {
		return err
	}
	r.Ops, r.OpsPerSec = rep.RoundTrips, rep.RoundTripsPerSec
	r.P50, r.P99 = float64(rep.Latency.P50)/1e3, float64(rep.Latency.P99)/1e3
	r.LoadErrors, r.LoadErrorDetail = rep.Errors, rep.FirstError
	if cpu := r.cpuSeconds(); cpu > 0 {
		// Round trips counted by eddy load over CPU counted by the runner, both over the same window
		// up to the sampling skew (a few milliseconds against seconds).
		r.OpsPerCPU = float64(r.Ops) / cpu * (r.Window / max(rep.Seconds, 1e-9))
	}
	if rep.Errors > 0 && rep.RoundTrips == 0 {
		return fmt.Errorf("eddy load: %d errors; first: %s", rep.Errors, rep.FirstError)
	}
	return nil
}

// idle measures what idle connections cost the server: VmRSS once the server listens, and again once
// eddy load --hold has opened every connection (echoing once on each) and the server has settled.
func (rn *runner) idle(ctx context.Context, sp *proc, addr string, c benchCase, r *result) error {
	time.Sleep(rn.cfg.settle) // let the listening server finish its start-up allocations
	before, err := statusBytes(sp.pid, "VmRSS")
	if err != nil {
		return err
	}
	hold := rn.cfg.settle + 2*time.Second
	lp, err := rn.startLoad(addr,
		"--conns", strconv.Itoa(c.Conns), "--size", strconv.Itoa(c.Size),
		"--hold", hold.String(), "--timeout", holdTimeout.String())
	if err != nil {
		return err
	}
	defer lp.stop(3 * time.Second)
	held, err := awaitLine(ctx, lp, "eddy load: holding", 120*time.Second)
	if err != nil {
		return err
	}
	select {
	case <-time.After(rn.cfg.settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := statusBytes(sp.pid, "VmRSS")
	if err != nil {
		return err
	}
	// eddy load holds, then echoes once on every connection, for holdTimeout at most, and exits.
	rep, err := finishLoad(ctx, lp, held.Add(hold+holdTimeout))
	if err != nil {
		return err
	}
	r.Open, r.RSSBefore, r.RSSAfter = rep.Open, before, after
	r.LoadErrors, r.LoadErrorDetail = rep.Errors, rep.FirstError
	if rep.Open == 0 {
		return fmt.Errorf("eddy load opened no connection: %s", rep.FirstError)
	}
	r.PerConn = float64(after-before) / float64(rep.Open)
	return nil
}

// httpWrk drives an HTTP server with wrk (one thread, keep-alive, GET /) for the configured duration, the
// cross-check of eddy load's http mode. wrk does not say when its connections are open, so the CPU window
// starts when wrk does and lasts the duration less windowMargin: it includes the connecting, which at
// these counts takes milliseconds. parseWrk scales wrk's count to that window.
func (rn *runner) httpWrk(ctx context.Context, sp *proc, addr string, c benchCase, r *result) error {
	secs := max(1, int(rn.cfg.duration.Round(time.Second)/time.Second))
	lp, err := rn.procs.start("wrk", rn.cfg.loadCPU, nil, rn.wrk,
		"-t1", "-c"+strconv.Itoa(c.Conns), "-d"+strconv.Itoa(secs)+"s", "--latency", "http://"+addr+"/")
	if err != nil {
		return err
	}
	defer lp.stop(3 * time.Second)
	var w cpuWindow
	if err := w.begin(sp.pid, lp.pid, rn.cfg.serverCPU); err != nil {
		return err
	}
	select {
	case <-time.After(time.Duration(secs)*time.Second - windowMargin):
	case <-lp.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := w.end(rn.ticks, r); err != nil {
		return err
	}
	if err := lp.waitEnd(ctx, w.start.Add(time.Duration(secs)*time.Second), loadGrace); err != nil {
		return err
	}
	return parseWrk(lp.stdout.String(), r)
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m)`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP50      = regexp.MustCompile(`\n\s+50%\s+([\d.]+)(us|ms|s)`)
	wrkP99      = regexp.MustCompile(`\n\s+99%\s+([\d.]+)(us|ms|s)`)
	wrkErrors   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads requests, rate, latency percentiles and errors from wrk --latency output into r.
func parseWrk(out string, r *result) error {
	m := wrkRequests.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	if m == nil || rate == nil {
		return fmt.Errorf("wrk: unexpected output %q", out)
	}
	r.Ops, _ = strconv.ParseUint(m[1], 10, 64)
	r.OpsPerSec, _ = strconv.ParseFloat(rate[1], 64)
	if p := wrkP50.FindStringSubmatch(out); p != nil {
		r.P50 = micros(p[1], p[2])
	}
	if p := wrkP99.FindStringSubmatch(out); p != nil {
		r.P99 = micros(p[1], p[2])
	}
	var detail []string
	for _, e := range wrkErrors.FindAllStringSubmatch(out, -1) {
		for _, n := range e[1:] {
			v, _ := strconv.ParseUint(n, 10, 64)
			r.LoadErrors += v
		}
		detail = append(detail, e[0])
	}
	r.LoadErrorDetail = strings.Join(detail, "; ")
	// wrk counts requests over its whole run (secs, as it prints it), the CPU window is shorter
	// (windowMargin less, and cut short if wrk ended early): scale wrk's rate to the window, as drive
	// does eddy load's count, so that requests and CPU cover the same time.
	perSec := r.OpsPerSec
	if secs := micros(m[2], m[3]) / 1e6; secs > 0 {
		perSec = float64(r.Ops) / secs
	}
	if cpu := r.cpuSeconds(); cpu > 0 && r.Window > 0 {
		r.OpsPerCPU = perSec * r.Window / cpu
	}
	return nil
}

// micros converts a wrk duration (number and unit) to microseconds.
func micros(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "ms":
		return f * 1e3
	case "s":
		return f * 1e6
	case "m":
		return f * 60e6
	}
	return f
}

// lookWrk returns the path of wrk, or "".
func lookWrk() string {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return ""
	}
	return p
}

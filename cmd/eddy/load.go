package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddyio/eddy"
)

// loadCommand is "eddy load": a load generator built on eddy's own outbound connections. A dial-only
// engine (eddy.New with no address) opens the connections with Engine.Dial, and the handler's callbacks
// drive the load on the engine's loops: no goroutine per connection. The echo mode is in load_echo.go,
// the http mode in load_http.go, the idle variant (--hold) in load_hold.go; load_run.go and load_shard.go
// hold what they share.
//
// A run fails (exit 1) when it counted an error or completed no round trip. The requests still unanswered
// when the window closes are reported as pending; those sent (or, with --rate, scheduled) more than
// --timeout before are errors, and so are all of them in a run that got no reply at all: a server that
// does not answer, or answers short (an echo missing a byte, a body shorter than its Content-Length),
// fails the run rather than passing with no errors.
//
// With --rate the run is open loop: the requests are due on a fixed schedule, and each one's latency
// counts from when it was due, not from when a connection was free to send it (no coordinated
// omission). The report says at what rate the requests went out, and how many were due but unsent when the
// window closed, every connection being busy; below 90% of the rate asked it warns that the run fell
// behind. That is no error, and does not change the exit status: a rate the server cannot carry is a
// measurement (where it saturates, what latency it costs), not a failure, and a script sweeping rates
// reads sent_per_sec and unsent from --json.
var loadCommand = command{
	name:    "load",
	summary: "drive an echo or HTTP/1.1 server with many connections from an eddy engine, verify every reply and report throughput and latency",
	usage: "eddy load [--mode echo|http] [--addr 127.0.0.1:9000 | --url http[s]://host:port/path] [--insecure] [--engine auto|epoll|uring|std] [--loops N]\n" +
		"\t[--conns N] [--pipeline N] [--size B] [--method GET|POST|HEAD] [--body-size B] [--expect-status S]\n" +
		"\t[--duration D] [--requests N] [--rate R] [--hold D] [--timeout D] [--dialers N] [--json] [--cpuprofile F]",
	notes: "It fails (exit 1) when it counts an error or completes no round trip. Requests still unanswered\n" +
		"when the window closes are reported as pending; those unanswered for longer than --timeout are\n" +
		"errors, and so are all of them when no request at all was answered.\n" +
		"\nThe connections are opened before the window starts, --dialers at a time, each dial bounded\n" +
		"by --timeout. Once no connection has opened for --timeout (a server that is not accepting: its\n" +
		"accept queue full), no more dials are made: those not made are errors, and the window runs on\n" +
		"the connections open, or, with none, the run fails (exit 1) without one.\n" +
		"\nWith --rate, latency counts from each request's scheduled time, including any wait for a free\n" +
		"connection. The report gives the rate the requests went out at and the requests unsent: due by\n" +
		"the schedule when the window closed, but never sent, every connection being busy. Below 90% of\n" +
		"the rate asked it warns that the run fell behind; that is not an error.\n" +
		"\nWith --json the report is one JSON object: mode, addr (the address dialled), url (http mode),\n" +
		"engine and loops (the load generator's), conns (asked for), open (opened), size (of the messages,\n" +
		"or in http mode of the request bodies), pipeline, rate (asked for, with --rate), seconds (the\n" +
		"measured window), round_trips (echoes verified, responses with a good status, within the window)\n" +
		"and round_trips_per_sec, bytes (of the echoes verified, or of the responses read, in the window),\n" +
		"latency (p50_ns, p90_ns, p99_ns, p999_ns, max_ns and mean_ns, of the round trips, in nanoseconds),\n" +
		"sent and sent_per_sec (with --rate: the requests of the schedule sent, and the rate they went out\n" +
		"at), unsent, pending and pending_oldest_ns (the requests unanswered when the window closed, and\n" +
		"the age of the oldest), errors (all of them), mismatches (echoes that differ from the message sent),\n" +
		"status_errors (responses with a bad status), unanswered (the pending requests that are errors)\n" +
		"and first_error. The text report gives the same figures.\n" +
		"\nThe flags marked \"echo mode:\" or \"http mode:\" below apply to that mode only: given to a run of\n" +
		"the other mode, they are refused (exit 2). --insecure with an http:// URL is only warned of.",
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		var cfg loadConfig
		fs := flag.NewFlagSet("load", flag.ContinueOnError)
		fs.StringVar(&cfg.mode, "mode", "echo", "load `mode`: echo (messages echoed back and verified byte for byte) or http (HTTP/1.1 requests, keep-alive)")
		fs.StringVar(&cfg.addr, "addr", "127.0.0.1:9000", "server `address`: "+addrForms+" (in http mode, where to connect instead of the URL's host)")
		fs.StringVar(&cfg.url, "url", "", "http mode: the `URL` to request, http://host[:port]/path or https:// (default http://<addr>/); implies --mode http")
		fs.BoolVar(&cfg.insecure, "insecure", false, "http mode, https URLs: do not verify the server's certificate (as wrk does not)")
		fs.StringVar(&cfg.engine, "engine", "auto", "`engine` of the load generator: auto, epoll, uring or std")
		fs.IntVar(&cfg.loops, "loops", 1, "event loops of the load generator (one per core it may use), up to 1024")
		fs.IntVar(&cfg.conns, "conns", 100, "number of connections")
		fs.IntVar(&cfg.pipeline, "pipeline", 1, "requests (messages) in flight per connection")
		fs.IntVar(&cfg.size, "size", 64, "echo mode: message size in `bytes`")
		fs.StringVar(&cfg.method, "method", "GET", "http mode: request `method`: GET, POST or HEAD")
		fs.IntVar(&cfg.bodySize, "body-size", 0, "http mode: request body size in `bytes` (sent with POST)")
		fs.IntVar(&cfg.expectStatus, "expect-status", 0, "http mode: the `status` every response must have (0: any 2xx or 3xx)")
		fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the measured window (0: until SIGINT or SIGTERM; with --requests, no limit unless given)")
		fs.Int64Var(&cfg.requests, "requests", 0, "stop after this many round trips (requests) in all (0: no limit)")
		fs.Float64Var(&cfg.rate, "rate", 0, "open loop: send this many `requests` per second in all, on a fixed schedule, whatever the replies; latency counts from each request's scheduled time, and requests due but never sent are reported as unsent (0: closed loop, as fast as the server answers)")
		fs.DurationVar(&cfg.hold, "hold", 0, "echo mode, idle: open every connection, echo once on each, then hold them all open for this `duration`, echo once more and close them")
		fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "bound on each dial, on the echoes of --hold, and on each request: one still unanswered when the window closes, this long after it was sent, is an error; a --requests run without --duration ends once requests in flight have had no answer for longer")
		fs.IntVar(&cfg.dialers, "dialers", 128, "connects in flight at once while opening the connections; opening stops once none has opened a connection for --timeout")
		fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
		fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the load generator to `file`")
		return fs, func(ctx context.Context, stdout, stderr io.Writer) error {
			cfg.given = make(map[string]bool)
			fs.Visit(func(f *flag.Flag) {
				cfg.given[f.Name] = true
				switch f.Name {
				case "addr":
					cfg.addrSet = true
				case "duration":
					cfg.durationSet = true
				case "mode":
					cfg.modeSet = true
				}
			})
			return runLoad(ctx, cfg, stdout, stderr)
		}
	},
}

// loadConfig is the configuration of a load run.
type loadConfig struct {
	mode         string
	addr         string
	url          string
	engine       string
	loops        int
	conns        int
	pipeline     int
	size         int
	method       string
	bodySize     int
	expectStatus int
	duration     time.Duration
	requests     int64
	rate         float64
	hold         time.Duration
	timeout      time.Duration
	dialers      int
	json         bool
	cpuprofile   string
	insecure     bool

	addrSet, durationSet, modeSet bool // given on the command line
	// given holds the name of every flag given on the command line (flag.Visit), to refuse the flags
	// of the other mode: left at their defaults they are not in it. Nil when no command line was parsed.
	given map[string]bool
}

// Flags that apply to one mode only. Given to a run of the other mode they were silently ignored (eddy
// load --body-size 1000 --addr A ran an echo load with 64-byte messages); now they are a usage error.
var (
	httpOnlyFlags = []string{"insecure", "method", "body-size", "expect-status"}
	echoOnlyFlags = []string{"size"}
)

// otherModeFlags returns a usage error naming the flags of names given on the command line, which
// apply to --mode want only, or nil when there are none.
func (cfg *loadConfig) otherModeFlags(want string, names []string) error {
	var set []string
	for _, name := range names {
		if cfg.given[name] {
			set = append(set, "--"+name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	verb := "applies"
	if len(set) > 1 {
		verb = "apply"
	}
	mode := "--mode " + cfg.mode
	if !cfg.modeSet {
		mode += ", the default"
		if cfg.given["url"] {
			mode = "--mode http, as --url implies"
		}
	}
	hint := ""
	if cfg.mode == "http" && slices.Contains(set, "--size") {
		hint = "; the size of its requests' bodies is --body-size"
	}
	return usagef("load", "%s %s to --mode %s only (this run is %s%s)", strings.Join(set, ", "), verb, want, mode, hint)
}

// check validates the configuration and settles the defaults that depend on other flags.
func (cfg *loadConfig) check() error {
	if cfg.url != "" && !cfg.modeSet {
		cfg.mode = "http"
	}
	if cfg.requests > 0 && !cfg.durationSet {
		cfg.duration = 0
	}
	if err := checkAddr("load", cfg.addr); err != nil {
		return err
	}
	switch strings.ToUpper(cfg.method) { // checked in every mode, as --body-size and --expect-status are
	case "GET", "POST", "HEAD":
	default:
		return usagef("load", "--method %q: want GET, POST or HEAD", cfg.method)
	}
	switch cfg.mode {
	case "echo":
		if cfg.url != "" {
			return usagef("load", "--url is for --mode http")
		}
		if err := cfg.otherModeFlags("http", httpOnlyFlags); err != nil {
			return err
		}
	case "http":
		if cfg.url == "" {
			network, address, _ := splitAddr(cfg.addr) // checked above
			if network == "unix" {
				return usagef("load", "--mode http --addr %s: give --url for a unix socket address", cfg.addr)
			}
			cfg.url = "http://" + address + "/"
		}
		if _, err := parseURL(cfg.url); err != nil {
			return usagef("load", "%v", err)
		}
		if cfg.hold > 0 {
			return usagef("load", "--hold is for --mode echo")
		}
		if err := cfg.otherModeFlags("echo", echoOnlyFlags); err != nil {
			return err
		}
	default:
		return usagef("load", "--mode %q: want echo or http", cfg.mode)
	}
	if _, err := eddy.ParseEngineKind(cfg.engine); err != nil {
		return usagef("load", "--engine %q: want auto, epoll, uring or std", cfg.engine)
	}
	switch {
	case cfg.loops < 1 || cfg.loops > maxLoops:
		return usagef("load", "--loops %d: want 1..%d", cfg.loops, maxLoops)
	case cfg.conns < 1:
		return usagef("load", "--conns %d: want at least 1", cfg.conns)
	case cfg.conns < cfg.loops:
		return usagef("load", "--conns %d: want at least one per loop (--loops %d)", cfg.conns, cfg.loops)
	case cfg.pipeline < 1 || cfg.pipeline > 4096:
		return usagef("load", "--pipeline %d: want 1..4096", cfg.pipeline)
	case cfg.size < 1 || cfg.size > 64<<20:
		return usagef("load", "--size %d: want 1..%d", cfg.size, 64<<20)
	case cfg.mode == "echo" && echoBytes(cfg.conns, cfg.size, cfg.pipeline) > maxEchoBytes:
		return usagef("load", "--conns %d, --size %d and --pipeline %d would hold %d MiB of messages (a pattern per connection and the messages in flight): want at most %d MiB",
			cfg.conns, cfg.size, cfg.pipeline, echoBytes(cfg.conns, cfg.size, cfg.pipeline)>>20, maxEchoBytes>>20)
	case cfg.bodySize < 0 || cfg.bodySize > 64<<20:
		return usagef("load", "--body-size %d: want 0..%d", cfg.bodySize, 64<<20)
	case cfg.expectStatus != 0 && (cfg.expectStatus < 200 || cfg.expectStatus > 599):
		return usagef("load", "--expect-status %d: want 200..599", cfg.expectStatus)
	case cfg.duration < 0:
		return usagef("load", "--duration %v: want 0 or more", cfg.duration)
	case cfg.requests < 0:
		return usagef("load", "--requests %d: want 0 or more", cfg.requests)
	case cfg.rate < 0 || math.IsNaN(cfg.rate) || math.IsInf(cfg.rate, 0):
		return usagef("load", "--rate %v: want 0 or more", cfg.rate)
	case cfg.rate > 0 && cfg.rate < 1e-299:
		// The schedule's interval, 1e9/rate nanoseconds, would be infinite.
		return usagef("load", "--rate %v: want 0, or at least 1e-299", cfg.rate)
	case cfg.rate > 1e9:
		// Above one request a nanosecond, the schedule's clock cannot tell requests apart (the report
		// printed a 301-digit rate for 1e300, and an unsent count near 2^62).
		return usagef("load", "--rate %v: want at most 1e9 (one request a nanosecond)", cfg.rate)
	case cfg.hold < 0:
		return usagef("load", "--hold %v: want 0 or more", cfg.hold)
	case cfg.hold > 0 && (cfg.requests > 0 || cfg.rate > 0 || cfg.pipeline > 1 || cfg.durationSet):
		return usagef("load", "--hold takes none of --requests, --rate, --pipeline and --duration (it lasts the hold)")
	case cfg.timeout <= 0:
		return usagef("load", "--timeout %v: want more than 0", cfg.timeout)
	case cfg.dialers < 1:
		return usagef("load", "--dialers %d: want at least 1", cfg.dialers)
	}
	return nil
}

// maxEchoBytes bounds the memory an echo run takes for its messages, so that a large --size with many
// connections is a usage error rather than a process the kernel kills: each connection keeps a pattern
// of --size bytes and has up to --pipeline copies of it queued or in flight (100 connections of 64 MiB
// took 6.4 GiB before the first reply).
const maxEchoBytes = 4 << 30

// echoBytes is what an echo run holds in messages: conns patterns of size bytes, and pipeline messages
// in flight on each connection.
func echoBytes(conns, size, pipeline int) int64 {
	return int64(conns) * int64(size) * (int64(pipeline) + 1)
}

// runLoad runs the configured mode, prints its report to stdout and fails when any error was counted, or
// when not one round trip completed.
func runLoad(ctx context.Context, cfg loadConfig, stdout, stderr io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	run := runTraffic
	if cfg.hold > 0 {
		run = runHold
	}
	r, err := run(ctx, cfg, stderr)
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
	switch {
	case r.Errors > 0:
		return fmt.Errorf("%d errors %s; first: %s", r.Errors, r.errorKinds(), r.FirstError)
	case r.RoundTrips == 0:
		return fmt.Errorf("no round trip completed in the %.2fs window", r.Seconds)
	}
	return nil
}

// runTraffic is the echo and the http mode: it opens every connection, then, for the measured window,
// keeps cfg.pipeline requests in flight on each (closed loop) or sends cfg.rate requests a second
// (open loop), and reports what came back.
func runTraffic(ctx context.Context, cfg loadConfig, log io.Writer) (*loadReport, error) {
	var target *httpTarget
	dialTo := cfg.addr
	if cfg.mode == "http" {
		var err error
		if target, dialTo, err = newHTTPTarget(cfg); err != nil {
			return nil, usagef("load", "%v", err)
		}
		if target.tls == nil && cfg.given["insecure"] {
			// A warning, not a usage error: a script that runs the same flags against http:// and
			// https:// servers (bench/http/wrkab.sh does, with SCHEME=http by default) passes
			// --insecure to both.
			fmt.Fprintln(log, "eddy load: warning: --insecure does not apply to an http:// URL (it skips the check of an https server's certificate)")
		}
	}
	r, err := newLoadRun(ctx, cfg, target, dialTo)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	fmt.Fprintf(log, "eddy load: opening %s to %s (engine %s, %s)\n", plural(cfg.conns, "connection"), dialTo, r.engine.Kind(), loopsText(len(r.shards)))
	if err := r.openConns(log, dialTo); err != nil {
		return nil, err
	}

	var what []string
	if cfg.duration > 0 {
		what = append(what, fmt.Sprintf("for %v", cfg.duration))
	}
	if cfg.requests > 0 {
		what = append(what, "for "+plural(int(cfg.requests), "request"))
	}
	if len(what) == 0 {
		what = append(what, "until interrupted")
	}
	if cfg.rate > 0 {
		what = append(what, fmt.Sprintf("at %v requests/s", cfg.rate))
	}
	fmt.Fprintf(log, "eddy load: running %s %s\n", plural(int(r.opened.Load()), "connection"), strings.Join(what, " "))
	start := r.begin()
	stopProgress := func() {}
	if isTerminal(log) {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { r.progress(log, start, stop); close(done) }()
		stopProgress = func() { close(stop); <-done }
	}
	r.await(cfg.duration)
	r.endWindow()
	elapsed := time.Since(start)
	if cfg.duration > 0 {
		elapsed = min(elapsed, cfg.duration)
	}
	stopProgress()
	r.stop()

	rep := &loadReport{Mode: cfg.mode, Addr: dialTo, Conns: cfg.conns, Pipeline: cfg.pipeline, Rate: cfg.rate, Seconds: elapsed.Seconds()}
	if target != nil {
		rep.URL, rep.Size = cfg.url, cfg.bodySize
	} else {
		rep.Size = cfg.size
	}
	r.report(rep)
	return rep, nil
}

// isTerminal reports whether w is a terminal, for the live progress line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// loadReport is the outcome of a load run, printed as text or, with --json, as this JSON object. The
// field names are read by "eddy bench" and bench/runner: keep them.
type loadReport struct {
	Mode     string  `json:"mode"`
	Addr     string  `json:"addr"` // the address dialed: --addr, or in http mode without it the URL's host and port
	URL      string  `json:"url,omitempty"`
	Engine   string  `json:"engine"` // the load generator's engine
	Loops    int     `json:"loops"`
	Conns    int     `json:"conns"` // connections asked for
	Open     int     `json:"open"`  // connections that were opened
	Size     int     `json:"size"`  // message size (echo), request body size (http)
	Pipeline int     `json:"pipeline"`
	Rate     float64 `json:"rate,omitempty"` // requests per second asked for (open loop)
	// Seconds is the measured window: the traffic's in echo and http mode, the hold time in idle mode.
	Seconds float64 `json:"seconds"`
	// RoundTrips counts replies received and verified (echo) or responses with a good status (http).
	RoundTrips       uint64  `json:"round_trips"`
	RoundTripsPerSec float64 `json:"round_trips_per_sec"`
	Bytes            uint64  `json:"bytes"` // bytes echoed and verified (echo), response bytes read (http)
	// Latency covers the round trips counted, each from when its request was sent or, with --rate, from
	// when it was scheduled: a request that waited for a free connection is charged for the wait.
	Latency latency `json:"latency"`
	// With --rate: Sent counts the requests of the schedule sent, SentPerSec the rate they went out at,
	// against Rate (see loadRun.reportSchedule), and Unsent the requests due by the schedule when the window
	// closed that were never sent, every connection being busy: the run fell behind. Unsent requests are in
	// no latency percentile. Without --rate, all three are 0.
	Sent       uint64  `json:"sent,omitempty"`
	SentPerSec float64 `json:"sent_per_sec,omitempty"`
	Unsent     uint64  `json:"unsent"`
	// Pending counts the requests still unanswered when the window closed, PendingOldest how long the
	// oldest of them had been (from when it was sent, or scheduled with --rate).
	Pending       uint64 `json:"pending"`
	PendingOldest int64  `json:"pending_oldest_ns"`
	// Errors counts every failure: dials (and those not made once opening stopped: loadRun.dialAll),
	// resets, early closes, mismatched replies, bad statuses, responses that do not parse and unanswered
	// requests.
	Errors       uint64 `json:"errors"`
	Mismatches   uint64 `json:"mismatches"`    // replies whose bytes differ from what was sent
	StatusErrors uint64 `json:"status_errors"` // responses with an unexpected status
	// Unanswered counts the pending requests that are errors: those unanswered for longer than --timeout,
	// or all of them when no round trip completed; in idle mode (--hold), the echoes unanswered after
	// --timeout.
	Unanswered uint64 `json:"unanswered"`
	FirstError string `json:"first_error,omitempty"`
}

// writeText prints the report for people, one aspect a line.
func (r *loadReport) writeText(w io.Writer) {
	target := r.Addr
	if r.URL != "" {
		target = r.URL
	}
	fmt.Fprintf(w, "mode         %s, %s (engine %s, %s)\n", r.Mode, target, r.Engine, loopsText(r.Loops))
	unit := fmt.Sprintf("%d-byte messages", r.Size)
	if r.Mode == "http" {
		unit = fmt.Sprintf("%d-byte request bodies", r.Size)
	}
	fmt.Fprintf(w, "connections  %d of %d open, %s, %d in flight each\n", r.Open, r.Conns, unit, r.Pipeline)
	fmt.Fprintf(w, "window       %.2fs\n", r.Seconds)
	if r.RoundTripsPerSec > 0 {
		fmt.Fprintf(w, "round trips  %d (%.0f/s), %d bytes\n", r.RoundTrips, r.RoundTripsPerSec, r.Bytes)
	} else {
		fmt.Fprintf(w, "round trips  %d, %d bytes\n", r.RoundTrips, r.Bytes)
	}
	d := func(ns int64) time.Duration { return roundSignificant(time.Duration(ns), 3) }
	l := r.Latency
	if r.Rate > 0 {
		fmt.Fprintf(w, "rate         %s/s asked, %s/s sent (%d requests), ", rateText(r.Rate), rateText(r.SentPerSec), r.Sent)
		if r.Unsent > 0 {
			fmt.Fprintf(w, "%d due requests unsent when the window closed\n", r.Unsent)
		} else {
			fmt.Fprintf(w, "0 unsent\n")
		}
	}
	fmt.Fprintf(w, "latency      p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  mean %v\n", d(l.P50), d(l.P90), d(l.P99), d(l.P999), d(l.Max), d(l.Mean))
	if r.behind() {
		fmt.Fprintf(w, "warning      fell behind: requests went out at %s%% of the rate asked, the server (or this load generator) could not keep up;\n",
			strconv.FormatFloat(100*r.SentPerSec/r.Rate, 'g', 3, 64))
		if r.Unsent > 0 {
			fmt.Fprintf(w, "             latency counts from each request's scheduled time, and leaves out the %d never sent\n", r.Unsent)
		} else {
			fmt.Fprintf(w, "             latency counts from each request's scheduled time\n")
		}
	}
	if r.Pending > 0 {
		fmt.Fprintf(w, "pending      %d unanswered when the window closed, the oldest for %v\n", r.Pending, d(r.PendingOldest))
	} else {
		fmt.Fprintf(w, "pending      0\n")
	}
	fmt.Fprintf(w, "errors       %d %s\n", r.Errors, r.errorKinds())
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", r.FirstError)
	}
}

// behindRatio is the fraction of the rate asked below which an open-loop run fell far behind: its report
// warns. It is no error: a run at a rate the server cannot carry measures what it does carry, and the
// latency it costs; the exit status is kept for what went wrong.
const behindRatio = 0.9

// behind reports whether an open-loop run sent its requests at less than behindRatio of the rate asked.
func (r *loadReport) behind() bool { return r.Rate > 0 && r.SentPerSec < behindRatio*r.Rate }

// rateText prints a rate in requests per second: whole from 100 up, with three significant digits below.
func rateText(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// errorKinds counts the kinds of error named apart: "(1 mismatched replies, 0 bad statuses)", and the
// unanswered requests when there are any.
func (r *loadReport) errorKinds() string {
	s := fmt.Sprintf("(%d mismatched replies, %d bad statuses", r.Mismatches, r.StatusErrors)
	if r.Unanswered > 0 {
		s += fmt.Sprintf(", %d unanswered", r.Unanswered)
	}
	return s + ")"
}

// loopsText says how many loops there are: "1 loop", "2 loops".
func loopsText(n int) string {
	if n == 1 {
		return "1 loop"
	}
	return fmt.Sprintf("%d loops", n)
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

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// report is everything a run of the runner produced; it is written as results.json, and results.md and
// the charts are made from it.
type report struct {
	Date        string            `json:"date"`
	Command     string            `json:"command"`
	Host        host              `json:"host"`
	Settings    settings          `json:"settings"`
	Notes       []string          `json:"notes,omitempty"`
	Unavailable map[string]string `json:"unavailable,omitempty"` // server -> why it could not start (from then on; runs before are kept)
	LoadAvg     loadSummary       `json:"load_avg"`
	Cases       []benchCase       `json:"cases"`
	Servers     []string          `json:"servers"`
	Reference   map[string]string `json:"reference"` // case kind -> the server ratios are taken to
	Runs        []result          `json:"runs"`
	Summary     []summary         `json:"summary"`

	servers []server // the servers of the run, in table order (not in the JSON: rebuilt from Servers)
	round   int      // the round in progress, for the notes
}

// host describes the machine.
type host struct {
	CPU    string `json:"cpu"`
	CPUs   int    `json:"cpus"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// settings are the knobs of the run.
type settings struct {
	Duration  string `json:"duration"`
	Rounds    int    `json:"rounds"`
	ServerCPU int    `json:"server_cpu"`
	LoadCPU   int    `json:"load_cpu"`
	Pinning   string `json:"pinning"`
}

// loadSummary is the one-minute load average before, during (at the start of each run) and after.
type loadSummary struct {
	Start  float64 `json:"start"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	End    float64 `json:"end"`
}

// summary is the median over the rounds of one server on one case, with its ratios to the reference.
type summary struct {
	Case   string `json:"case"`
	Server string `json:"server"`
	Runs   int    `json:"runs"`   // runs that succeeded
	Failed int    `json:"failed"` // runs that failed
	Error  string `json:"error,omitempty"`

	OpsPerSec    float64 `json:"ops_per_sec"`
	OpsPerSecMin float64 `json:"ops_per_sec_min"`
	OpsPerSecMax float64 `json:"ops_per_sec_max"`
	P99          float64 `json:"p99_us"`
	UserSeconds  float64 `json:"user_s"`
	SysSeconds   float64 `json:"sys_s"`
	CPUShare     float64 `json:"cpu_share"` // server CPU seconds per second of window
	OpsPerCPU    float64 `json:"ops_per_cpu_s"`
	CoreOthers   float64 `json:"core_others"`
	LoadGenCPU   float64 `json:"loadgen_cpu"`
	LoadErrors   uint64  `json:"load_errors"`            // summed over the runs
	ErrorDetail  string  `json:"error_detail,omitempty"` // the load generator's account of its first errors

	RSSBefore int64   `json:"rss_before,omitempty"`
	RSSAfter  int64   `json:"rss_after,omitempty"`
	PerConn   float64 `json:"rss_per_conn,omitempty"`

	// Ratios to the reference server of the case: throughput, efficiency, p99 and memory per connection.
	XOps     float64 `json:"x_ops,omitempty"`
	XPerCPU  float64 `json:"x_ops_per_cpu,omitempty"`
	XP99     float64 `json:"x_p99,omitempty"`
	XPerConn float64 `json:"x_rss_per_conn,omitempty"`
}

// newReport starts a report for cfg, started with args.
func newReport(cfg config, args []string) *report {
	return &report{
		Date:    time.Now().Format("2006-01-02 15:04 MST"),
		Command: commandLine(args),
		Host:    hostInfo(),
		Settings: settings{
			Duration: cfg.duration.String(), Rounds: cfg.rounds,
			ServerCPU: cfg.serverCPU, LoadCPU: cfg.loadCPU,
			Pinning: fmt.Sprintf("server: taskset -c %d, GOMAXPROCS=1; load generator: taskset -c %d, GOMAXPROCS=1; both at nice %d", cfg.serverCPU, cfg.loadCPU, cfg.nice),
		},
		Unavailable: map[string]string{},
		Reference:   map[string]string{},
	}
}

// hostInfo describes this machine.
func hostInfo() host {
	h := host{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				h.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		h.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		h.Go = strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
	}
	return h
}

// note adds a line to the notes of the results.
func (rep *report) note(format string, args ...any) {
	rep.Notes = append(rep.Notes, fmt.Sprintf(format, args...))
}

// start records what is about to run.
func (rep *report) start(cases []benchCase, servers []server) {
	rep.LoadAvg.Start = loadAverage()
	rep.Cases, rep.servers = cases, servers
	for _, s := range servers {
		rep.Servers = append(rep.Servers, s.Name)
	}
	for _, k := range []kind{kindEcho, kindHTTP} {
		if ref := reference(servers, k); ref != "" {
			rep.Reference[string(k)] = ref
		}
	}
}

// add records a run.
func (rep *report) add(r result) { rep.Runs = append(rep.Runs, r) }

// unavailable records that server could not start, and why. A server that did run before (in an
// earlier round, or on an earlier case of this one) keeps those runs, and a note says so.
func (rep *report) unavailable(server string, err error) {
	rep.Unavailable[server] = err.Error()
	if rep.ran(server) {
		rep.note("%s is unavailable from round %d (%v): its figures are those of its runs before.", server, rep.round, err)
	}
}

// succeeded reports whether at least one run ended without error.
func (rep *report) succeeded() bool {
	return slices.ContainsFunc(rep.Runs, func(r result) bool { return r.Error == "" })
}

// ran reports whether server has a run, successful or not.
func (rep *report) ran(server string) bool {
	return slices.ContainsFunc(rep.Runs, func(r result) bool { return r.Server == server })
}

// finish computes the load summary and the medians and ratios.
func (rep *report) finish() {
	rep.LoadAvg.End = loadAverage()
	var loads []float64
	for _, r := range rep.Runs {
		loads = append(loads, r.LoadAvg)
	}
	if len(loads) > 0 {
		rep.LoadAvg.Min, rep.LoadAvg.Max = slices.Min(loads), slices.Max(loads)
		rep.LoadAvg.Median = median(loads)
	}
	rep.Summary = nil
	for _, c := range rep.Cases {
		// Every server with runs, including one that could not start in a later round.
		for _, s := range serversFor(rep.servers, c) {
			if sm, ok := rep.summarize(c, s.Name); ok {
				rep.Summary = append(rep.Summary, sm)
			}
		}
	}
	for i := range rep.Summary {
		sm := &rep.Summary[i]
		ref := rep.find(sm.Case, rep.refFor(sm.Case))
		if ref == nil || ref.Runs == 0 || sm.Runs == 0 {
			continue
		}
		sm.XOps = ratio(sm.OpsPerSec, ref.OpsPerSec)
		sm.XPerCPU = ratio(sm.OpsPerCPU, ref.OpsPerCPU)
		sm.XP99 = ratio(sm.P99, ref.P99)
		sm.XPerConn = ratio(sm.PerConn, ref.PerConn)
	}
}

// summarize returns the medians of server on case c, or false when it has no run.
func (rep *report) summarize(c benchCase, server string) (summary, bool) {
	sm := summary{Case: c.ID, Server: server}
	var ops, p99, user, sys, share, perCPU, others, loadGen, before, after, perConn []float64
	for _, r := range rep.Runs {
		if r.Case != c.ID || r.Server != server {
			continue
		}
		if r.Error != "" {
			sm.Failed++
			sm.Error = r.Error
			continue
		}
		sm.Runs++
		sm.LoadErrors += r.LoadErrors
		if sm.ErrorDetail == "" && r.LoadErrors > 0 {
			sm.ErrorDetail = r.LoadErrorDetail
		}
		switch c.Kind {
		case kindIdle:
			before = append(before, float64(r.RSSBefore))
			after = append(after, float64(r.RSSAfter))
			perConn = append(perConn, r.PerConn)
		default:
			ops = append(ops, r.OpsPerSec)
			p99 = append(p99, r.P99)
			user = append(user, r.UserSeconds)
			sys = append(sys, r.SysSeconds)
			if r.Window > 0 {
				share = append(share, r.cpuSeconds()/r.Window)
			}
			if r.OpsPerCPU > 0 {
				// drive and parseWrk leave it 0 when the window counted no tick of server CPU:
				// not measured, rather than no round trip per CPU-second.
				perCPU = append(perCPU, r.OpsPerCPU)
			}
			others = append(others, r.CoreOthers)
			loadGen = append(loadGen, r.LoadGenCPU)
		}
	}
	if sm.Runs+sm.Failed == 0 {
		return sm, false
	}
	sm.OpsPerSec, sm.P99 = median(ops), median(p99)
	if len(ops) > 0 {
		sm.OpsPerSecMin, sm.OpsPerSecMax = slices.Min(ops), slices.Max(ops)
	}
	sm.UserSeconds, sm.SysSeconds = median(user), median(sys)
	sm.CPUShare, sm.OpsPerCPU = median(share), median(perCPU)
	sm.CoreOthers, sm.LoadGenCPU = median(others), median(loadGen)
	sm.RSSBefore, sm.RSSAfter = int64(median(before)), int64(median(after))
	sm.PerConn = median(perConn)
	return sm, true
}

// refFor returns the reference server of case id.
func (rep *report) refFor(id string) string {
	for _, c := range rep.Cases {
		if c.ID == id {
			if c.Kind == kindHTTP {
				return rep.Reference[string(kindHTTP)]
			}
			return rep.Reference[string(kindEcho)]
		}
	}
	return ""
}

// find returns the summary of server on case id, or nil.
func (rep *report) find(id, server string) *summary {
	for i := range rep.Summary {
		if rep.Summary[i].Case == id && rep.Summary[i].Server == server {
			return &rep.Summary[i]
		}
	}
	return nil
}

// median returns the median of v (the mean of the middle two for an even count), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio returns a/b, or 0 when either is not positive.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

// render reads dir/results.json, as an earlier run wrote it, and writes it again with results.md and the
// charts, drawn by this version of the runner.
func render(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "results.json"), err)
	}
	known := append(slices.Clone(echoServers), httpServers...)
	for i := range known {
		if i < len(echoServers) {
			known[i].Kind = kindEcho
		} else {
			known[i].Kind = kindHTTP
		}
	}
	for _, name := range rep.Servers {
		i := slices.IndexFunc(known, func(s server) bool { return s.Name == name })
		if i < 0 {
			return fmt.Errorf("%s: unknown server %q", dir, name)
		}
		rep.servers = append(rep.servers, known[i])
	}
	for i, r := range rep.Runs {
		if r.LoadErrors > 0 && r.LoadErrorDetail == "" {
			rep.Runs[i].LoadErrorDetail = "(not recorded)"
		}
	}
	end := rep.LoadAvg.End
	rep.finish()
	rep.LoadAvg.End = end
	return rep.write(dir)
}

// write writes results.json, results.md and the charts into dir.
func (rep *report) write(dir string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	charts, err := rep.charts(dir)
	if err != nil {
		rep.note("Charts could not be drawn: %v", err)
	}
	var md bytes.Buffer
	rep.markdown(&md, charts)
	return os.WriteFile(filepath.Join(dir, "results.md"), md.Bytes(), 0o644)
}

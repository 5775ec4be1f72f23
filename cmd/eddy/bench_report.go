package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// benchReport is the outcome of eddy bench: per case, one row per server with the medians over the
// rounds and the ratios to the reference server; and every run. --json prints it as is.
type benchReport struct {
	Pinning  string      `json:"pinning"`
	Pinned   bool        `json:"pinned"`
	Duration float64     `json:"duration_s"` // of each run
	Rounds   int         `json:"rounds"`
	Elapsed  float64     `json:"elapsed_s"` // of the whole benchmark
	Cases    []caseTable `json:"cases"`
	Notes    []string    `json:"notes,omitempty"`
	Runs     []benchRun  `json:"runs"`

	cases       []benchCase
	servers     []benchServer
	round       int               // the round in progress, for the notes
	unavailable map[string]string // server name: why it could not start
	cannot      map[string]string // case ID: why the load generator cannot run it
	pids        []int             // every child process started
}

// caseTable is the table of one case.
type caseTable struct {
	benchCase
	Title string `json:"title"`
	// Reference is the server the ratios are to: eddy-epoll (eddy-epoll-native for HTTP), or the eddy
	// engine with the highest median throughput when that did not run.
	Reference string      `json:"reference,omitempty"`
	Skipped   string      `json:"skipped,omitempty"` // why the case did not run
	Rows      []serverRow `json:"servers"`
}

// serverRow is one server's line in a case's table. The figures are medians over the server's runs
// without error; the CPU figures are absent where CPU time is not measured.
type serverRow struct {
	Server      string   `json:"server"`
	Unavailable string   `json:"unavailable,omitempty"` // why the server could not start (from then on; runs before are kept)
	Runs        int      `json:"runs"`                  // runs without error
	Failed      []string `json:"failed,omitempty"`      // the errors of the others
	OpsPerSec   float64  `json:"ops_per_sec"`
	OpsMin      float64  `json:"ops_per_sec_min"`
	OpsMax      float64  `json:"ops_per_sec_max"`
	P99         int64    `json:"p99_ns"`
	ServerCPU   *float64 `json:"server_cpu_s,omitempty"`
	OpsPerCPU   *float64 `json:"ops_per_cpu_s,omitempty"`
	LoadCPU     *float64 `json:"load_cpu,omitempty"`
	CoreOthers  *float64 `json:"core_others,omitempty"`
	LoadErrors  uint64   `json:"load_errors"` // over all its runs
	FirstError  string   `json:"first_error,omitempty"`
	// Ratios to the reference's medians: throughput, and round trips (requests) per server CPU-second.
	RatioOps    float64  `json:"ratio_ops_per_sec,omitempty"`
	RatioPerCPU *float64 `json:"ratio_ops_per_cpu_s,omitempty"`
}

// newBenchReport returns an empty report for cfg.
func newBenchReport(cfg benchConfig, pin pinning) *benchReport {
	return &benchReport{
		Pinning:     pin.String(),
		Pinned:      pin.pinned(),
		Duration:    cfg.duration.Seconds(),
		Rounds:      cfg.rounds,
		Runs:        []benchRun{},
		cases:       cfg.cases(),
		servers:     benchServers(),
		unavailable: map[string]string{},
		cannot:      map[string]string{},
	}
}

// note adds a line to the notes under the tables.
func (rep *benchReport) note(s string) { rep.Notes = append(rep.Notes, s) }

// add records a run.
func (rep *benchReport) add(r benchRun) { rep.Runs = append(rep.Runs, r) }

// markUnavailable records that server s could not start; it is skipped from then on. Its runs before (in
// an earlier round, or on an earlier case of this one) are kept in the tables, and a note says from which
// round it is missing.
func (rep *benchReport) markUnavailable(s benchServer, err error) {
	rep.unavailable[s.Name] = err.Error()
	if slices.ContainsFunc(rep.Runs, func(r benchRun) bool { return r.Server == s.Name }) {
		rep.note(fmt.Sprintf("%s could not start from round %d (%v): its figures are those of its runs before.", s.Name, rep.round, err))
	}
}

// succeeded reports whether at least one run ended without error.
func (rep *benchReport) succeeded() bool {
	return slices.ContainsFunc(rep.Runs, func(r benchRun) bool { return r.Error == "" })
}

// loadCannot records that the load generator cannot run case c; it is skipped from then on.
func (rep *benchReport) loadCannot(c benchCase, err error) { rep.cannot[c.ID] = err.Error() }

// skipReason says why server s does not run case c any more, or "".
func (rep *benchReport) skipReason(c benchCase, s benchServer) string {
	if why, ok := rep.cannot[c.ID]; ok {
		return why
	}
	return rep.unavailable[s.Name]
}

// finish builds the tables from the runs.
func (rep *benchReport) finish(elapsed time.Duration) {
	rep.Elapsed = elapsed.Seconds()
	rep.Cases = nil
	for _, c := range rep.cases {
		t := caseTable{benchCase: c, Title: c.title(), Rows: []serverRow{}}
		if why, ok := rep.cannot[c.ID]; ok {
			t.Skipped = why
			rep.Cases = append(rep.Cases, t)
			continue
		}
		for _, s := range serversFor(rep.servers, c.Kind) {
			t.Rows = append(t.Rows, rep.row(c, s))
		}
		t.Reference = reference(c.Kind, rep.servers, t.Rows)
		t.fillRatios()
		rep.Cases = append(rep.Cases, t)
	}
	var engines []string
	for _, r := range rep.Runs {
		if r.LoadEngine != "" && !slices.Contains(engines, r.LoadEngine) {
			engines = append(engines, r.LoadEngine)
		}
	}
	if len(engines) > 0 {
		// A condition of the figures, like the pinning: a uring client costs less per round trip than
		// an epoll one, so it drives the server harder.
		rep.note(fmt.Sprintf("The load generator (eddy load --engine auto) ran on the %s engine.", strings.Join(engines, " and ")))
	}
}

// row summarises the runs of server s on case c.
func (rep *benchReport) row(c benchCase, s benchServer) serverRow {
	row := serverRow{Server: s.Name, Unavailable: rep.unavailable[s.Name]}
	var ops, p99, cpu, perCPU, load, others []float64
	for _, r := range rep.Runs {
		if r.Case != c.ID || r.Server != s.Name {
			continue
		}
		row.LoadErrors += r.LoadErrors
		if row.FirstError == "" {
			row.FirstError = r.FirstError
		}
		if r.Error != "" {
			row.Failed = append(row.Failed, fmt.Sprintf("round %d: %s", r.Round, r.Error))
			continue
		}
		ops = append(ops, r.OpsPerSec)
		p99 = append(p99, float64(r.P99))
		if r.ServerCPU != nil {
			cpu = append(cpu, *r.ServerCPU)
			perCPU = append(perCPU, *r.OpsPerCPU)
		}
		if r.LoadCPU != nil {
			load = append(load, *r.LoadCPU)
		}
		if r.CoreOthers != nil {
			others = append(others, *r.CoreOthers)
		}
	}
	row.Runs = len(ops)
	if row.Runs == 0 {
		return row
	}
	row.OpsPerSec, row.OpsMin, row.OpsMax = median(ops), slices.Min(ops), slices.Max(ops)
	row.P99 = int64(median(p99))
	row.ServerCPU, row.OpsPerCPU, row.LoadCPU = medianOrNil(cpu), medianOrNil(perCPU), medianOrNil(load)
	row.CoreOthers = medianOrNil(others)
	return row
}

// reference returns the server the ratios of a case of kind k are to: eddy-epoll (eddy-epoll-native),
// or when that has no run, the eddy server with the highest median throughput; "" when no eddy server
// ran.
func reference(k caseKind, servers []benchServer, rows []serverRow) string {
	want := echoReference
	if k == kindHTTP {
		want = httpReference
	}
	best, bestOps := "", 0.0
	for _, row := range rows {
		if row.Runs == 0 {
			continue
		}
		if row.Server == want {
			return want
		}
		i := slices.IndexFunc(servers, func(s benchServer) bool { return s.Name == row.Server })
		if i >= 0 && servers[i].Eddy && row.OpsPerSec > bestOps {
			best, bestOps = row.Server, row.OpsPerSec
		}
	}
	return best
}

// fillRatios divides every row's medians by the reference's.
func (t *caseTable) fillRatios() {
	i := slices.IndexFunc(t.Rows, func(r serverRow) bool { return r.Server == t.Reference })
	if i < 0 {
		return
	}
	ref := t.Rows[i]
	for j := range t.Rows {
		row := &t.Rows[j]
		if row.Runs == 0 {
			continue
		}
		row.RatioOps = ratio(row.OpsPerSec, ref.OpsPerSec)
		if row.OpsPerCPU != nil && ref.OpsPerCPU != nil {
			r := ratio(*row.OpsPerCPU, *ref.OpsPerCPU)
			row.RatioPerCPU = &r
		}
	}
}

// median returns the median of xs (the mean of the middle two when there is an even number), or 0 for
// none. xs is not changed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianOrNil returns the median of xs, or nil when there are none.
func medianOrNil(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	m := median(xs)
	return &m
}

// ratio returns v/ref, or 0 when ref is not positive.
func ratio(v, ref float64) float64 {
	if ref <= 0 {
		return 0
	}
	return v / ref
}

// writeJSON prints the report as one indented JSON object.
func (rep *benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeText prints one table per case, then the notes and a summary line.
func (rep *benchReport) writeText(w io.Writer) {
	for _, t := range rep.Cases {
		fmt.Fprintf(w, "\n%s", t.Title)
		switch {
		case t.Skipped != "":
			fmt.Fprintf(w, ": skipped, %s\n", t.Skipped)
			continue
		case !t.ran():
			fmt.Fprint(w, ": no run\n")
			continue
		case t.Reference == "":
			fmt.Fprint(w, " (no eddy server ran: no ratios)\n\n")
		case t.Reference == echoReference || t.Reference == httpReference:
			fmt.Fprintf(w, " (ratios to %s)\n\n", t.Reference)
		default:
			fmt.Fprintf(w, " (ratios to %s, the fastest eddy server that ran)\n\n", t.Reference)
		}
		unit := "round trips/s"
		if t.Kind == kindHTTP {
			unit = "requests/s"
		}
		tab := [][]string{{"server", unit + " (min-max)", "p99", "server CPU-s", "per CPU-s", "× per s", "× per CPU-s", "load gen CPU", "others on server CPU"}}
		for _, row := range t.Rows {
			tab = append(tab, row.cells())
		}
		writeTable(w, tab)
	}
	fmt.Fprintln(w)
	for _, t := range rep.Cases {
		for _, row := range t.Rows {
			for _, f := range row.Failed {
				fmt.Fprintf(w, "%s, %s failed in %s\n", t.ID, row.Server, f)
			}
			if row.LoadErrors > 0 {
				fmt.Fprintf(w, "%s, %s: the load generator counted %d errors; the first: %s\n", t.ID, row.Server, row.LoadErrors, row.FirstError)
			}
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, n)
	}
	what := "Medians of " + plural(rep.Rounds, "round")
	if rep.Rounds == 1 {
		what = "One round"
	}
	fmt.Fprintf(w, "%s of %v per server and case, servers interleaved; %s. Total elapsed %v.\n",
		what, time.Duration(rep.Duration*float64(time.Second)), rep.Pinning,
		time.Duration(rep.Elapsed*float64(time.Second)).Round(100*time.Millisecond))
}

// ran reports whether any server was tried on the case (it may have failed, or not been available).
func (t *caseTable) ran() bool {
	for _, row := range t.Rows {
		if row.Runs > 0 || len(row.Failed) > 0 || row.Unavailable != "" {
			return true
		}
	}
	return false
}

// cells formats the row for writeTable.
func (row serverRow) cells() []string {
	switch {
	case row.Runs == 0 && len(row.Failed) == 0 && row.Unavailable != "":
		return []string{row.Server, "not available: " + row.Unavailable}
	case row.Runs == 0 && len(row.Failed) == 0:
		return []string{row.Server, "no run"}
	case row.Runs == 0:
		return []string{row.Server, "every run failed (see below)"}
	}
	c := []string{row.Server,
		fmt.Sprintf("%s (%s-%s)", thousands(row.OpsPerSec), thousands(row.OpsMin), thousands(row.OpsMax)),
		roundSignificant(time.Duration(row.P99), 3).String(),
		"-", "-", "-", "-", "-", "-"}
	if row.ServerCPU != nil {
		c[3] = fmt.Sprintf("%.2f", *row.ServerCPU)
		c[4] = thousands(*row.OpsPerCPU)
	}
	if row.RatioOps > 0 {
		c[5] = fmt.Sprintf("%.2f", row.RatioOps)
	}
	if row.RatioPerCPU != nil {
		c[6] = fmt.Sprintf("%.2f", *row.RatioPerCPU)
	}
	if row.LoadCPU != nil {
		c[7] = fmt.Sprintf("%.2f", *row.LoadCPU)
	}
	if row.CoreOthers != nil {
		c[8] = fmt.Sprintf("%.0f%%", 100**row.CoreOthers)
	}
	return c
}

// writeTable prints rows as columns two spaces apart: the first left-aligned, the others right-aligned. A
// row with two cells (a server and a remark) is printed as is after the first column.
func writeTable(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		if len(r) != len(width) {
			width[0] = max(width[0], len(r[0]))
			continue
		}
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", max(0, width[i]-len([]rune(c))))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			case len(r) != len(width):
				b.WriteString("  " + c)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// thousands formats v rounded to an integer with commas between thousands: 45,123.
func thousands(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v <= -0.5 {
		b.WriteByte('-')
	}
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// markdown writes the results as Markdown: the setting, one table per case, a table of ratios, and the
// charts (file names relative to the results folder).
func (rep *report) markdown(w io.Writer, charts []string) {
	fmt.Fprintf(w, "# eddy benchmarks, %s\n\n", rep.Date)
	fmt.Fprintf(w, "Command: `%s`\n\n", rep.Command)
	fmt.Fprintf(w, "- Machine: %s, %d CPUs, %s, %s\n", rep.Host.CPU, rep.Host.CPUs, rep.Host.Kernel, rep.Host.Go)
	fmt.Fprintf(w, "- Pinning: %s\n", rep.Settings.Pinning)
	fmt.Fprintf(w, "- Each echo and HTTP run measures %s; %d rounds, cases and servers interleaved; figures are medians over the rounds\n",
		rep.Settings.Duration, rep.Settings.Rounds)
	fmt.Fprintf(w, "- Load average (1 min): %.2f at the start, %.2f / %.2f / %.2f (min / median / max) when the runs started, %.2f at the end, on %d CPUs\n",
		rep.LoadAvg.Start, rep.LoadAvg.Min, rep.LoadAvg.Median, rep.LoadAvg.Max, rep.LoadAvg.End, rep.Host.CPUs)
	if ref := rep.Reference[string(kindEcho)]; ref != "" {
		fmt.Fprintf(w, "- Ratios (×) are to %s", ref)
		if h := rep.Reference[string(kindHTTP)]; h != "" {
			fmt.Fprintf(w, " (echo and idle) and to %s (HTTP)", h)
		}
		fmt.Fprintf(w, "; above 1 is better than it for throughput and per-CPU figures, worse for p99 and memory\n")
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	names := make([]string, 0, len(rep.Unavailable))
	for s := range rep.Unavailable {
		if !rep.ran(s) { // one that ran before has its note and its rows
			names = append(names, s)
		}
	}
	slices.Sort(names)
	for _, s := range names {
		fmt.Fprintf(w, "- Not available: %s (%s)\n", s, rep.Unavailable[s])
	}
	fmt.Fprintln(w)

	for _, c := range rep.Cases {
		rows := rep.rows(c.ID)
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "## %s\n\n", c.title())
		if c.Kind == kindIdle {
			rep.idleTable(w, c, rows)
		} else {
			rep.loadTable(w, c, rows)
		}
		fmt.Fprintln(w)
		for _, sm := range rows {
			if sm.ErrorDetail != "" {
				fmt.Fprintf(w, "Errors of %s: %s\n\n", sm.Server, oneLine(sm.ErrorDetail))
			}
		}
	}
	rep.ratioTable(w)
	for _, ch := range charts {
		fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(ch, ".png"), ch)
	}
	fmt.Fprint(w, "Columns: *per s* is round trips (echo) or requests (HTTP) per second as the load generator counted them; "+
		"*range* is the lowest and highest round; *p99* is the load generator's 99th percentile latency; "+
		"*server CPU* is user + system seconds of the server process over the measured window, from /proc/PID/stat; "+
		"*CPU use* is that over the window's length (1.00 = the server's core was busy all the time); "+
		"*per CPU-s* is round trips (requests) per second of server CPU; "+
		"*others on core* is the share of the server's core that other processes (and hypervisor steal) took in the window, from /proc/stat; "+
		"*load gen CPU* is the load generator's CPU seconds per second (near 1.00: the load generator, not the server, was the limit). "+
		"Idle memory is VmRSS from /proc/PID/status once the server listens and again with every connection open and idle.\n")
}

// rows returns the summaries of case id in server order.
func (rep *report) rows(id string) []summary {
	var out []summary
	for _, sm := range rep.Summary {
		if sm.Case == id {
			out = append(out, sm)
		}
	}
	return out
}

// loadTable writes the table of an echo or HTTP case.
func (rep *report) loadTable(w io.Writer, c benchCase, rows []summary) {
	unit := "round trips"
	if c.Kind == kindHTTP {
		unit = "requests"
	}
	fmt.Fprintf(w, "| server | %s per s | range | × | p99 | × | server CPU s (user + sys) | CPU use | per CPU-s | × | others on core | load gen CPU | errors |\n", unit)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, sm := range rows {
		if sm.Runs == 0 {
			fmt.Fprintf(w, "| %s | failed: %s | | | | | | | | | | | %d runs |\n", sm.Server, oneLine(sm.Error), sm.Failed)
			continue
		}
		errs := fmt.Sprint(sm.LoadErrors)
		if sm.Failed > 0 {
			errs += fmt.Sprintf(", %d failed runs", sm.Failed)
		}
		fmt.Fprintf(w, "| %s | %s | %s–%s | %s | %s | %s | %.2f (%.2f + %.2f) | %.2f | %s | %s | %.0f%% | %.2f | %s |\n",
			sm.Server, count(sm.OpsPerSec), count(sm.OpsPerSecMin), count(sm.OpsPerSecMax), times(sm.XOps),
			latency(sm.P99), times(sm.XP99),
			sm.UserSeconds+sm.SysSeconds, sm.UserSeconds, sm.SysSeconds, sm.CPUShare,
			count(sm.OpsPerCPU), times(sm.XPerCPU), 100*sm.CoreOthers, sm.LoadGenCPU, errs)
	}
}

// idleTable writes the table of the idle-memory case.
func (rep *report) idleTable(w io.Writer, c benchCase, rows []summary) {
	fmt.Fprintf(w, "| server | RSS listening | RSS with %s idle connections | per connection | × | errors |\n", count(float64(c.Conns)))
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, sm := range rows {
		if sm.Runs == 0 {
			fmt.Fprintf(w, "| %s | failed: %s | | | | %d runs |\n", sm.Server, oneLine(sm.Error), sm.Failed)
			continue
		}
		errs := fmt.Sprint(sm.LoadErrors)
		if sm.Failed > 0 {
			errs += fmt.Sprintf(", %d failed runs", sm.Failed)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", sm.Server, mib(sm.RSSBefore), mib(sm.RSSAfter),
			bytesPerConn(sm.PerConn), times(sm.XPerConn), errs)
	}
}

// ratioTable writes every server's ratio to the reference, one table for the echo servers and one for
// the HTTP servers, one column per case: throughput and round trips per CPU-second for the load cases,
// memory per connection for the idle case.
func (rep *report) ratioTable(w io.Writer) {
	fmt.Fprintln(w, "## Ratios to eddy")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Throughput / per CPU-second for the load cases (higher is better), memory per connection for the idle case (lower is better).")
	fmt.Fprintln(w)
	for _, k := range []kind{kindEcho, kindHTTP} {
		var cols []benchCase
		for _, c := range rep.Cases {
			if (c.Kind == kindHTTP) == (k == kindHTTP) && len(rep.rows(c.ID)) > 0 {
				cols = append(cols, c)
			}
		}
		if len(cols) > 0 {
			rep.ratioKind(w, k, cols)
		}
	}
}

// ratioKind writes the ratio table of the servers of kind k over the cases cols.
func (rep *report) ratioKind(w io.Writer, k kind, cols []benchCase) {
	fmt.Fprint(w, "| server |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c.ID)
	}
	fmt.Fprint(w, "\n|---|")
	for range cols {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	var servers []string
	for _, s := range rep.servers {
		if s.Kind == k && slices.ContainsFunc(cols, func(c benchCase) bool { return rep.find(c.ID, s.Name) != nil }) {
			servers = append(servers, s.Name)
		}
	}
	for _, s := range servers {
		fmt.Fprintf(w, "| %s |", s)
		for _, c := range cols {
			sm := rep.find(c.ID, s)
			switch {
			case sm == nil:
				fmt.Fprint(w, " |")
			case c.Kind == kindIdle:
				fmt.Fprintf(w, " %s |", times(sm.XPerConn))
			default:
				fmt.Fprintf(w, " %s / %s |", times(sm.XOps), times(sm.XPerCPU))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// count prints a number with thousands separators and no decimals.
func count(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// times prints a ratio, or "-" for none.
func times(x float64) string {
	if x <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

// bytesPerConn prints memory per connection.
func bytesPerConn(b float64) string {
	if b >= 10*1024 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

// oneLine shortens an error for a table cell.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

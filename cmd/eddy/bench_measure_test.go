package main

import (
	"slices"
	"testing"
	"time"
)

// Each round starts one server further along: over as many rounds as there are servers, every server
// runs first once and last once, and every round holds every server once.
func TestBenchRotationChangesTheOrder(t *testing.T) {
	for _, k := range []caseKind{kindEcho, kindHTTP} {
		servers := serversFor(benchServers(), k)
		n := len(servers)
		first, last := map[string]int{}, map[string]int{}
		for round := 1; round <= n; round++ {
			order := rotate(servers, round-1)
			if len(order) != n {
				t.Fatalf("%s round %d: %d servers, want %d", k, round, len(order), n)
			}
			seen := map[string]bool{}
			for _, s := range order {
				seen[s.Name] = true
			}
			if len(seen) != n {
				t.Errorf("%s round %d: order %v does not hold every server once", k, round, order)
			}
			first[order[0].Name]++
			last[order[n-1].Name]++
		}
		for _, s := range servers {
			if first[s.Name] != 1 || last[s.Name] != 1 {
				t.Errorf("%s: %s first in %d rounds and last in %d, want 1 and 1", k, s.Name, first[s.Name], last[s.Name])
			}
		}
		// rotate must not change its argument, which the next round rotates again.
		if again := serversFor(benchServers(), k); !slices.EqualFunc(servers, again, func(a, b benchServer) bool { return a.Name == b.Name }) {
			t.Errorf("%s: rotate changed the server list", k)
		}
	}
	if got := rotate([]int{1, 2, 3}, 4); !slices.Equal(got, []int{2, 3, 1}) {
		t.Errorf("rotate by 4 of 3 = %v, want [2 3 1]", got)
	}
	if got := rotate([]int(nil), 1); len(got) != 0 {
		t.Errorf("rotate of none = %v", got)
	}
}

// The tables' figures are medians of each server's runs (the mean of the middle two for an even count)
// and the ratios are of the medians, as docs/benchmarks.md says; one round gives its own figures, with
// the range collapsed to them.
func TestBenchMediansAndRatiosOfMedians(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cfg := defaultBenchConfig()
	cfg.echoConns, cfg.httpConns = []int{10}, nil
	rep := newBenchReport(cfg, pinning{})
	c := cfg.cases()[0]
	add := func(server string, round int, ops, perCPU float64) {
		rep.add(benchRun{Case: c.ID, Server: server, Round: round, OpsPerSec: ops, P99: int64(ops),
			ServerCPU: f(1), OpsPerCPU: f(perCPU), LoadCPU: f(0.5)})
	}
	// eddy-epoll: 4 rounds, medians (100+200)/2 and (10+30)/2.
	add("eddy-epoll", 1, 100, 10)
	add("eddy-epoll", 2, 400, 30)
	add("eddy-epoll", 3, 200, 40)
	add("eddy-epoll", 4, 50, 5)
	// net: 4 rounds, one of them failed: medians of 3.
	add("net", 1, 300, 60)
	add("net", 2, 600, 30)
	add("net", 3, 900, 90)
	rep.add(benchRun{Case: c.ID, Server: "net", Round: 4, Error: "boom", OpsPerSec: 1e9})
	// eddy-std: one round.
	add("eddy-std", 1, 75, 20)
	rep.finish(time.Second)
	rows := map[string]serverRow{}
	for _, row := range rep.Cases[0].Rows {
		rows[row.Server] = row
	}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	e, n, s := rows["eddy-epoll"], rows["net"], rows["eddy-std"]
	if e.Runs != 4 || !near(e.OpsPerSec, 150) || e.OpsMin != 50 || e.OpsMax != 400 || !near(*e.OpsPerCPU, 20) || e.P99 != 150 {
		t.Errorf("eddy-epoll row %+v: want 4 runs, 150/s (50-400), p99 150, 20 per CPU-s", e)
	}
	if n.Runs != 3 || len(n.Failed) != 1 || n.OpsPerSec != 600 || n.OpsMax != 900 || *n.OpsPerCPU != 60 {
		t.Errorf("net row %+v: want 3 runs and 1 failure, 600/s (max 900), 60 per CPU-s", n)
	}
	if s.Runs != 1 || s.OpsPerSec != 75 || s.OpsMin != 75 || s.OpsMax != 75 || *s.OpsPerCPU != 20 {
		t.Errorf("eddy-std row %+v: want 1 run, 75/s (75-75), 20 per CPU-s", s)
	}
	if rep.Cases[0].Reference != "eddy-epoll" {
		t.Fatalf("reference %q", rep.Cases[0].Reference)
	}
	if !near(n.RatioOps, 4) || !near(*n.RatioPerCPU, 3) || !near(s.RatioOps, 0.5) || !near(*s.RatioPerCPU, 1) || !near(e.RatioOps, 1) {
		t.Errorf("ratios net %v/%v, eddy-std %v/%v, eddy-epoll %v; want 4/3, 0.5/1, 1", n.RatioOps, *n.RatioPerCPU, s.RatioOps, *s.RatioPerCPU, e.RatioOps)
	}
}

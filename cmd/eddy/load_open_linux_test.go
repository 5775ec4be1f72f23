//go:build linux

package main

import (
	"encoding/json"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notAcceptingListener returns the address of a loopback TCP socket that nothing accepts from
// (stuckListener): the kernel completes the first connects, as many as its accept queue holds, then
// drops every SYN, so that a dial hangs until its deadline. With full set, the queue is filled first, by
// connections held open until the test ends: no dial of the test's can open one.
func notAcceptingListener(t *testing.T, full bool) string {
	t.Helper()
	addr := stuckListener(t)
	if full {
		for i := 0; ; i++ {
			if i == 16 {
				t.Fatalf("the accept queue of a backlog of 0 took %d connections, and is not full", i)
			}
			c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
			if err != nil {
				break // the queue is full: this SYN was dropped
			}
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

var stoppedOpening = regexp.MustCompile(`stopped opening after (\d+) of (\d+) dials: no connection opened for --timeout `)

// dialsMade returns the number of dials made that the message "stopped opening after N of M dials" gives,
// failing the test without it.
func dialsMade(t *testing.T, stderr string, conns int) int {
	t.Helper()
	m := stoppedOpening.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr does not say that opening stopped:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	if m[2] != strconv.Itoa(conns) {
		t.Errorf("stopped after %s of %s dials, want of %d", m[1], m[2], conns)
	}
	return n
}

// The review's case: against a server whose accept queue is full, opening took conns / dialers *
// --timeout (5,000 connections with --timeout 2s: over a minute) before failing with "no connection could
// be opened". It stops now when the first dials run to --timeout with none opened, on every engine (the
// std engine's dials are each bounded by --timeout too: it ends as soon).
func TestLoadOpenStopsWhenNoConnectionOpens(t *testing.T) {
	const conns, dialers, timeout = 200, 8, 150 * time.Millisecond
	for _, hold := range []bool{false, true} {
		name := "traffic"
		if hold {
			name = "hold"
		}
		t.Run(name, func(t *testing.T) {
			forEachLoadEngine(t, func(t *testing.T, engine string) {
				addr := notAcceptingListener(t, true)
				args := []string{"load", "--engine", engine, "--addr", addr, "--conns", strconv.Itoa(conns),
					"--dialers", strconv.Itoa(dialers), "--timeout", timeout.String()}
				if hold {
					args = append(args, "--hold", "100ms")
				} else {
					args = append(args, "--duration", "200ms")
				}
				start := time.Now()
				code, stdout, stderr := runCmd(t, t.Context(), args...)
				elapsed := time.Since(start)
				if code != exitFail || stdout != "" {
					t.Fatalf("exit code %d, stdout %q, want %d and none; stderr:\n%s", code, stdout, exitFail, stderr)
				}
				for _, want := range []string{"no connection could be opened to " + addr + " (stopped opening",
					"first error: dial tcp " + addr + ": context deadline exceeded (not connected within --timeout 150ms)"} {
					if !strings.Contains(stderr, want) {
						t.Errorf("stderr lacks %q:\n%s", want, stderr)
					}
				}
				// Every dial fails at its deadline, --timeout after it started, and so after opening began:
				// the first to fail stops opening. Only the first dialers were made.
				if n := dialsMade(t, stderr, conns); n < 1 || n > dialers {
					t.Errorf("%d dials made, want 1 to --dialers %d", n, dialers)
				}
				// Not a measure of speed: running every dial to its bound took conns/dialers * --timeout.
				if bound := conns / dialers * timeout; elapsed >= bound {
					t.Errorf("the run took %v, as long as dialling every connection to --timeout (%v)", elapsed, bound)
				}
			})
		})
	}
}

// With a few connections opened before the server stopped accepting, opening stops too, and the window
// runs on those open, saying so; every connection not opened is an error, and the run fails.
func TestLoadOpenGoesOnWithTheConnectionsOpen(t *testing.T) {
	const conns, dialers, timeout = 200, 8, 150 * time.Millisecond
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		addr := notAcceptingListener(t, false)
		code, stdout, stderr := runCmd(t, t.Context(), "load", "--json", "--engine", engine, "--addr", addr,
			"--conns", strconv.Itoa(conns), "--dialers", strconv.Itoa(dialers), "--timeout", timeout.String(), "--duration", "200ms")
		if code != exitFail {
			t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFail, stderr)
		}
		var r loadReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("decoding the report: %v\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if r.Open < 1 || r.Open >= dialers || r.Conns != conns {
			t.Fatalf("%d of %d connections open, want the few the accept queue took (1 to %d) of %d", r.Open, r.Conns, dialers-1, conns)
		}
		// The dials in flight when the last connection opened may each be followed by one more, which
		// fails --timeout after the last connection opened and stops opening; so may each dial that
		// opened one.
		if n := dialsMade(t, stderr, conns); n < dialers || n > 2*dialers+r.Open {
			t.Errorf("%d dials made, want %d to %d", n, dialers, 2*dialers+r.Open)
		}
		if want := "going on with the " + plural(r.Open, "connection") + " open"; !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
		if want := "eddy load: running " + plural(r.Open, "connection") + " for 200ms"; !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
		// Each connection not opened is an error: a dial that failed or one not made; and the server
		// answers no request on those open.
		if r.Errors < uint64(conns-r.Open) || r.RoundTrips != 0 {
			t.Errorf("%d errors and %d round trips, want at least %d errors (the connections not opened) and no round trip", r.Errors, r.RoundTrips, conns-r.Open)
		}
		if want := "context deadline exceeded (not connected within --timeout 150ms)"; !strings.Contains(r.FirstError, want) {
			t.Errorf("first error %q, want the dial's %q", r.FirstError, want)
		}
	})
}

package main

import (
	"context"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// An open-loop run (--rate) with --requests and no --duration against a server that never answers must
// end once its requests have had no answer for longer than --timeout, as a closed-loop run does
// (TestLoadRequestsEndsOnASilentServer): "a --requests run without --duration ends once requests in
// flight have had no answer for longer". The stall detector of loadRun.await reads r.issued, which a
// paced shard never incremented, so it took the run for idle and waited for ever (session 19).
func TestLoadRateRequestsEndsOnASilentServer(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	start := time.Now()
	code, _, stderr := runCmd(t, ctx, "load", "--engine", "epoll", "--addr", addr, "--conns", "2",
		"--rate", "100", "--requests", "10", "--timeout", "200ms")
	took := time.Since(start)
	if took > 2500*time.Millisecond {
		t.Errorf("eddy load --rate 100 --requests 10 --timeout 200ms against a server that never answers ran %v (ended only by the test's cancel); exit %d\nstderr:\n%s",
			took.Round(time.Millisecond), code, stderr)
	}
	if code != exitFail || !strings.Contains(stderr, "unanswered") {
		t.Errorf("exit %d, want %d with the unanswered requests as errors; stderr:\n%s", code, exitFail, stderr)
	}
}

// eddy load --hold against a server that never answers sends two echoes on each connection (one as it
// opens, one after the hold): at most that many can be unanswered. The first awaitQuiet counted the
// echoes outstanding after --timeout as unanswered but left them outstanding, so the second counted
// them again (session 19: they are written off, and their connections get no second echo).
func TestLoadHoldCountsUnansweredEchoesOnce(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	const conns = 2
	code, r, stderr := runLoadJSON(t, "--engine", "epoll", "--addr", addr, "--conns", "2", "--hold", "100ms", "--timeout", "300ms")
	if code != exitFail {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFail, stderr)
	}
	if r.Unanswered > 2*conns || r.Errors > 2*conns {
		t.Errorf("unanswered %d, errors %d: only %d echoes were sent (one before and one after the hold on each of %d connections); first error %q",
			r.Unanswered, r.Errors, 2*conns, conns, r.FirstError)
	}
}

// A percentile p of the latency report must be a value that at least p% of the round trips took no
// longer than (nearest rank, the brute-force definition; the histogram may only round the value by
// 0.1%). hdrhistogram-go's ValueAtQuantile rounds the rank to the nearest sample rather than up, so with 7
// round trips, one of them slow, "p90" was the fast value: 6 of 7 (85.7%) are at or below it, not 90%.
// The same off-by-one hit p99.9 of 1,600 round trips (the 1,598th value, not the 1,599th; session 19).
func TestLatencyPercentilesAreNearestRank(t *testing.T) {
	check := func(vals []int64) {
		t.Helper()
		r := newLatencyRecorder()
		for _, v := range vals {
			r.record(v)
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		s := r.summary()
		for _, c := range []struct {
			q   float64
			got int64
		}{{50, s.P50}, {90, s.P90}, {99, s.P99}, {99.9, s.P999}} {
			k := int(math.Ceil(c.q / 100 * float64(len(vals))))
			want := sorted[max(k, 1)-1]
			if float64(c.got) < float64(want)*0.999 || float64(c.got) > float64(want)*1.001 {
				below := 0
				for _, v := range vals {
					if v <= c.got {
						below++
					}
				}
				t.Errorf("%d latencies: p%v is %v, want %v (the %d-th smallest): only %d of %d (%.3f%%) are at or below it",
					len(vals), c.q, time.Duration(c.got), time.Duration(want), k, below, len(vals), 100*float64(below)/float64(len(vals)))
			}
		}
	}
	// 6 round trips of 1ms and one of 100ms.
	check([]int64{1e6, 1e6, 1e6, 1e6, 1e6, 1e6, 100e6})
	// 1,600 round trips: 1,598 of 1ms, two of 100ms and 200ms.
	vals := make([]int64, 1600)
	for i := range vals {
		vals[i] = 1e6
	}
	vals[1598], vals[1599] = 100e6, 200e6
	check(vals)
}

// Unsent requests are "due by the schedule when the window closed, but never sent, every connection being
// busy". The schedule was split evenly between the loops, and the connections are dealt to them in
// turn: with 3 connections on 2 loops, one loop had a single connection for half the rate, fell behind
// and reported unsent requests while the other loop's two sat idle half the time; such a run was made a
// usage error (session 19). Since session 21 the loops share the schedule, whichever has a free
// connection sending the next request due, and the rule is gone: 60 requests a second against a server
// that answers in 40 ms (25 a second per connection) on 3 connections over 2 loops leave nothing unsent.
func TestLoadRateWithConnsTheLoopsDoNotDivide(t *testing.T) {
	echo := slowEcho(t, 40*time.Millisecond)
	code, r, stderr := runLoadJSON(t, "--engine", "epoll", "--loops", "2", "--addr", echo, "--conns", "3",
		"--rate", "60", "--duration", "1500ms")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if r.Unsent > 2 || r.Sent < 60 {
		t.Errorf("unsent %d, sent %d at %.1f/s of the 60/s asked, latency p99 %v: 3 connections carry 75/s, yet requests were left unsent",
			r.Unsent, r.Sent, r.SentPerSec, time.Duration(r.Latency.P99))
	}
}

// eddy hello stops gracefully on SIGINT or SIGTERM (here, its context), as the eddy servers do at once
// with the same client connected. On --baseline, a client connected that has not sent a request yet
// (a preconnect, a health check's TCP probe) held net/http's Shutdown until helloStopTimeout, 5s, and
// the stop then failed: "eddy: hello: context deadline exceeded", exit 1 (session 19).
func TestHelloBaselineStopsWithAnIdleNewConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveHello(ctx, helloConfig{addr: "tcp://127.0.0.1:0", baseline: true}, func(l listening) { ready <- l })
	}()
	var l listening
	select {
	case l = <-ready:
	case err := <-done:
		t.Fatalf("server failed to start: %v", err)
	}
	c, err := net.Dial("tcp", l.Addr.String()) // connected, nothing sent
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // accepted
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if took := time.Since(start); err != nil || took > 2*time.Second {
			t.Errorf("eddy hello --baseline with one idle new connection stopped in %v with error %v; want a prompt, clean stop",
				took.Round(time.Millisecond), err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("eddy hello --baseline did not stop within 8s")
	}
}

// --method was checked only in http mode: "eddy load --method PUT" in echo mode (the default) started a
// run instead of refusing the value, as --expect-status 42 and --body-size -5 are refused in any mode.
func TestLoadBadMethodIsAUsageErrorInEchoMode(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) { io.Copy(c, c) })
	code, _, stderr := runCmd(t, t.Context(), "load", "--method", "PUT", "--addr", addr, "--conns", "1", "--duration", "100ms")
	if code != exitUsage || !strings.Contains(stderr, "PUT") {
		t.Errorf("eddy load --method PUT: exit %d, want %d naming the value; stderr:\n%s", code, exitUsage, stderr)
	}
}

// A response whose body the end of the connection delimits tells the client that the server closes the
// connection (responseParser.Close says so), as "Connection: close" does: the requests pipelined
// behind it were never going to be answered there and are sent again on a new connection, with no
// error, as TestLoadHTTPResponseShapes's HTTP/1.0 case does with --pipeline 2. For a close-delimited
// body the response completes in OnClose (httpClosed), which counted the other requests in flight as
// lost: "server closed the connection with 1 requests unanswered" (session 19).
func TestLoadHTTPBodyUntilEOFPipelined(t *testing.T) {
	addr := rawHTTPServer(t, "HTTP/1.1 200 OK\r\n\r\nuntil the end", true)
	code, r, stderr := runLoadJSON(t, "--url", "http://"+addr+"/", "--engine", "epoll", "--conns", "2",
		"--requests", "60", "--duration", "10s", "--pipeline", "2")
	if code != exitOK || r.RoundTrips != 60 || r.Errors != 0 {
		t.Errorf("exit %d, round trips %d, errors %d (%s); want %d, 60, 0\n%s", code, r.RoundTrips, r.Errors, r.FirstError, exitOK, stderr)
	}
}

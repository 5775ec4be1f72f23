package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of how a load run ends: the requests still unanswered when its window closes, and the runs
// that must fail although no reply was wrong.

// A server that echoes every message but its last byte: not one reply comes back whole. The requests
// left unanswered in a run that had no reply are errors, and the run fails.
func TestLoadShortEchoRepliesFailTheRun(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			if _, err := c.Write(b[:63]); err != nil {
				return
			}
		}
	})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		start := time.Now()
		code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", addr, "--conns", "2", "--size", "64", "--duration", "300ms")
		t.Logf("exit %d, round trips %d, errors %d, first %q, took %v\n%s", code, r.RoundTrips, r.Errors, r.FirstError, time.Since(start), stderr)
		if code == exitOK || r.Errors == 0 {
			t.Errorf("exit code %d, errors %d, round trips %d: every reply lacked a byte, yet the run reports no error", code, r.Errors, r.RoundTrips)
		}
	})
}

// A server that reads the requests and never answers: the run ends at --duration, without waiting out
// --timeout, and fails.
func TestLoadSilentServerFailsTheRun(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, mode := range [][]string{{"--addr", addr}, {"--url", "http://" + addr + "/"}} {
		t.Run(mode[0], func(t *testing.T) {
			start := time.Now()
			code, r, stderr := runLoadJSON(t, append(mode, "--engine", "epoll", "--conns", "2", "--duration", "300ms")...)
			took := time.Since(start)
			t.Logf("exit %d, round trips %d, errors %d, first %q, took %v\n%s", code, r.RoundTrips, r.Errors, r.FirstError, took, stderr)
			if took > 5*time.Second {
				t.Errorf("took %v for a 300ms window", took)
			}
			if code == exitOK {
				t.Errorf("exit code %d with no reply in the whole window (round trips %d, errors %d)", code, r.RoundTrips, r.Errors)
			}
		})
	}
}

// A Content-Length larger than the body sent: no response ever completes, and the run fails.
func TestLoadHTTPResponseShortOfItsLengthFails(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 4096)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nHello, World!"); err != nil {
				return
			}
		}
	})
	code, r, stderr := runLoadJSON(t, "--url", "http://"+addr+"/", "--engine", "epoll", "--conns", "2", "--duration", "300ms")
	t.Logf("exit %d, round trips %d, errors %d, first %q\n%s", code, r.RoundTrips, r.Errors, r.FirstError, stderr)
	if code == exitOK {
		t.Errorf("exit code %d: every response was short of its Content-Length", code)
	}
}

// stallingEcho serves an echo server on which every other connection accepted, the first, the third and
// so on, never gets an answer: one of the two of each run that opens them one at a time (--dialers 1).
func stallingEcho(t *testing.T) string {
	var accepted atomic.Int32
	return rawServer(t, func(c net.Conn) {
		if accepted.Add(1)%2 == 1 {
			io.Copy(io.Discard, c)
			return
		}
		io.Copy(c, c)
	})
}

// A request unanswered for less than --timeout when the window closes is reported as pending, and is no
// error: the other connection's round trips make the run a success.
func TestLoadReportsPendingRequests(t *testing.T) {
	addr := stallingEcho(t)
	code, r, stderr := runLoadJSON(t, "--engine", "epoll", "--addr", addr, "--conns", "2", "--dialers", "1", "--duration", "300ms")
	if code != exitOK || r.Errors != 0 || r.RoundTrips == 0 {
		t.Fatalf("exit %d, errors %d (%s), round trips %d; want %d, 0, some\n%s", code, r.Errors, r.FirstError, r.RoundTrips, exitOK, stderr)
	}
	// The stalled request, and perhaps the other connection's last, unanswered a moment after the end.
	if r.Pending < 1 || r.Pending > 2 || r.Unanswered != 0 || r.PendingOldest < int64(250*time.Millisecond) {
		t.Errorf("pending %d (the oldest for %v), unanswered %d; want 1 or 2, for about 300ms, and 0",
			r.Pending, time.Duration(r.PendingOldest), r.Unanswered)
	}
	code, stdout, _ := runCmd(t, t.Context(), "load", "--engine", "epoll", "--addr", addr, "--conns", "2", "--dialers", "1", "--duration", "100ms")
	if code != exitOK || !strings.Contains(stdout, " unanswered when the window closed, the oldest for ") {
		t.Errorf("exit %d, text report:\n%s", code, stdout)
	}
}

// A request still unanswered --timeout after it was sent, when the window closes, is an error, whatever
// the other connections did.
func TestLoadCountsRequestsUnansweredPastTimeout(t *testing.T) {
	addr := stallingEcho(t)
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		// The echoing connection's last request is unanswered past the timeout too when the process
		// was starved for 100 ms near the window's end: then the run goes again (timely).
		timely(t, func() string {
			code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", addr, "--conns", "2", "--dialers", "1", "--timeout", "100ms", "--duration", "300ms")
			if code != exitFail || r.RoundTrips == 0 || r.Pending < 1 || r.Unanswered < 1 || r.Unanswered > r.Pending || r.Errors != r.Unanswered {
				t.Fatalf("exit %d, round trips %d, pending %d, unanswered %d, errors %d; want %d, some, 1 or 2, 1 (or 2), as many\n%s",
					code, r.RoundTrips, r.Pending, r.Unanswered, r.Errors, exitFail, stderr)
			}
			if r.Unanswered != 1 {
				return fmt.Sprintf("%d unanswered: the echoing connection's last request too (%s)", r.Unanswered, r.FirstError)
			}
			if !strings.Contains(r.FirstError, "1 request unanswered when the window closed") ||
				!strings.Contains(stderr, "1 errors (0 mismatched replies, 0 bad statuses, 1 unanswered)") {
				t.Fatalf("first error %q, stderr:\n%s", r.FirstError, stderr)
			}
			return ""
		})
	})
}

// An absurdly low rate, one request per 317 years: the schedule saturates instead of overflowing into
// "due now", and the one request due at the start is the only one sent.
func TestLoadTinyRateDoesNotOverflow(t *testing.T) {
	srv := startEcho(t, echoConfig{engine: "auto", loops: 1})
	for _, loops := range []string{"1", "2"} {
		// On two loops, the second loop's first request is due in 317 years: it is never sent.
		code, r, stderr := runLoadJSON(t, "--engine", "epoll", "--addr", srv.Addr.String(), "--loops", loops, "--conns", loops,
			"--rate", "1e-10", "--duration", "300ms")
		if code != exitOK || r.RoundTrips != 1 || r.Errors != 0 {
			t.Errorf("--loops %s: exit %d, round trips %d, errors %d at --rate 1e-10 in 300ms; want %d, 1, 0\n%s",
				loops, code, r.RoundTrips, r.Errors, exitOK, stderr)
		}
	}
}

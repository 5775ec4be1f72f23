package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// The tests of an open-loop run (--rate) that the server cannot keep up with: the requests due but never
// sent are reported as unsent, the rate they went out at beside the rate asked, a warning when it fell far
// behind, and latency counts from each request's scheduled time.

// slowEcho serves an echo server that answers each 64-byte message delay after it has read it, one at a
// time on each connection: a connection carries at most one message per delay.
func slowEcho(t *testing.T, delay time.Duration) string {
	return rawServer(t, func(c net.Conn) {
		b := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			time.Sleep(delay)
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
}

// 1,000 requests a second for 300ms on two connections to a server that answers each in 20ms, one at a
// time: the schedule makes 300 due, the connections carry about 30. The rest are unsent, the requests went
// out at about 100 a second, and the latency of those sent counts the time they waited for a connection.
func TestLoadRateReportsUnsentRequests(t *testing.T) {
	echo := slowEcho(t, 20*time.Millisecond)
	check := func(t *testing.T, r loadReport) string {
		t.Helper()
		// 300 due in all (the last at 299ms); of them about 2*300/20 = 30 sent, a few more at the edges.
		if r.Unsent == 0 || r.Sent < 2 || r.Sent > 60 || r.Sent+r.Unsent < 285 || r.Sent+r.Unsent > 300 {
			t.Fatalf("sent %d, unsent %d; want about 30 sent and together the 300 the schedule made due", r.Sent, r.Unsent)
		}
		if r.SentPerSec <= 0 || r.SentPerSec > 300 {
			t.Fatalf("sent at %.1f/s, want about 100/s (two connections, 20ms a round trip) of the 1000/s asked", r.SentPerSec)
		}
		// The k-th request waits about 9k ms for a connection: the late ones dominate the percentiles
		// (unless the process was stopped for most of the window, and sent only a few).
		if l := r.Latency; l.P99 < int64(100*time.Millisecond) || l.P50 < int64(50*time.Millisecond) {
			return fmt.Sprintf("latency p50 %v, p99 %v; want well above the server's 20ms: latency counts from each request's scheduled time",
				time.Duration(l.P50), time.Duration(l.P99))
		}
		return ""
	}
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		timely(t, func() string {
			code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", echo, "--conns", "2", "--rate", "1000", "--duration", "300ms")
			if code != exitOK || r.Errors != 0 {
				t.Fatalf("exit code %d, errors %d (%s); want %d, 0: falling behind is no error\n%s", code, r.Errors, r.FirstError, exitOK, stderr)
			}
			return check(t, r)
		})
	})
	t.Run("text", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, t.Context(), "load", "--engine", "epoll", "--addr", echo, "--conns", "2", "--rate", "1000", "--duration", "300ms")
		if code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
		}
		for _, want := range []string{"rate         1000/s asked, ", " due requests unsent when the window closed", "\nwarning      fell behind: "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("report lacks %q:\n%s", want, stdout)
			}
		}
	})
}

// An HTTP server that answers each request 20ms after it has read it falls behind a rate it cannot
// carry just as an echo server does.
func TestLoadHTTPRateReportsUnsentRequests(t *testing.T) {
	web := rawServer(t, func(c net.Conn) {
		b := make([]byte, 4096)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	code, r, stderr := runLoadJSON(t, "--url", "http://"+web+"/", "--engine", "epoll", "--conns", "2", "--rate", "1000", "--duration", "300ms")
	if code != exitOK || r.Errors != 0 {
		t.Fatalf("exit code %d, errors %d (%s)\n%s", code, r.Errors, r.FirstError, stderr)
	}
	if r.Unsent < 200 || r.Sent+r.Unsent < 285 || r.Sent+r.Unsent > 300 || r.SentPerSec > 300 {
		t.Errorf("sent %d (%.1f/s), unsent %d; want about 30 sent, at about 100/s, and the rest of the 300 due unsent", r.Sent, r.SentPerSec, r.Unsent)
	}
}

// 100 requests a second for 400ms on 16 connections to a server that answers at once: all 40 due go out
// on time, none is unsent, and the report warns of nothing. (Every connection would have to wait 160ms
// for an answer for the run to fall behind, but a sender starved for 50ms near the end of the window
// already sends below 90/s: the test takes the best of three runs.)
func TestLoadRateKeepingUpLeavesNoneUnsent(t *testing.T) {
	echo := startEcho(t, echoConfig{engine: "auto", loops: 1})
	web := startHTTP1(t, http1.NativeHandlerFunc(hello))
	check := func(r loadReport) string {
		if r.Unsent != 0 || r.Sent < 35 {
			return fmt.Sprintf("sent %d, unsent %d; want up to the 40 due sent and none unsent", r.Sent, r.Unsent)
		}
		if r.SentPerSec < 90 {
			return fmt.Sprintf("sent at %.1f/s, want about the 100/s asked", r.SentPerSec)
		}
		return ""
	}
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		for _, args := range [][]string{{"--addr", echo.Addr.String()}, {"--url", "http://" + web + "/", "--loops", "2"}} {
			timely(t, func() string {
				code, r, stderr := runLoadJSON(t, append(args, "--engine", engine, "--conns", "16", "--rate", "100", "--duration", "400ms")...)
				if code != exitOK || r.Errors != 0 {
					t.Fatalf("%v: exit code %d, errors %d (%s)\n%s", args, code, r.Errors, r.FirstError, stderr)
				}
				if r.Sent > 40 || r.SentPerSec > 100*1.001 {
					t.Fatalf("%v: sent %d at %.1f/s; at most the 40 due, at 100/s", args, r.Sent, r.SentPerSec)
				}
				return check(r)
			})
		}
	})
	t.Run("text", func(t *testing.T) {
		timely(t, func() string {
			code, stdout, stderr := runCmd(t, t.Context(), "load", "--engine", "epoll", "--addr", echo.Addr.String(), "--conns", "16", "--rate", "100", "--duration", "400ms")
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "rate         100/s asked, ") {
				t.Fatalf("report lacks the rate line:\n%s", stdout)
			}
			if !strings.Contains(stdout, ", 0 unsent\n") {
				return "not 0 unsent:\n" + stdout
			}
			if strings.Contains(stdout, "warning") {
				return "a warning:\n" + stdout
			}
			return ""
		})
	})
}

func TestLoadTextReportRate(t *testing.T) {
	text := func(r loadReport) string {
		var b bytes.Buffer
		r.writeText(&b)
		return b.String()
	}
	behind := loadReport{Mode: "echo", Rate: 20000, Seconds: 10, Sent: 20000, SentPerSec: 2000, Unsent: 180000}
	out := text(behind)
	for _, want := range []string{
		"rate         20000/s asked, 2000/s sent (20000 requests), 180000 due requests unsent when the window closed\n",
		"warning      fell behind: requests went out at 10% of the rate asked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	onTime := loadReport{Mode: "echo", Rate: 0.5, Seconds: 10, Sent: 5, SentPerSec: 0.5}
	if out := text(onTime); !strings.Contains(out, "rate         0.5/s asked, 0.5/s sent (5 requests), 0 unsent\n") || strings.Contains(out, "warning") {
		t.Errorf("report of a run on schedule:\n%s", out)
	}
	// 90% of the rate is not far behind; a little under is.
	if out := text(loadReport{Rate: 1000, Sent: 900, SentPerSec: 900}); strings.Contains(out, "warning") {
		t.Errorf("warns at 90%% of the rate:\n%s", out)
	}
	if out := text(loadReport{Rate: 1000, Sent: 899, SentPerSec: 899}); !strings.Contains(out, "warning") {
		t.Errorf("no warning at 89.9%% of the rate:\n%s", out)
	}
	// Behind with none unsent: every request went out, late (--requests).
	if out := text(loadReport{Rate: 200, Sent: 8, SentPerSec: 28}); !strings.Contains(out, "at 14% of the rate asked") || strings.Contains(out, "never sent") {
		t.Errorf("report of a run that sent every request late:\n%s", out)
	}
	if out := text(loadReport{Mode: "echo", RoundTrips: 10, Seconds: 1}); strings.Contains(out, "rate ") || strings.Contains(out, "warning") {
		t.Errorf("closed-loop report speaks of a rate:\n%s", out)
	}
}

// The help of "eddy load" says what --rate measures latency from, and what unsent means.
func TestLoadHelpExplainsRate(t *testing.T) {
	code, stdout, _ := runCmd(t, t.Context(), "help", "load")
	for _, want := range []string{"scheduled time", "unsent"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("exit %d; help load lacks %q:\n%s", code, want, stdout)
		}
	}
}

// The number of the run's requests due before a time, against the schedule itself, with and without
// --requests.
func TestShardDueBefore(t *testing.T) {
	for _, tt := range []struct {
		rate  float64
		quota int64
	}{
		{1000, 1 << 62}, {3, 1 << 62}, {7e5, 1 << 62}, {1000, 5}, {1e-10, 1 << 62},
	} {
		sh := &shard{paced: true, t0: 12345, interval: 1e9 / tt.rate, quota: tt.quota}
		for _, at := range []int64{0, 12345, 12346, 12345 + 1e6, 12345 + 1e6 + 1, 12345 + 3e9 - 1, 12345 + 3e9, 12345 + 3e9 + 1, 1 << 62} {
			// The first request not due at at, by bisection of the schedule, which is monotonic.
			lo, hi := int64(0), sh.quota
			for lo < hi {
				if m := lo + (hi-lo)/2; sh.scheduled(m) < at {
					lo = m + 1
				} else {
					hi = m
				}
			}
			want := lo
			if got := sh.dueBefore(at); got != want {
				t.Errorf("rate %v, quota %d: dueBefore(%d) = %d, want %d", tt.rate, tt.quota, at, got, want)
			}
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// runLoadJSON runs "eddy load --json" with args in-process and decodes its report.
func runLoadJSON(t *testing.T, args ...string) (int, loadReport, string) {
	t.Helper()
	code, stdout, stderr := runCmd(t, t.Context(), append([]string{"load", "--json"}, args...)...)
	var r loadReport
	if stdout != "" {
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("decoding the report: %v\n%s", err, stdout)
		}
	}
	return code, r, stderr
}

// forEachLoadEngine runs f once for each engine the load generator can use on this platform.
func forEachLoadEngine(t *testing.T, f func(t *testing.T, engine string)) {
	for _, e := range loadEngines() {
		t.Run(e, func(t *testing.T) { f(t, e) })
	}
}

// checkLatency fails the test unless the percentiles are ordered and positive.
func checkLatency(t *testing.T, l latency) {
	t.Helper()
	if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max || l.Mean <= 0 || l.Mean > l.Max {
		t.Errorf("latency %+v: want 0 < p50 <= p90 <= p99 <= p99.9 <= max and 0 < mean <= max", l)
	}
}

func TestLoadEchoCountsVerifiedRoundTrips(t *testing.T) {
	srv := startEcho(t, echoConfig{engine: "auto", loops: 1})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", srv.Addr.String(), "--conns", "8", "--size", "100", "--duration", "200ms")
		if code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
		}
		if r.Open != 8 || r.Conns != 8 || r.Engine != engine || r.Mode != "echo" {
			t.Errorf("%d of %d connections open on engine %q in mode %q, want 8 of 8 on %q in echo", r.Open, r.Conns, r.Engine, r.Mode, engine)
		}
		if r.RoundTrips == 0 || r.RoundTripsPerSec <= 0 {
			t.Errorf("round trips %d (%v/s), want some", r.RoundTrips, r.RoundTripsPerSec)
		}
		if r.Bytes != r.RoundTrips*100 {
			t.Errorf("bytes %d for %d round trips of 100 bytes", r.Bytes, r.RoundTrips)
		}
		if r.Errors != 0 || r.Mismatches != 0 || r.FirstError != "" {
			t.Errorf("errors %d, mismatches %d (%s), want none", r.Errors, r.Mismatches, r.FirstError)
		}
		checkLatency(t, r.Latency)
		if r.Seconds <= 0 || r.Seconds > 0.2 {
			t.Errorf("window %vs, want (0, 0.2]", r.Seconds)
		}
	})
}

func TestLoadRequestsStopsAtExactlyN(t *testing.T) {
	echo := startEcho(t, echoConfig{engine: "auto", loops: 2})
	web := startHTTP1(t, http1.NativeHandlerFunc(hello))
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		for _, args := range [][]string{
			{"--addr", echo.Addr.String(), "--size", "33"},
			{"--mode", "http", "--addr", web},
			{"--url", "http://" + web + "/", "--method", "POST", "--body-size", "100"},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				args = append(args, "--engine", engine, "--loops", "2", "--conns", "7", "--pipeline", "3", "--requests", "1234")
				code, r, stderr := runLoadJSON(t, args...)
				if code != exitOK {
					t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
				}
				if r.RoundTrips != 1234 || r.Errors != 0 {
					t.Errorf("round trips %d, errors %d (%s); want exactly 1234 and none", r.RoundTrips, r.Errors, r.FirstError)
				}
				checkLatency(t, r.Latency)
			})
		}
	})
}

func TestLoadPipelinesRequests(t *testing.T) {
	echo := startEcho(t, echoConfig{engine: "auto", loops: 1})
	web := startHTTP1(t, http1.NativeHandlerFunc(hello))
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		for _, args := range [][]string{
			{"--addr", echo.Addr.String(), "--size", "1000"},
			{"--mode", "http", "--addr", web},
		} {
			t.Run(args[len(args)-2], func(t *testing.T) {
				args = append(args, "--engine", engine, "--conns", "3", "--pipeline", "16", "--duration", "150ms")
				code, r, stderr := runLoadJSON(t, args...)
				if code != exitOK {
					t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
				}
				if r.RoundTrips < 16 || r.Errors != 0 || r.Pipeline != 16 {
					t.Errorf("round trips %d, errors %d (%s), pipeline %d; want some, none, 16", r.RoundTrips, r.Errors, r.FirstError, r.Pipeline)
				}
			})
		}
	})
}

func TestLoadRateKeepsToItsSchedule(t *testing.T) {
	echo := startEcho(t, echoConfig{engine: "auto", loops: 1})
	web := startHTTP1(t, http1.NativeHandlerFunc(hello))
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		for _, args := range [][]string{
			{"--addr", echo.Addr.String()},
			{"--mode", "http", "--addr", web, "--pipeline", "2"},
		} {
			t.Run(args[len(args)-2], func(t *testing.T) {
				// 300 requests at 1,500 a second: the last is due at 199.3 ms.
				args = append(args, "--engine", engine, "--loops", "2", "--conns", "4", "--requests", "300", "--rate", "1500")
				code, r, stderr := runLoadJSON(t, args...)
				if code != exitOK {
					t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
				}
				if r.RoundTrips != 300 || r.Errors != 0 {
					t.Errorf("round trips %d, errors %d (%s); want 300, 0", r.RoundTrips, r.Errors, r.FirstError)
				}
				if r.Seconds < 0.199 {
					t.Errorf("done in %.3fs, before the last request was due (0.199s)", r.Seconds)
				}
				if r.Rate != 1500 {
					t.Errorf("rate %v in the report, want 1500", r.Rate)
				}
			})
		}
	})
}

func TestLoadRateEndsWhenTheWindowEnds(t *testing.T) {
	// An open-loop run bounded by --duration: when the window ends, a request is usually due on a
	// loop whose clients wait for it. The shard's pacing once spun there for ever, refused the request
	// (the run was stopping) and put the client back on its free list, so the engine never stopped.
	echo := startEcho(t, echoConfig{engine: "auto", loops: 1})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		type result struct {
			code   int
			r      loadReport
			stderr string
		}
		timely(t, func() string {
			done := make(chan result, 1)
			go func() {
				code, r, stderr := runLoadJSON(t, "--engine", engine, "--loops", "2", "--addr", echo.Addr.String(),
					"--conns", "8", "--duration", "300ms", "--rate", "20000")
				done <- result{code, r, stderr}
			}()
			select {
			case res := <-done:
				if res.code != exitOK || res.r.Errors != 0 {
					t.Fatalf("exit code %d, errors %d; stderr:\n%s", res.code, res.r.Errors, res.stderr)
				}
				// None due after the window may be sent, even when the window's timer fires late.
				if res.r.RoundTrips > 6000 {
					t.Fatalf("round trips %d, more than the 6,000 due", res.r.RoundTrips)
				}
				// 20,000 a second for 0.3 s is 6,000 requests; allow a slow machine to fall well
				// behind, but a process stopped for most of the window makes few.
				if res.r.RoundTrips < 600 {
					return fmt.Sprintf("round trips %d, want 600..6000 (6,000 were due)", res.r.RoundTrips)
				}
				return ""
			case <-time.After(20 * time.Second):
				t.Fatal("eddy load --rate --duration did not end within 20 s of a 300 ms window")
				return ""
			}
		})
	})
}

func TestLoadRateChargesTheWaitForAConnection(t *testing.T) {
	// Echoes each 64-byte message 40 ms after it arrives. With one connection and one message in flight,
	// requests due every 5 ms wait for the connection: the k-th is sent about 40k ms after it was due,
	// and an open-loop run must count that wait (no coordinated omission).
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			time.Sleep(40 * time.Millisecond)
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", addr, "--conns", "1", "--requests", "8", "--rate", "200")
		if code != exitOK || r.RoundTrips != 8 {
			t.Fatalf("exit code %d, round trips %d; want %d, 8\n%s", code, r.RoundTrips, exitOK, stderr)
		}
		// The last request was due at 35 ms and answered at about 8*40 = 320 ms.
		if r.Latency.Max < int64(250*time.Millisecond) {
			t.Errorf("max latency %v, want at least 250ms: the wait for the connection was not counted", time.Duration(r.Latency.Max))
		}
	})
}

func TestLoadTextReport(t *testing.T) {
	l := startEcho(t, echoConfig{engine: "std"})
	code, stdout, stderr := runCmd(t, t.Context(), "load", "--addr", "tcp://"+l.Addr.String(), "--conns", "2", "--duration", "50ms")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"round trips", "latency      p50 ", " p99.9 ", "errors       0 (0 mismatched replies, 0 bad statuses)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "eddy load: running 2 connections for 50ms") {
		t.Errorf("stderr does not mark the window's start:\n%s", stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("a progress line was written to a stderr that is not a terminal:\n%q", stderr)
	}
}

func TestLoadHoldEchoesOnceBeforeAndAfter(t *testing.T) {
	srv := startEcho(t, echoConfig{engine: "auto", loops: 1})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", srv.Addr.String(), "--conns", "300", "--dialers", "50", "--hold", "100ms")
		if code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
		}
		if r.Open != 300 || r.RoundTrips != 600 || r.Errors != 0 {
			t.Errorf("open %d, round trips %d, errors %d (%s); want 300, 600, 0", r.Open, r.RoundTrips, r.Errors, r.FirstError)
		}
		if r.Seconds < 0.1 {
			t.Errorf("held for %vs, want at least 0.1s", r.Seconds)
		}
		if !strings.Contains(stderr, "eddy load: holding 300 connections for 100ms") {
			t.Errorf("stderr does not mark the hold:\n%s", stderr)
		}
	})
}

// rawServer serves every connection with serve on a goroutine of its own, until the test ends.
func rawServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestLoadCountsMismatchesAsErrors(t *testing.T) {
	// Echoes every byte but flips the 10th of each connection's stream.
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 64)
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		b[9] ^= 0xff
		c.Write(b)
		io.Copy(io.Discard, c)
	})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--engine", engine, "--addr", addr, "--conns", "3", "--size", "64", "--duration", "5s")
		if code != exitFail {
			t.Errorf("exit code %d, want %d", code, exitFail)
		}
		if r.Mismatches != 3 || r.Errors != 3 || r.RoundTrips != 0 {
			t.Errorf("mismatches %d, errors %d, round trips %d; want 3, 3, 0", r.Mismatches, r.Errors, r.RoundTrips)
		}
		if r.Seconds >= 5 {
			t.Errorf("ran the whole window (%vs) with every connection gone", r.Seconds)
		}
		if !strings.Contains(r.FirstError, "at byte 9") || !strings.Contains(stderr, "eddy: load: 3 errors (3 mismatched replies, 0 bad statuses)") {
			t.Errorf("first error %q, stderr %q: want the byte and the count named", r.FirstError, stderr)
		}
	})
}

func TestLoadCountsEarlyCloseAsError(t *testing.T) {
	// Echoes one 64-byte message and closes the connection.
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 64)
		if _, err := io.ReadFull(c, b); err == nil {
			c.Write(b)
		}
	})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, _ := runLoadJSON(t, "--engine", engine, "--addr", addr, "--conns", "4", "--duration", "5s")
		if code != exitFail || r.Errors != 4 || r.RoundTrips > 4 || r.Mismatches != 0 {
			t.Errorf("exit code %d, errors %d, round trips %d, mismatches %d; want %d, 4, at most 4, 0", code, r.Errors, r.RoundTrips, r.Mismatches, exitFail)
		}
		// A close with the next message unread is a reset, which may overtake the FIN.
		if !strings.Contains(r.FirstError, "server closed the connection") && !strings.Contains(r.FirstError, "reset by peer") {
			t.Errorf("first error %q does not say the server closed the connection", r.FirstError)
		}
	})
}

func TestLoadFailsWithoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, _, stderr := runCmd(t, t.Context(), "load", "--engine", engine, "--addr", addr, "--conns", "200", "--dialers", "7", "--duration", "50ms")
		if code != exitFail || !strings.Contains(stderr, "eddy: load: no connection could be opened") || !strings.Contains(stderr, "refused") {
			t.Errorf("exit code %d, stderr %q; want %d and the reason", code, stderr, exitFail)
		}
	})
}

// hello is the native handler of the HTTP tests: "Hello, World!" to everything, reading any body.
func hello(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	w.AddHeader("Content-Type", "text/plain")
	w.WriteString("Hello, World!")
}

// startHTTP1 serves h with eddy's http1 server until the test ends and returns its address.
func startHTTP1(t *testing.T, h http1.NativeHandler) string {
	t.Helper()
	s := &http1.Server{Addr: "127.0.0.1:0", Native: h, Loops: 1, Engine: eddy.EngineAuto}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s.Addrs()[0].String()
}

// startNetHTTP serves h with net/http until the test ends and returns its address.
func startNetHTTP(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func TestLoadHTTPReadsEveryKindOfResponse(t *testing.T) {
	big := strings.Repeat("x", 10000)
	servers := []struct {
		name string
		addr string
		args []string
	}{
		{"http1 native", startHTTP1(t, http1.NativeHandlerFunc(hello)), nil},
		{"net/http content-length", startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }), nil},
		{"net/http chunked", startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big)
			w.(http.Flusher).Flush()
			io.WriteString(w, big)
		}), []string{"--pipeline", "4"}},
		{"net/http POST", startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			if r.Method != "POST" || n != 5000 {
				w.WriteHeader(http.StatusBadRequest)
			}
		}), []string{"--method", "POST", "--body-size", "5000"}},
		{"net/http HEAD", startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
		}), []string{"--method", "HEAD"}},
		{"net/http 204", startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), []string{"--expect-status", "204"}},
		{"connection close", startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}), nil},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			forEachLoadEngine(t, func(t *testing.T, engine string) {
				args := append([]string{"--url", "http://" + s.addr + "/path?q=1", "--engine", engine, "--conns", "3", "--requests", "150"}, s.args...)
				code, r, stderr := runLoadJSON(t, args...)
				if code != exitOK {
					t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
				}
				if r.RoundTrips != 150 || r.Errors != 0 || r.Bytes == 0 || r.Mode != "http" {
					t.Errorf("round trips %d, errors %d (%s), bytes %d, mode %s; want 150, 0, some, http", r.RoundTrips, r.Errors, r.FirstError, r.Bytes, r.Mode)
				}
			})
		})
	}
}

func TestLoadHTTPCountsBadStatusAsErrors(t *testing.T) {
	addr := startNetHTTP(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) })
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--url", "http://"+addr+"/", "--engine", engine, "--conns", "2", "--requests", "40")
		if code != exitFail {
			t.Errorf("exit code %d, want %d", code, exitFail)
		}
		if r.RoundTrips != 0 || r.StatusErrors != 40 || r.Errors != 40 {
			t.Errorf("round trips %d, status errors %d, errors %d; want 0, 40, 40", r.RoundTrips, r.StatusErrors, r.Errors)
		}
		if !strings.Contains(r.FirstError, "status 500") || !strings.Contains(stderr, "40 bad statuses") {
			t.Errorf("first error %q, stderr %q: want the status named", r.FirstError, stderr)
		}
	})
}

func TestLoadHTTPCountsMalformedResponses(t *testing.T) {
	// Answers every request with something that is not HTTP, then waits for the next.
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 4096)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 2OO OK\r\n\r\n"); err != nil {
				return
			}
		}
	})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, _ := runLoadJSON(t, "--url", "http://"+addr+"/", "--engine", engine, "--conns", "2", "--requests", "10")
		if code != exitFail || r.Errors < 10 || r.RoundTrips != 0 || !strings.Contains(r.FirstError, "malformed HTTP status line") {
			t.Errorf("exit code %d, errors %d, round trips %d, first error %q; want %d, at least 10, 0 and the reason", code, r.Errors, r.RoundTrips, r.FirstError, exitFail)
		}
	})
}

func TestLoadHTTPReconnectsAndResendsAfterConnectionClose(t *testing.T) {
	// Serves three requests per connection, pipelined or not, and closes after the third answer.
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 64<<10)
		var got []byte
		for answered := 0; answered < 3; {
			n, err := c.Read(b)
			if err != nil {
				return
			}
			got = append(got, b[:n]...)
			for answered < 3 {
				i := strings.Index(string(got), "\r\n\r\n")
				if i < 0 {
					break
				}
				got = got[i+4:]
				answered++
				resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
				if answered == 3 {
					resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye"
				}
				io.WriteString(c, resp)
			}
		}
	})
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		code, r, stderr := runLoadJSON(t, "--url", "http://"+addr+"/", "--engine", engine, "--conns", "2", "--pipeline", "5", "--requests", "100")
		if code != exitOK || r.RoundTrips != 100 || r.Errors != 0 {
			t.Errorf("exit code %d, round trips %d, errors %d (%s); want %d, 100, 0\n%s", code, r.RoundTrips, r.Errors, r.FirstError, exitOK, stderr)
		}
	})
}

func TestLoadUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "ftp"}, `--mode "ftp": want echo or http`},
		{[]string{"--engine", "fast"}, `--engine "fast"`},
		{[]string{"--loops", "0"}, "--loops 0"},
		{[]string{"--loops", "4", "--conns", "3"}, "want at least one per loop"},
		{[]string{"--pipeline", "0"}, "--pipeline 0"},
		{[]string{"--conns", "100", "--size", "67108864"}, "would hold 12800 MiB of messages"},
		{[]string{"--conns", "2", "--size", "67108864", "--pipeline", "64"}, "would hold 8320 MiB of messages"},
		{[]string{"--requests", "-1"}, "--requests -1"},
		{[]string{"--rate", "-5"}, "--rate -5"},
		{[]string{"--rate", "1e300"}, "--rate 1e+300: want at most 1e9"},
		{[]string{"--hold", "1s", "--rate", "10"}, "--hold takes none of"},
		{[]string{"--hold", "1s", "--duration", "5s"}, "--hold takes none of"},
		{[]string{"--url", "ftp://x/"}, "want http://host[:port]/path"},
		{[]string{"--url", "127.0.0.1:8080/"}, `--url "127.0.0.1:8080/": want http://host[:port]/path`},
		{[]string{"--url", "http://127.0.0.1:99999/"}, `--url "http://127.0.0.1:99999/": address 99999: invalid port`},
		{[]string{"--addr", "127.0.0.1:99999"}, `--addr: bad address "127.0.0.1:99999": address 99999: invalid port`},
		{[]string{"--mode", "http", "--method", "PUT"}, `--method "PUT"`},
		{[]string{"--mode", "http", "--addr", "unix:///tmp/x.sock"}, "give --url for a unix socket"},
		{[]string{"--url", "http://127.0.0.1:1/", "--hold", "1s"}, "--hold is for --mode echo"},
		{[]string{"--expect-status", "42", "--mode", "http"}, "--expect-status 42"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, t.Context(), append([]string{"load"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestLoadHTTPRequest checks the bytes of the request each mode of --method sends.
func TestLoadHTTPRequest(t *testing.T) {
	tests := []struct {
		cfg  loadConfig
		want string
	}{
		{loadConfig{url: "http://example.com/a?b=c", method: "get"}, "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: eddy-load\r\n\r\n"},
		{loadConfig{url: "http://127.0.0.1:8080", method: "HEAD"}, "HEAD / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: eddy-load\r\n\r\n"},
		{loadConfig{url: "http://h/", method: "POST", bodySize: 20}, "POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: eddy-load\r\n" +
			"Content-Type: application/octet-stream\r\nContent-Length: 20\r\n\r\n0123456789abcdef0123"},
	}
	for _, tt := range tests {
		target, dialTo, err := newHTTPTarget(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if string(target.request) != tt.want {
			t.Errorf("%s %s: request\n%q, want\n%q", tt.cfg.method, tt.cfg.url, target.request, tt.want)
		}
		if _, port, _ := net.SplitHostPort(strings.TrimPrefix(dialTo, "tcp://")); port == "" || strconv.Itoa(80) != port && !strings.Contains(tt.cfg.url, ":"+port) {
			t.Errorf("%s: dials %s", tt.cfg.url, dialTo)
		}
	}
}

// "eddy load --mode http" with a bad --addr names the flag and its value, and does not take it for a
// unix socket.
func TestLoadHTTPBadAddrIsNamed(t *testing.T) {
	for _, addr := range []string{"sctp://127.0.0.1:1", ""} {
		code, _, stderr := runCmd(t, t.Context(), "load", "--mode", "http", "--addr", addr)
		if code != exitUsage || strings.Contains(stderr, "unix socket") || !strings.Contains(stderr, "--addr") {
			t.Errorf("load --mode http --addr %q: exit %d, stderr %q; want %d and the bad --addr named", addr, code, stderr, exitUsage)
		}
	}
}

// A bad --url is a usage error found before anything starts: --cpuprofile has not created its file.
func TestLoadBadURLStartsNothing(t *testing.T) {
	for _, url := range []string{"ftp://x/", "http://127.0.0.1:port/", "http:///path", "http://127.0.0.1:99999/", "127.0.0.1:8080/"} {
		prof := filepath.Join(t.TempDir(), "cpu.prof")
		code, _, stderr := runCmd(t, t.Context(), "load", "--url", url, "--cpuprofile", prof)
		if code != exitUsage {
			t.Errorf("--url %s: exit %d, want %d\n%s", url, code, exitUsage, stderr)
		}
		if _, err := os.Stat(prof); err == nil {
			t.Errorf("--url %s: rejected (exit %d), yet %s was created", url, code, prof)
		}
	}
}

// With a server that answers each request 20ms after it arrives, every latency is about 20ms, and a
// closed loop with one request in flight per connection makes at most one round trip per 20ms on each.
func TestLoadLatencyMatchesServerDelay(t *testing.T) {
	echo := rawServer(t, func(c net.Conn) {
		b := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
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
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		for _, args := range [][]string{{"--addr", echo}, {"--url", "http://" + web + "/"}} {
			timely(t, func() string {
				code, r, stderr := runLoadJSON(t, append(args, "--engine", engine, "--conns", "2", "--duration", "400ms")...)
				if code != exitOK || r.Errors != 0 || r.RoundTrips == 0 {
					t.Fatalf("%v: exit %d, round trips %d, errors %d (%s)\n%s", args, code, r.RoundTrips, r.Errors, r.FirstError, stderr)
				}
				l := r.Latency
				if l.P50 < int64(20*time.Millisecond) || l.Mean < int64(20*time.Millisecond) || l.Max < l.P999 {
					t.Fatalf("%v: latency %+v; want p50 and mean at least 20ms, max at least p99.9", args, l)
				}
				// Closed loop, one in flight per connection: at most one round trip per 20ms per connection.
				if max := uint64(2 * 400 / 20); r.RoundTrips > max {
					t.Fatalf("%v: %d round trips in 400ms on 2 connections at 20ms each, want at most %d", args, r.RoundTrips, max)
				}
				// A starved run makes fewer, slower round trips.
				if r.RoundTrips < 10 || l.P50 > int64(100*time.Millisecond) {
					return fmt.Sprintf("%v: %d round trips, p50 %v; want at least 10, about 20ms", args, r.RoundTrips, time.Duration(l.P50))
				}
				return ""
			})
		}
	})
}

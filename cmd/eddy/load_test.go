package main

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
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

func TestLoadEchoCountsVerifiedRoundTrips(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			l := startEcho(t, s.cfg)
			code, r, stderr := runLoadJSON(t, "--addr", l.Addr.String(), "--conns", "8", "--size", "100", "--duration", "300ms")
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if r.Open != 8 || r.Conns != 8 {
				t.Errorf("%d of %d connections open, want 8 of 8", r.Open, r.Conns)
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
			if lat := r.Latency; lat.P50 <= 0 || lat.P50 > lat.P99 || lat.P99 > lat.Max {
				t.Errorf("latency %+v: want 0 < p50 <= p99 <= max", lat)
			}
			if r.Seconds <= 0 || r.Seconds > 0.3 {
				t.Errorf("window %vs, want (0, 0.3]", r.Seconds)
			}
		})
	}
}

func TestLoadTextReport(t *testing.T) {
	l := startEcho(t, echoConfig{engine: "std"})
	code, stdout, stderr := runCmd(t, t.Context(), "load", "--addr", "tcp://"+l.Addr.String(), "--conns", "2", "--duration", "50ms")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"round trips", "latency      p50 ", "errors       0 (0 mismatched replies)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "eddy load: running 2 connections for 50ms") {
		t.Errorf("stderr does not mark the window's start:\n%s", stderr)
	}
}

func TestLoadHoldEchoesOnceBeforeAndAfter(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			l := startEcho(t, s.cfg)
			code, r, stderr := runLoadJSON(t, "--addr", l.Addr.String(), "--conns", "300", "--hold", "100ms")
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
}

// corruptingServer echoes every byte but flips the 10th byte of each connection's stream.
func corruptingServer(t *testing.T) string {
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
				b := make([]byte, 64)
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				b[9] ^= 0xff
				c.Write(b)
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestLoadCountsMismatchesAsErrors(t *testing.T) {
	addr := corruptingServer(t)
	code, r, stderr := runLoadJSON(t, "--addr", addr, "--conns", "3", "--size", "64", "--duration", "200ms")
	if code != exitFail {
		t.Errorf("exit code %d, want %d", code, exitFail)
	}
	if r.Mismatches != 3 || r.Errors != 3 || r.RoundTrips != 0 {
		t.Errorf("mismatches %d, errors %d, round trips %d; want 3, 3, 0", r.Mismatches, r.Errors, r.RoundTrips)
	}
	if !strings.Contains(r.FirstError, "at byte 9") || !strings.Contains(stderr, "eddy: load: 3 errors (3 mismatched replies)") {
		t.Errorf("first error %q, stderr %q: want the byte and the count named", r.FirstError, stderr)
	}
}

func TestLoadFailsWithoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, _, stderr := runCmd(t, t.Context(), "load", "--addr", addr, "--conns", "2", "--duration", "50ms")
	if code != exitFail || !strings.Contains(stderr, "eddy: load: no connection could be opened") {
		t.Errorf("exit code %d, stderr %q; want %d and the reason", code, stderr, exitFail)
	}
}

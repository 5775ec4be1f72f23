//go:build unix

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killServerEnv, set in a child run as an eddy server, makes it die of SIGKILL shortly after it
// has written its "listening on" line, as a server the OOM killer takes in the middle of a run does: its
// last line on standard error is then the listening line.
const killServerEnv = "EDDY_CMD_TEST_KILL_SERVER"

func init() {
	if os.Getenv(killServerEnv) == "" || os.Getenv(childEnv) == "" {
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	orig := os.Stderr
	os.Stderr = w
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintln(orig, sc.Text())
			if strings.Contains(sc.Text(), "listening on") {
				time.Sleep(100 * time.Millisecond)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}()
}

// A server killed by a signal in the middle of its run fails the run with its exit status. The error
// was the server's last line, which for a killed server is its "listening on" line: "the server exited
// during the run: eddy echo: listening on 127.0.0.1:35047 (engine epoll, 1 loop)", saying nothing of
// what happened; and when the load generator failed for want of a server, its error hid the server's.
func TestBenchServerKilledMidRunSaysHow(t *testing.T) {
	cfg := quickEchoBench("")
	inner := cfg.command
	cfg.command = func(args []string) (argv, env []string) {
		argv, env = inner(args)
		if args[0] == "echo" && slices.Contains(args, "epoll") {
			env = append(env, killServerEnv+"=1")
		}
		return argv, env
	}
	var stdout, stderr bytes.Buffer
	rep, err := runBench(t.Context(), cfg, &stdout, &stderr)
	checkChildrenGone(t, rep)
	if err != nil {
		t.Fatalf("runBench: %v\n%s", err, stderr.String())
	}
	var epoll *benchRun
	for i, r := range rep.Runs {
		switch {
		case r.Server == "eddy-epoll":
			epoll = &rep.Runs[i]
		case r.Error != "":
			t.Errorf("%s failed: %s", r.Server, r.Error)
		}
	}
	if epoll == nil {
		t.Fatalf("no run of eddy-epoll:\n%s", stdout.String())
	}
	if !strings.Contains(epoll.Error, "the server exited during the run") || !strings.Contains(epoll.Error, "signal: killed") {
		t.Errorf("eddy-epoll's run failed with %q; want the server's exit during the run, killed by a signal", epoll.Error)
	}
	if strings.Contains(epoll.Error, "listening on") {
		t.Errorf("eddy-epoll's run failed with %q: its listening line is no reason", epoll.Error)
	}
	// The report states the load generator's engine, a condition of the figures (--engine auto picks
	// uring or epoll by the kernel, and a uring client drives a server harder): in every run's JSON
	// and under the tables. It was in no part of the report.
	for _, r := range rep.Runs {
		if r.Error == "" && r.LoadEngine == "" {
			t.Errorf("run of %s: no load_engine", r.Server)
		}
	}
	if !strings.Contains(stdout.String(), "The load generator (eddy load --engine auto) ran on the ") {
		t.Errorf("the report does not say which engine the load generator ran on:\n%s", stdout.String())
	}
}

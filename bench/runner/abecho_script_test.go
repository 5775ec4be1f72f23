package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests below run scripts/ab-echo.sh against stand-ins for its server and its load generator: this
// test binary, started again through a wrapper script with ZZ_AB_FAKE set (init below takes over before
// the testing flags are parsed).
//
//   - ZZ_AB_FAKE=server: an "eddy echo --addr tcp://HOST:PORT ..." that listens on that address, appends
//     its PID to $ZZ_AB_PIDS, and keeps its core busy until SIGTERM (the default action ends it).
//   - ZZ_AB_FAKE=load: an "eddy load ... --duration D --json". With ZZ_AB_LOAD=refuse it fails at once;
//     with ZZ_AB_LOAD=linger it says "eddy load: running", waits D, prints a report of 1,000 round trips
//     over a window of 2D seconds (twice the duration: the script must take the load generator's window
//     from its report), and stays ZZ_AB_LINGER more before it exits, as a load generator closing many
//     connections does.
func init() {
	switch os.Getenv("ZZ_AB_FAKE") {
	case "server":
		fakeABServer(os.Args[1:])
	case "load":
		fakeABLoad(os.Args[1:])
	}
}

// argAfter returns the argument after flag in args, or "".
func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func fakeABServer(args []string) {
	addr := strings.TrimPrefix(argAfter(args, "--addr"), "tcp://")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		os.Exit(1)
	}
	if f, err := os.OpenFile(os.Getenv("ZZ_AB_PIDS"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintln(f, os.Getpid())
		f.Close()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c // held until the process ends
		}
	}()
	for { // busy: every tick of the window is the server's
	}
}

func fakeABLoad(args []string) {
	if os.Getenv("ZZ_AB_LOAD") == "refuse" {
		fmt.Fprintln(os.Stderr, "fake load: refusing")
		os.Exit(1)
	}
	d, err := time.ParseDuration(argAfter(args, "--duration"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake load:", err)
		os.Exit(2)
	}
	linger, _ := time.ParseDuration(os.Getenv("ZZ_AB_LINGER"))
	fmt.Fprintf(os.Stderr, "eddy load: running 1 connection for %v\n", d)
	time.Sleep(d)
	// The fields ab-echo.sh reads, in eddy load's layout (indented, one a line, a comma after each).
	rep, _ := json.MarshalIndent(map[string]any{"mode": "echo", "seconds": 2 * d.Seconds(), "round_trips": 1000, "errors": 0, "unanswered": 0}, "", "  ")
	os.Stdout.Write(append(rep, '\n'))
	time.Sleep(linger)
	os.Exit(0)
}

// abEcho is a run of scripts/ab-echo.sh with the fake server (as "epoll:BINARY") and the fake load
// generator (LOAD_BIN), for one round at one connection.
type abEcho struct {
	pids   string // file of the fake servers' PIDs
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

func startABEcho(t *testing.T, env ...string) *abEcho {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("ab-echo.sh runs on Linux")
	}
	for _, tool := range []string{"bash", "taskset", "ss", "awk", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("ab-echo.sh needs %s", tool)
		}
	}
	allowed := cpuAllowed()
	var cpus []int
	for cpu := 0; cpu < 1024 && len(cpus) < 2; cpu++ {
		if allowed(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if len(cpus) < 2 {
		t.Skip("ab-echo.sh pins the server and the load generator to two CPUs")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "ab-echo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := func(name, fake string) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("#!/bin/sh\nZZ_AB_FAKE=%s exec %q \"$@\"\n", fake, self)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := &abEcho{pids: filepath.Join(dir, "server.pids")}
	a.cmd = exec.Command("bash", script, "epoll:"+wrapper("server", "server"))
	a.cmd.Env = append(os.Environ(),
		"LOAD_BIN="+wrapper("load", "load"), "ZZ_AB_PIDS="+a.pids, "TMPDIR="+dir,
		"ROUNDS=1", "CONNS_LIST=1", "DURATION=1s",
		"SERVER_CPU="+strconv.Itoa(cpus[0]), "LOAD_CPU="+strconv.Itoa(cpus[1]))
	a.cmd.Env = append(a.cmd.Env, env...)
	a.cmd.Stderr = &a.stderr
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever the script left behind: its process group (the script and what it started in it),
		// and the fake servers, by the PIDs they wrote.
		syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		for _, pid := range a.serverPIDs() {
			if alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return a
}

// wait waits for the script to exit, for timeout at most; it fails the test when the script is still
// running then.
func (a *abEcho) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("ab-echo.sh still running after %v; its standard error:\n%s", timeout, a.stderr.String())
		return nil
	}
}

// serverPIDs returns the PIDs the fake servers wrote.
func (a *abEcho) serverPIDs() []int {
	b, _ := os.ReadFile(a.pids)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether process pid exists and has not exited (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// A run that fails (here its load generator exits before its window) must stop its server and end the
// script. ab-echo.sh started each run's server in the pipeline "run ... | tee", a subshell: its PID
// list was the subshell's, which the EXIT trap of the script never saw, and the server's standard output
// was the pipe to tee, so the script waited on tee, and tee on the server, for ever.
func TestABEchoFailedRunStopsItsServer(t *testing.T) {
	a := startABEcho(t, "ZZ_AB_LOAD=refuse")
	err := a.wait(t, 30*time.Second)
	if err == nil {
		t.Fatalf("ab-echo.sh succeeded with a load generator that failed; standard error:\n%s", a.stderr.String())
	}
	if !strings.Contains(a.stderr.String(), "fake load: refusing") {
		t.Errorf("standard error does not show the load generator's complaint:\n%s", a.stderr.String())
	}
	pids := a.serverPIDs()
	if len(pids) != 1 {
		t.Fatalf("fake servers started: %v, want one", pids)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pids[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("the server (PID %d) still runs after ab-echo.sh failed and exited", pids[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The server CPU of a run covers the load generator's window, not what follows it: ab-echo.sh read the
// second sample once the load generator had exited, so the server's work while the load generator
// closed its connections (here a second of a busy server) counted against the round trips of the
// window. The round trips, counted over the load generator's window, are scaled to the CPU window, which
// is shorter (it closes 100 ms early, the load generator still there).
func TestABEchoCPUWindowEndsWithTheLoadWindow(t *testing.T) {
	a := startABEcho(t, "ZZ_AB_LOAD=linger", "ZZ_AB_LINGER=1s")
	if err := a.wait(t, 60*time.Second); err != nil {
		t.Fatalf("ab-echo.sh: %v; standard error:\n%s", err, a.stderr.String())
	}
	// The run's row: name, conns, round, round trips per CPU-second, CPU-seconds.
	var row []string
	for _, line := range strings.Split(a.stderr.String(), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 5 && f[0] == "epoll" {
			row = f
		}
	}
	if row == nil {
		t.Fatalf("no row for the server in the standard error:\n%s", a.stderr.String())
	}
	t.Logf("row %q", row)
	perCPU, err1 := strconv.ParseFloat(row[3], 64)
	cpu, err2 := strconv.ParseFloat(row[4], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("row %q: %v %v", row, err1, err2)
	}
	// The window is 1 s less 100 ms: a busy server pinned to one core has at most 0.9 s and a tick or two
	// of CPU in it (1.4 leaves room for a late wake-up of the script). Before, it had 2 s and more: the
	// window, and the second the load generator lingered after it.
	if cpu > 1.4 {
		t.Errorf("server CPU %.2f s in a run of a 1 s window: it counts the load generator's second after the window", cpu)
	}
	// The round trips are scaled to the CPU window: about 0.9 s of the load generator's 2 s, so about 450
	// of its 1,000 whatever share of its core the server had (the CPU-seconds, printed to 0.01, make
	// the product inexact when they are few).
	switch rt := perCPU * cpu; {
	case cpu < 0.2:
		t.Logf("the server had %.2f CPU-s: too few to check the scaling of the round trips", cpu)
	case rt > 700:
		t.Errorf("%.0f round trips per CPU-second over %.2f CPU-s: %.0f round trips, the load generator's 1,000 of its 2 s window, not those of the CPU window", perCPU, cpu, rt)
	}
	if pids := a.serverPIDs(); len(pids) != 1 || alive(pids[0]) {
		t.Errorf("fake servers %v: want one, ended by the script", pids)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs is the set of processes the runner has started and not yet reaped. Every process is started in
// a process group of its own (a session of its own with --nice), so that stopping it by its PID also
// stops anything it started, and a Ctrl-C on the runner's terminal reaches only the runner, which then
// stops them all (killAll).
type procs struct {
	nice int // niceness of every process started, 0 for the runner's own

	mu   sync.Mutex
	live map[int]*proc
}

// proc is one started process: a server or a load generator, pinned to one CPU with taskset.
type proc struct {
	name   string
	cmd    *exec.Cmd
	pid    int
	stdout bytes.Buffer // the whole standard output (a load generator's report)
	stderr tail         // the last lines of standard error, for error messages and logs
	lines  chan string  // standard error line by line, for who wants to follow it; closed at EOF
	done   chan struct{}
	err    error // the result of Wait, valid once done is closed
	owner  *procs
}

// start runs argv pinned to cpu with taskset, at the niceness ps.nice (through nice, when it is not 0),
// with env added to the runner's environment. nice and taskset each exec the next program, so the PID is
// the program's own. The process gets its own process group. Standard error is kept (its tail) and also
// sent line by line to p.lines, which drops lines when nobody reads them.
func (ps *procs) start(name string, cpu int, env []string, argv ...string) (*proc, error) {
	args := append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	if ps.nice != 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(ps.nice)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if ps.nice != 0 {
		// With the kernel's autogroups, niceness counts only within a session: give the process a
		// session (and so an autogroup) of its own, and the same niceness to that group.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{}), owner: ps}
	cmd.Stdout = &p.stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.live == nil {
		ps.live = make(map[int]*proc)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.pid = cmd.Process.Pid
	ps.live[p.pid] = p
	if ps.nice != 0 {
		// Best effort: the file is missing on kernels without autogroups.
		os.WriteFile(fmt.Sprintf("/proc/%d/autogroup", p.pid), []byte(strconv.Itoa(ps.nice)), 0)
	}
	go p.follow(errPipe)
	return p, nil
}

// follow reads standard error until EOF, then waits for the process and removes it from the live set.
func (p *proc) follow(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.stderr.add(line)
		select {
		case p.lines <- line:
		default:
		}
	}
	close(p.lines)
	p.err = p.cmd.Wait()
	p.owner.mu.Lock()
	delete(p.owner.live, p.pid)
	p.owner.mu.Unlock()
	close(p.done)
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end, or for ctx, and returns the process's error (with the last line
// of its standard error) or ctx's.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.err != nil {
		if last := p.stderr.last(); last != "" {
			return fmt.Errorf("%s: %w: %s", p.name, p.err, last)
		}
		return fmt.Errorf("%s: %w", p.name, p.err)
	}
	return nil
}

// waitEnd is wait for a process that should have ended by end: it gives up grace after end with an
// error, leaving the process to the caller's stop, so that one that hangs fails its run instead of
// holding up the runner for ever.
func (p *proc) waitEnd(ctx context.Context, end time.Time, grace time.Duration) error {
	t := time.NewTimer(time.Until(end.Add(grace)))
	defer t.Stop()
	select {
	case <-p.done:
		return p.wait(ctx)
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%s: %w %v after its run should have ended", p.name, errStillRunning, grace)
	}
}

// errStillRunning is what waitEnd's error wraps when the process did not exit in time.
var errStillRunning = errors.New("still running")

// stop ends the process: SIGTERM to its process group, then SIGKILL if it has not exited after grace.
// It returns once the process was reaped.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	syscall.Kill(-p.pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.done
}

// killAll stops every process still running, each by its own PID (its process group), in parallel.
func (ps *procs) killAll() {
	ps.mu.Lock()
	left := make([]*proc, 0, len(ps.live))
	for _, p := range ps.live {
		left = append(left, p)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range left {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(3 * time.Second)
		}()
	}
	wg.Wait()
}

// tail keeps the last lines written to it.
type tail struct {
	mu    sync.Mutex
	lines []string
}

// tailLines is how many lines a tail keeps.
const tailLines = 40

// add appends a line, dropping the oldest beyond tailLines.
func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == tailLines {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:tailLines-1]
	}
	t.lines = append(t.lines, line)
}

// last returns the last non-empty line, or "".
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(t.lines[i]); s != "" {
			return s
		}
	}
	return ""
}

// String returns the kept lines.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// waitListening waits until addr accepts a TCP connection, p exits, ctx ends or timeout passes.
func waitListening(ctx context.Context, p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return errNotStarted{p.name, p.stderr.last()}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not listening on %s after %v", p.name, addr, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// errNotStarted is a server that exited before it listened, for instance because it lacks the engine
// asked for. The runner skips such a server for the rest of the run.
type errNotStarted struct {
	name, reason string
}

func (e errNotStarted) Error() string {
	return fmt.Sprintf("%s exited before listening: %s", e.name, e.reason)
}

// freeAddr returns a loopback address with a port that was free a moment ago. Each run gets a new port,
// so that no connection of an earlier run (in TIME_WAIT) shares a 4-tuple with the next one.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuTicks returns the user and system CPU time of process pid so far, in clock ticks: fields 14 and 15
// of /proc/PID/stat, which add up every thread of the process, live or exited.
func cpuTicks(pid int) (user, sys int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Field 2, the command name, is in parentheses and may hold spaces: count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if user, err = strconv.ParseInt(f[14-3], 10, 64); err != nil {
		return 0, 0, err
	}
	if sys, err = strconv.ParseInt(f[15-3], 10, 64); err != nil {
		return 0, 0, err
	}
	return user, sys, nil
}

// coreTicks returns the busy and total clock ticks of CPU core so far, from its line in /proc/stat:
// busy is user, nice, system, irq, softirq and steal; total adds idle and iowait.
func coreTicks(core int) (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	prefix := fmt.Sprintf("cpu%d ", core)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)[1:]
		if len(f) < 8 {
			return 0, 0, fmt.Errorf("/proc/stat: short %q", line)
		}
		var v [8]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				return 0, 0, err
			}
		}
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		return busy, busy + v[3] + v[4], nil
	}
	return 0, 0, fmt.Errorf("/proc/stat: no cpu%d", core)
}

// statusBytes returns a memory field of /proc/PID/status (VmRSS, VmHWM, ...) in bytes.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd %s line %q", pid, field, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// clockTicks returns the kernel's clock ticks per second, as getconf CLK_TCK prints them.
func clockTicks() (int64, error) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 0, fmt.Errorf("getconf CLK_TCK: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("getconf CLK_TCK: %q", out)
	}
	return n, nil
}

// loadAverage returns the one-minute load average from /proc/loadavg.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// isNotStarted reports whether err says a server exited before listening.
func isNotStarted(err error) bool {
	var ns errNotStarted
	return errors.As(err, &ns)
}

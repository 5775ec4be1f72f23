package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// platformPinning pins with taskset, on the CPUs this process may run on.
func platformPinning(serverCPU, loadCPU int) pinning {
	var set unix.CPUSet
	affinityErr := unix.SchedGetaffinity(0, &set)
	allowed := func(cpu int) bool { return affinityErr == nil && set.IsSet(cpu) }
	taskset, err := exec.LookPath("taskset")
	return choosePinning(serverCPU, loadCPU, runtime.NumCPU(), allowed, taskset, err)
}

// platformCPUAllowed reports whether this process may run on a CPU: whether it is in its affinity, or,
// when that cannot be read, whether it is one of the first runtime.NumCPU.
func platformCPUAllowed() func(cpu int) bool {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		n := runtime.NumCPU()
		return func(cpu int) bool { return cpu >= 0 && cpu < n }
	}
	return func(cpu int) bool { return cpu >= 0 && set.IsSet(cpu) }
}

// setPdeathsig makes the kernel kill the child if eddy bench dies without stopping it. It survives the
// exec of taskset and of the program taskset runs.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// platformCPU reads the CPU time of a process from its CPU-time clock (clock_gettime of the clock
// clock_getcpuclockid gives: every thread, live and exited, in nanoseconds), or, where that cannot be read,
// from /proc/PID/stat in the clock ticks of getconf CLK_TCK. The ticks made every sample of a server's CPU
// time a multiple of 10 ms: the server's CPU-seconds of a 300 ms run (about 25 ticks in its window) were
// off by up to 8 %, more than the differences between servers the tables are read for.
func platformCPU() cpuReader {
	hz := clockTickRate()
	return func(pid int) (time.Duration, error) {
		if d, err := processCPUClock(pid); err == nil {
			return d, nil
		}
		ticks, err := procStatCPU(pid)
		if err != nil {
			return 0, err
		}
		return time.Duration(ticks) * time.Second / time.Duration(hz), nil
	}
}

// processCPUClock returns the CPU time process pid has used so far, all its threads, from its CPU-time
// clock: the clock ID glibc's clock_getcpuclockid makes, ((^pid) << 3) | CPUCLOCK_SCHED (2). Linux lets
// any process read it.
func processCPUClock(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d", pid)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(int32((^pid)<<3|2), &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// clockTickRate returns the kernel's clock ticks per second as getconf CLK_TCK prints them, or 100, the
// value of USER_HZ on every architecture Linux runs Go on, when getconf is missing.
func clockTickRate() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// procStatCPU returns the user plus system time of process pid, all threads live and exited, in clock
// ticks: fields 14 and 15 of /proc/PID/stat.
func procStatCPU(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	n, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return n, nil
}

// parseStatCPU returns fields 14 and 15 (utime and stime) of a /proc/PID/stat line, added.
func parseStatCPU(b []byte) (int64, error) {
	// Field 2, the command name, is in parentheses and may hold spaces: count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // f[0] is field 3, so field n is f[n-3]
		return 0, fmt.Errorf("%d fields", len(f)+2)
	}
	user, err := strconv.ParseInt(f[14-3], 10, 64)
	if err != nil {
		return 0, err
	}
	sys, err := strconv.ParseInt(f[15-3], 10, 64)
	if err != nil {
		return 0, err
	}
	return user + sys, nil
}

// platformCore reads the busy and total time of a CPU from its line in /proc/stat. Busy counts the
// interrupts (irq and softirq), as the bench/ runner does: with tick-based accounting (no
// CONFIG_IRQ_TIME_ACCOUNTING, this machine's kernel) a tick that lands in an interrupt is charged to the
// task it interrupted as well, so the server's own system time already holds the softirq work of its
// loopback sends, and a busy time without it made the others' share come out low (82 % against the
// runner's 88 % in one sample with 13 interrupt ticks to the server's 25).
func platformCore() coreReader {
	hz := clockTickRate()
	return func(cpu int) (busy, total time.Duration, err error) {
		b, err := procStatCore(cpu)
		if err != nil {
			return 0, 0, err
		}
		d := func(ticks int64) time.Duration { return time.Duration(ticks) * time.Second / time.Duration(hz) }
		bt, tt := coreBusyTotal(b)
		return d(bt), d(tt), nil
	}
}

// coreBusyTotal returns the busy and total ticks of a CPU's /proc/stat counters: busy is user, nice,
// system, irq, softirq and steal; total adds idle and iowait.
func coreBusyTotal(b [8]int64) (busy, total int64) {
	busy = b[0] + b[1] + b[2] + b[5] + b[6] + b[7]
	return busy, busy + b[3] + b[4]
}

// procStatCore returns the first eight counters of CPU cpu's line in /proc/stat, in clock ticks: user,
// nice, system, idle, iowait, irq, softirq and steal.
func procStatCore(cpu int) ([8]int64, error) {
	var v [8]int64
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return v, err
	}
	prefix := fmt.Sprintf("cpu%d ", cpu)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)[1:]
		if len(f) < len(v) {
			return v, fmt.Errorf("/proc/stat: short line %q", line)
		}
		for i := range v {
			if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				return v, err
			}
		}
		return v, nil
	}
	return v, fmt.Errorf("/proc/stat: no cpu%d", cpu)
}

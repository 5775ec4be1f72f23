package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// The server's CPU time is read to the nanosecond, not in clock ticks: /proc/PID/stat made every sample
// a multiple of 10 ms (at CLK_TCK 100), so a 300 ms run's window of about 25 ticks was off by up to 8 %.
func TestBenchCPUTimeFinerThanATick(t *testing.T) {
	tick := time.Second / time.Duration(clockTickRate())
	cpu := platformCPU()
	var readings []time.Duration
	fine := false
	for i := 0; i < 20 && !fine; i++ {
		burn(5 * time.Millisecond)
		d, err := cpu(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		readings = append(readings, d)
		fine = d%tick != 0
	}
	if !fine {
		t.Fatalf("every CPU time read is a whole number of %v ticks: %v", tick, readings)
	}
	// It agrees with /proc/PID/stat, which truncates the same time to ticks.
	ticks, err := procStatCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	d, err := cpu(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if stat := time.Duration(ticks) * tick; d < stat-tick || d > stat+tick+500*time.Millisecond {
		t.Errorf("CPU clock %v, /proc/PID/stat %v: more than a tick apart", d, stat)
	}
}

// Another process's CPU time is read too (the server's and the load generator's, the bench's children),
// and no more once it has been reaped: the sampling ends on that error.
func TestBenchCPUTimeOfAChild(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	cpu := platformCPU()
	d, err := cpu(pid)
	if err != nil || d < 0 || d > 10*time.Second {
		t.Errorf("CPU time of a sleeping child: %v, %v", d, err)
	}
	if _, err := processCPUClock(pid); err != nil {
		t.Errorf("CPU clock of a child: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := cpu(pid); err == nil {
		t.Error("CPU time of a reaped child: no error")
	}
}

// burn spends about d of CPU time on this goroutine.
func burn(d time.Duration) {
	x := 0
	for start := time.Now(); time.Since(start) < d; {
		for i := 0; i < 1000; i++ {
			x += i
		}
	}
	_ = x
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		line string
		want int64
		ok   bool
	}{
		{"1234 (eddy) S 1 1234 1234 0 -1 4194560 100 0 0 0 37 12 0 0 20 0 5 0 100 0 0", 49, true},
		// A command name with spaces and parentheses: fields are counted from the last ')'.
		{"1234 (a) b (c d)) R 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 5 0 100 0 0", 10, true},
		{"1234 eddy S 1", 0, false},
		{"1234 (eddy) S 1 2 3", 0, false},
		{"1234 (eddy) S 1 1234 1234 0 -1 4194560 100 0 0 0 x 12 0", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.line))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseStatCPU(%q) = %d, %v; want %d, ok %v", tt.line, got, err, tt.want, tt.ok)
		}
	}
}

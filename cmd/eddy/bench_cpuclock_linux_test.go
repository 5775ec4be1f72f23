package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// c635abb's CPU-time clock of a child that has exited: readable while it is a zombie (its final figure,
// which the /proc ticks gave too), an error once it is reaped, never a silent zero.
func TestProcessCPUClockExited(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); strings.Contains(s[strings.LastIndexByte(s, ')'):], ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	d, err := processCPUClock(pid)
	if err != nil || d <= 0 {
		t.Errorf("zombie: %v, %v; want its CPU time", d, err)
	}
	ticks, err := procStatCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if tick := time.Second / time.Duration(clockTickRate()); d+2*tick < time.Duration(ticks)*tick {
		t.Errorf("zombie: clock %v, /proc %d ticks", d, ticks)
	}
	cmd.Wait()
	if d, err := processCPUClock(pid); err == nil {
		t.Logf("reaped pid %d read %v (reused?)", pid, d)
		if _, serr := os.Stat("/proc/" + strconv.Itoa(pid)); serr != nil {
			t.Errorf("reaped: %v and no error", d)
		}
	}
	if _, err := platformCPU()(pid); err == nil {
		if _, serr := os.Stat("/proc/" + strconv.Itoa(pid)); serr != nil {
			t.Errorf("platformCPU of a reaped process: no error")
		}
	}
}

package main

import (
	"fmt"
	"strconv"

	"github.com/eddyio/eddy/internal/cpuset"
)

// pinning is where eddy bench runs its servers and load generators: each on a CPU of its own with
// taskset, or, where that is not possible, wherever the scheduler puts them.
type pinning struct {
	taskset   string // the taskset binary; "" when not pinned
	serverCPU int
	loadCPU   int
	why       string // why not pinned
}

// choosePinning pins the server to serverCPU and the load generator to loadCPU when the machine has at
// least two CPUs, both are in this process's affinity (allowed), and taskset was found (tasksetErr nil);
// otherwise it says why not.
func choosePinning(serverCPU, loadCPU, numCPU int, allowed func(cpu int) bool, taskset string, tasksetErr error) pinning {
	p := pinning{serverCPU: serverCPU, loadCPU: loadCPU}
	switch {
	case numCPU < 2:
		p.why = fmt.Sprintf("%d CPU available, pinning needs 2", numCPU)
	case !allowed(serverCPU) || !allowed(loadCPU):
		p.why = fmt.Sprintf("CPUs %d and %d are not both available to this process", serverCPU, loadCPU)
	case tasksetErr != nil || taskset == "":
		p.why = "taskset not found (it is in util-linux)"
	default:
		p.taskset = taskset
	}
	return p
}

// checkCPUs refuses a CPU named with --server-cpu or --load-cpu that this process may not run on
// (allowed): one the machine does not have, or one outside its affinity. A default CPU that is not
// allowed is no error: choosePinning then leaves the children unpinned.
func (cfg benchConfig) checkCPUs(allowed func(cpu int) bool) error {
	for _, c := range []struct {
		flag string
		cpu  int
		set  bool
	}{{"server-cpu", cfg.serverCPU, cfg.serverCPUSet}, {"load-cpu", cfg.loadCPU, cfg.loadCPUSet}} {
		if c.set && !allowed(c.cpu) {
			return usagef("bench", "--%s %d: no such CPU available to this process (it may run on CPUs %s)", c.flag, c.cpu, cpuset.List(allowed))
		}
	}
	return nil
}

// pinned reports whether children are pinned to CPUs.
func (p pinning) pinned() bool { return p.taskset != "" }

// wrap returns the command line that runs argv pinned to cpu, or argv itself when not pinned. taskset
// execs argv, so the child's PID is the program's own.
func (p pinning) wrap(cpu int, argv []string) []string {
	if !p.pinned() {
		return argv
	}
	return append([]string{p.taskset, "-c", strconv.Itoa(cpu)}, argv...)
}

// String says where the children run, for the first line of eddy bench's output.
func (p pinning) String() string {
	if p.pinned() {
		return fmt.Sprintf("server pinned to CPU %d (GOMAXPROCS=1), load generator to CPU %d", p.serverCPU, p.loadCPU)
	}
	return "not pinned (" + p.why + "): the server (GOMAXPROCS=1) and the load generator share the CPUs, so the figures are rougher"
}

//go:build !linux

package main

import (
	"runtime"
	"syscall"
)

// platformPinning does not pin: taskset and CPU affinity are Linux's.
func platformPinning(serverCPU, loadCPU int) pinning {
	return pinning{serverCPU: serverCPU, loadCPU: loadCPU, why: "pinning needs Linux and taskset"}
}

// platformCPUAllowed reports whether a CPU is one of the machine's: one of the first runtime.NumCPU.
func platformCPUAllowed() func(cpu int) bool {
	n := runtime.NumCPU()
	return func(cpu int) bool { return cpu >= 0 && cpu < n }
}

// setPdeathsig does nothing: only Linux kills a child when its parent dies.
func setPdeathsig(*syscall.SysProcAttr) {}

// platformCPU returns nil: the CPU time of another process is read from /proc on Linux only.
func platformCPU() cpuReader { return nil }

// platformCore returns nil: how busy a CPU was is read from /proc on Linux only.
func platformCore() coreReader { return nil }

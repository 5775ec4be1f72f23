//go:build unix

package main

import (
	"os"
	"syscall"
)

// childSysProcAttr puts a child in a process group of its own, whose ID is its PID.
func childSysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(a)
	return a
}

// terminate sends SIGTERM to the child's process group and reports whether it could.
func terminate(p *os.Process) bool { return syscall.Kill(-p.Pid, syscall.SIGTERM) == nil }

// kill sends SIGKILL to the child's process group.
func kill(p *os.Process) { syscall.Kill(-p.Pid, syscall.SIGKILL) }

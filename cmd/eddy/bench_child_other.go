//go:build !unix

package main

import (
	"os"
	"syscall"
)

// childSysProcAttr returns nil: there are no process groups to put a child in.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

// terminate reports false: without signals a child cannot be asked to stop, only killed.
func terminate(*os.Process) bool { return false }

// kill kills the child.
func kill(p *os.Process) { p.Kill() }

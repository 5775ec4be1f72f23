package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// child is a process eddy bench started: a server or a load generator. It runs in a process group of its
// own (on Unix), so that a Ctrl-C on the terminal reaches only eddy bench, which then stops its children
// by their PIDs; on Linux it is also killed if eddy bench dies first.
type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	stdout  bytes.Buffer // all of it: a load generator's report
	lines   chan string  // standard error line by line while someone reads; closed at its end
	done    chan struct{}
	err     error // what Wait returned; valid once done is closed

	mu    sync.Mutex
	first string   // the first line of standard error
	crash string   // the first line of a Go crash's report ("panic: ...", "fatal error: ..."), if any
	tail  []string // its last lines
}

// childTail is how many lines of standard error a child keeps for error messages.
const childTail = 8

// startChild starts argv with env added to this process's environment.
func startChild(name string, argv, env []string) (*child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childSysProcAttr()
	c := &child{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	cmd.Stdout = &c.stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.started = time.Now()
	go c.follow(stderr)
	return c, nil
}

// follow reads standard error to its end, then reaps the process.
func (c *child) follow(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		c.mu.Lock()
		if len(c.tail) == 0 && c.first == "" {
			c.first = line
		}
		if c.crash == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
			c.crash = line
		}
		if len(c.tail) == childTail {
			c.tail = append(c.tail[:0], c.tail[1:]...)
		}
		c.tail = append(c.tail, line)
		c.mu.Unlock()
		select {
		case c.lines <- line:
		default: // nobody is following: the tail keeps it
		}
	}
	close(c.lines)
	c.err = c.cmd.Wait()
	close(c.done)
}

// pid returns the process ID.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended and been reaped.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitCode returns the exit code of a process that has ended, or -1 (killed by a signal).
func (c *child) exitCode() int {
	<-c.done
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		return -1
	}
	return 0
}

// firstLine returns the first line of standard error, which is where eddy writes its error.
func (c *child) firstLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.first)
}

// lastLine returns the last non-empty line of standard error.
func (c *child) lastLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.tail) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(c.tail[i]); s != "" {
			return s
		}
	}
	return ""
}

// reason returns what a process that failed said about it: the line that starts its crash report when
// it crashed (its last lines are then a stack trace), or else its last line but eddy's pointer to its
// usage ("Run 'eddy help echo' for usage."), which follows the error it explains.
func (c *child) reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := strings.TrimSpace(c.crash); s != "" {
		return s
	}
	for i := len(c.tail) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(c.tail[i]); s != "" && !strings.HasPrefix(s, "Run 'eddy help") {
			return s
		}
	}
	return ""
}

// exitStatus says how a process that has ended did: "exit status 1", "signal: killed".
func (c *child) exitStatus() string {
	<-c.done
	if c.err == nil {
		return "exit status 0"
	}
	return c.err.Error()
}

// why says why a process that has ended stopped, for an error message: what it said about it (reason)
// followed by its exit status in parentheses, or the status alone when it said nothing, or nothing but a
// line skip matches (a server's "listening on" line, the last line of a server killed by a signal). The
// line used to be all there was: a server killed during its run (SIGKILL, the OOM killer) was reported as
// "the server exited during the run: eddy echo: listening on 127.0.0.1:35047 (engine epoll, 1 loop)".
func (c *child) why(skip func(line string) bool) string {
	status, r := c.exitStatus(), c.reason()
	if r == "" || (skip != nil && skip(r)) {
		return status
	}
	return r + " (" + status + ")"
}

// stop ends the process, if it still runs, and reaps it: SIGTERM (a graceful stop for eddy's servers)
// to its process group, then SIGKILL if it has not exited after grace. Where there are no signals, it
// kills at once.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	if terminate(c.cmd.Process) {
		select {
		case <-c.done:
			return
		case <-time.After(grace):
		}
	}
	kill(c.cmd.Process)
	<-c.done
}

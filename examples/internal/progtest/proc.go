package progtest

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a program that [Start] started, with its standard output and standard error copied
// into one buffer that the test reads while the program runs.
type Proc struct {
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{} // closed when the program has exited
	err  error         // the result of Wait, once done is closed
}

// Start starts prog with args. The test's cleanup kills the process, by its PID, if it is still
// running then.
func Start(t testing.TB, prog string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: Command(prog, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Output returns what the program has printed so far, standard output and standard error
// interleaved as written.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the program has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitFor waits until the output matches re and returns the submatches, or nil if the program
// exits or [StartTimeout] passes first.
func (p *Proc) WaitFor(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for {
		exited := p.Exited()
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m
		}
		if exited || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitListening waits, as [Proc.WaitFor] does, for the line in which a server started on engine
// reports its address, and returns the submatches of re. If the program exits saying that the
// engine is not supported, WaitListening skips the test; if it exits otherwise or does not report
// in time, WaitListening fails it.
func (p *Proc) WaitListening(t testing.TB, engine string, re *regexp.Regexp) []string {
	t.Helper()
	m := p.WaitFor(t, re)
	if m == nil {
		if p.Exited() && strings.Contains(p.Output(), "not supported") {
			t.Skipf("engine %s is not supported here:\n%s", engine, p.Output())
		}
		t.Fatalf("the server did not report its address; output:\n%s", p.Output())
	}
	return m
}

// Stop sends SIGTERM and checks that the program exits with status 0 within [ExitTimeout].
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	begin := time.Now()
	select {
	case <-p.done:
	case <-time.After(ExitTimeout):
		t.Fatalf("still running %v after SIGTERM; output:\n%s", ExitTimeout, p.Output())
	}
	if p.err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0; output:\n%s", p.err, p.Output())
	}
	t.Logf("exited %v after SIGTERM", time.Since(begin).Round(time.Millisecond))
}

// syncBuffer is a bytes.Buffer that the program's output is copied into while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The tests build the example and run it as a user would: a subprocess on a loopback port, talked
// to over TCP and stopped with SIGTERM.

const ioTimeout = 20 * time.Second // bounds every exchange with the server

func TestMain(m *testing.M) { progtest.Main(m) }

// TestEcho runs the server on each engine, echoes random messages of several sizes on several
// connections at once, closes some of them, then stops the server with SIGTERM while one is still
// open and checks that it closes that connection, logs the stop and exits with status 0.
func TestEcho(t *testing.T) {
	progtest.NeedSIGTERM(t)
	prog := progtest.Build(t)
	for _, engine := range progtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			p := progtest.Start(t, prog, "-addr", "tcp://127.0.0.1:0", "-engine", engine)
			m := p.WaitListening(t, engine, regexp.MustCompile(`echo: listening on (\S+) with the (\S+) engine`))
			addr, got := m[1], m[2]
			if got != engine {
				t.Errorf("server runs the %s engine, want %s", got, engine)
			}

			const nconns = 3
			conns := make([]net.Conn, nconns)
			for i := range conns {
				c, err := net.DialTimeout("tcp", addr, ioTimeout)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				c.SetDeadline(time.Now().Add(ioTimeout))
				conns[i] = c
			}
			var wg sync.WaitGroup
			errs := make([]error, nconns)
			for i, c := range conns {
				wg.Go(func() { errs[i] = exchange(c, uint64(i)) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("connection %d: %v", i, err)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			if n := strings.Count(p.Output(), " connected ("); n != nconns {
				t.Errorf("server logged %d connections, want %d", n, nconns)
			}

			// Hang up on all but the last connection: the server sees EOF and logs the close.
			for _, c := range conns[:nconns-1] {
				c.Close()
			}
			if p.WaitFor(t, regexp.MustCompile(`(?s)(closed: EOF.*){2}`)) == nil {
				t.Fatalf("the server did not log the closes of 2 connections; output:\n%s", p.Output())
			}

			// Stop with the last connection open: the engine closes it, then the program exits.
			last := conns[nconns-1]
			p.Stop(t)
			if n, err := last.Read(make([]byte, 1)); err == nil {
				t.Errorf("the open connection read %d bytes after the stop, want it closed", n)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("the open connection: %v after the stop, want EOF", err)
			}
			out := p.Output()
			for _, want := range []string{"closed: eddy: engine stopped (0 open)", "echo: stopped"} {
				if !strings.Contains(out, want) {
					t.Errorf("the output lacks %q; output:\n%s", want, out)
				}
			}
		})
	}
}

// exchange writes random messages of several sizes to c, up to 1 MiB, and checks that each comes
// back whole. The writer runs in its own goroutine: a large message comes back while it is still
// being written, and the server would stop reading if nobody read its answer.
func exchange(c net.Conn, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xec40))
	for _, size := range []int{1, 13, 1000, 4096, 65536 + 7, 300_001, 1 << 20} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			werr <- err
		}()
		got := make([]byte, size)
		_, rerr := io.ReadFull(c, got)
		if err := <-werr; err != nil {
			return fmt.Errorf("writing %d bytes: %w", size, err)
		}
		if rerr != nil {
			return fmt.Errorf("reading back %d bytes: %w", size, rerr)
		}
		if i := firstDiff(got, msg); i >= 0 {
			return fmt.Errorf("message of %d bytes came back different from byte %d", size, i)
		}
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestBadEngine checks that an unknown -engine is a usage error: status 2 and a message.
func TestBadEngine(t *testing.T) {
	prog := progtest.Build(t)
	stdout, stderr, err := progtest.Run(t, progtest.ExitTimeout, prog, "-addr", "tcp://127.0.0.1:0", "-engine", "bogus")
	out := stdout + stderr
	if progtest.ExitCode(err) != 2 {
		t.Fatalf("exit: %v, want status 2; output:\n%s", err, out)
	}
	if !strings.Contains(out, `unknown engine "bogus"`) {
		t.Errorf("output lacks the reason:\n%s", out)
	}
}

package eddy_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A unix socket path served by an engine that has stopped can be served again: the stopped engine leaves
// no socket file behind that makes the next bind fail (package net, which the std engine uses, removes it
// when the listener closes).
func TestUnixSocketPathReusableAfterStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(t.TempDir(), "s.sock")
		for i := 0; i < 2; i++ {
			e, err := eddy.New(newEcho(false), []string{"unix://" + path}, eddy.WithEngine(kind), eddy.WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatalf("Start #%d on %s: %v", i+1, path, err)
			}
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			if err := echoOnce(c, "hi"); err != nil {
				t.Fatal(err)
			}
			c.Close()
			if err := e.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err == nil {
				t.Errorf("after Stop #%d the socket file %s is still there", i+1, path)
			}
		}
	})
}

type bootFail struct{ eddy.BaseHandler }

func (bootFail) OnBoot(*eddy.Engine) error { return errors.New("boot refused") }

// A Start that fails (port busy, OnBoot error) starts nothing: it leaves no descriptor open.
func TestFailedStartLeaksNoDescriptor(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		busy := "tcp://" + ln.Addr().String()
		for _, tc := range []struct {
			name  string
			h     eddy.Handler
			addrs []string
		}{
			{"busy port", eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0", busy}},
			{"OnBoot error", bootFail{}, []string{"tcp://127.0.0.1:0"}},
		} {
			runtime.GC()
			base := countFDs(t)
			for i := 0; i < 3; i++ {
				e, err := eddy.New(tc.h, tc.addrs, eddy.WithEngine(kind), eddy.WithLoops(2), eddy.WithReusePort(false))
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Start(); err == nil {
					e.Stop(context.Background())
					t.Fatalf("%s: Start succeeded", tc.name)
				}
				if err := e.Stop(context.Background()); !errors.Is(err, eddy.ErrEngineStopped) && err != nil {
					t.Errorf("%s: Stop after a failed Start = %v", tc.name, err)
				}
			}
			time.Sleep(20 * time.Millisecond)
			if n := countFDs(t); n > base {
				t.Errorf("%s: %d descriptors open after 3 failed Starts, %d before", tc.name, n, base)
			}
		}
	})
}

// Start twice fails the second time; Stop twice returns the first result; after Stop, Start fails and
// Loop.Execute runs its function on the caller (loop.go).
func TestStartStopTwice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Stop(context.Background()); !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("Stop before Start = %v, want ErrEngineStopped", err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err == nil || !strings.Contains(err.Error(), "started") {
			t.Errorf("second Start = %v, want an error", err)
		}
		loops := e.Loops()
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.Stop(expired); err != nil {
			t.Errorf("second Stop with an expired context = %v, want the first Stop's result (nil)", err)
		}
		if err := e.Start(); err == nil {
			t.Error("Start after Stop succeeded")
		}
		for _, l := range loops {
			ran := false
			l.Execute(func() { ran = true })
			if !ran {
				t.Errorf("Loop.Execute on a stopped loop %d did not run fn on the caller", l.Index())
			}
			fired := make(chan struct{})
			l.AfterFunc(time.Millisecond, func() { close(fired) })
			select {
			case <-fired:
			case <-time.After(30 * time.Second):
				t.Errorf("Loop.AfterFunc on a stopped loop %d never fired", l.Index())
			}
		}
	})
}

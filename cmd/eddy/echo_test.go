package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// servers are the echo servers under test: the engine the platform picks, the portable engine, and the
// package net baseline.
var servers = []struct {
	name string
	cfg  echoConfig
}{
	{"auto", echoConfig{engine: "auto", loops: 2}},
	{"std", echoConfig{engine: "std"}},
	{"baseline", echoConfig{engine: "auto", baseline: true}},
}

// startEcho serves cfg on a free loopback port until the test ends and returns the bound address. The
// cleanup stops the server and fails the test if it did not stop cleanly.
func startEcho(t *testing.T, cfg echoConfig) listening {
	t.Helper()
	cfg.addr = "tcp://127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() { done <- serveEcho(ctx, cfg, func(l listening) { ready <- l }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("server did not stop within 10s")
		}
	})
	select {
	case l := <-ready:
		return l
	case err := <-done:
		t.Fatalf("server failed to start: %v", err)
	}
	panic("unreachable")
}

func TestEchoServersEchoEveryByte(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			l := startEcho(t, s.cfg)
			if tcp, ok := l.Addr.(*net.TCPAddr); !ok || tcp.Port == 0 {
				t.Fatalf("bound address %v: want a TCP address with a real port", l.Addr)
			}
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					echoRoundTrip(t, l.Addr.String(), uint64(i), 1<<20)
				}()
			}
			wg.Wait()
		})
	}
}

// echoRoundTrip sends size random bytes to addr while reading the echo, and checks it byte for byte.
func echoRoundTrip(t *testing.T, addr string, seed uint64, size int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	want := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		werr <- err
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Errorf("reading the echo: %v", err)
	}
	if err := <-werr; err != nil {
		t.Errorf("writing: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("echo differs from what was sent")
	}
}

func TestEchoServersReportEngine(t *testing.T) {
	tests := []struct {
		cfg    echoConfig
		engine string
		loops  int
	}{
		{echoConfig{engine: "std"}, "std", 0},
		{echoConfig{baseline: true}, "net", 0},
	}
	for _, tt := range tests {
		t.Run(tt.engine, func(t *testing.T) {
			l := startEcho(t, tt.cfg)
			if l.Engine != tt.engine || l.Loops != tt.loops {
				t.Errorf("engine %q with %d loops, want %q with %d", l.Engine, l.Loops, tt.engine, tt.loops)
			}
		})
	}
}

func TestEchoServersStopWithOpenConnections(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg
			cfg.addr = "tcp://127.0.0.1:0"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ready := make(chan listening, 1)
			done := make(chan error, 1)
			go func() { done <- serveEcho(ctx, cfg, func(l listening) { ready <- l }) }()
			var l listening
			select {
			case l = <-ready:
			case err := <-done:
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", l.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echoRoundTrip(t, l.Addr.String(), 1, 64) // the server has accepted and served a connection

			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("stop: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server did not stop within 5s with a connection open")
			}
			// The server closed the idle connection on its way out.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.Read(make([]byte, 1)); err == nil {
				t.Errorf("read %d bytes from a stopped server, want EOF", n)
			}
		})
	}
}

func TestEchoCommandStopsAfterDuration(t *testing.T) {
	for _, args := range [][]string{
		{"echo", "--addr", "127.0.0.1:0", "--engine", "std", "--duration", "100ms"},
		{"echo", "--addr", "tcp://127.0.0.1:0", "--loops", "1", "--duration", "100ms"},
		{"echo", "--addr", "127.0.0.1:0", "--baseline", "--duration", "100ms"},
	} {
		t.Run(strings.Join(args[3:], " "), func(t *testing.T) {
			start := time.Now()
			code, _, stderr := runCmd(t, t.Context(), args...)
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "eddy echo: listening on 127.0.0.1:") || !strings.Contains(stderr, "eddy echo: stopped") {
				t.Errorf("stderr does not log the address and the stop:\n%s", stderr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v to stop after 100ms", d)
			}
		})
	}
}

func TestEchoCommandFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, extra := range [][]string{{"--engine", "std"}, {"--baseline"}} {
		args := append([]string{"echo", "--addr", ln.Addr().String(), "--duration", "1s"}, extra...)
		code, _, stderr := runCmd(t, t.Context(), args...)
		if code != exitFail || !strings.HasPrefix(stderr, "eddy: echo: ") {
			t.Errorf("%v: exit code %d, stderr %q; want %d and an error", extra, code, stderr, exitFail)
		}
	}
}

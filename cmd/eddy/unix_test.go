//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every server on a unix socket can be started again on the same path once it has stopped.
func TestUnixSocketRestart(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"echo", "--engine", "auto"},
		{"echo", "--engine", "std"},
		{"echo", "--baseline"},
		{"hello", "--engine", "auto"},
		{"hello", "--baseline"},
		{"serve", "--dir", dir},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s.sock")
			for i := range 2 {
				code, _, stderr := runCmd(t, t.Context(), append(args, "--addr", "unix://"+sock, "--duration", "50ms")...)
				if code != exitOK {
					t.Fatalf("run %d: exit %d\n%s", i+1, code, stderr)
				}
			}
			if _, err := os.Stat(sock); err == nil {
				t.Logf("socket file left behind at %s", sock)
			}
		})
	}
}

// "eddy load" drives servers on unix sockets, in both modes, on every engine, and verifies every reply.
func TestLoadOverUnixSocket(t *testing.T) {
	dir := t.TempDir()
	echoSock, webSock := filepath.Join(dir, "echo.sock"), filepath.Join(dir, "web.sock")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ready := make(chan listening, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		serveEcho(ctx, echoConfig{addr: "unix://" + echoSock, engine: "auto", loops: 1}, func(l listening) { ready <- l })
	}()
	go func() {
		defer wg.Done()
		serveHello(ctx, helloConfig{addr: "unix://" + webSock, style: "native", engine: "auto", loops: 1}, func(l listening) { ready <- l })
	}()
	defer func() { cancel(); wg.Wait() }()
	for range 2 {
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("servers did not start")
		}
	}
	forEachLoadEngine(t, func(t *testing.T, engine string) {
		for _, args := range [][]string{
			{"--addr", "unix://" + echoSock},
			{"--url", "http://localhost/", "--addr", "unix://" + webSock},
		} {
			code, r, stderr := runLoadJSON(t, append(args, "--engine", engine, "--conns", "3", "--requests", "300")...)
			if code != exitOK || r.RoundTrips != 300 || r.Errors != 0 {
				t.Errorf("%v: exit %d, round trips %d, errors %d (%s)\n%s", args, code, r.RoundTrips, r.Errors, r.FirstError, stderr)
			}
		}
	})
}

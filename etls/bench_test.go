package etls_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// benchServers are the TLS echo servers the benchmarks compare: etls on each loop engine, and a
// goroutine per connection with crypto/tls on package net (what net/http does).
func benchServers() []string {
	var names []string
	for _, k := range testEngines() {
		if k != eddy.EngineStd {
			names = append(names, "etls-"+string(k))
		}
	}
	return append(names, "net-tls")
}

// startBenchServer starts the named TLS echo server on one loop (or GOMAXPROCS goroutines' worth of
// package net) and returns its address.
func startBenchServer(b *testing.B, name string) string {
	p := getPKI(b)
	if kind, ok := strings.CutPrefix(name, "etls-"); ok {
		return serve(b, eddy.EngineKind(kind), etls.Server(echo{}, p.server), eddy.WithLoops(1))
	}
	if kind, ok := strings.CutPrefix(name, "tcp-"); ok {
		return serve(b, eddy.EngineKind(kind), echo{}, eddy.WithLoops(1))
	}
	return tlsEchoServer(b, p.server)
}

// BenchmarkEcho measures a 64-byte TLS round trip: one connection at a time (serial), and 16
// connections at once (parallel). The client is crypto/tls in this process, so the figures are the
// round trip's whole cost, client included. The tcp- servers are the same engines without TLS, for
// what TLS adds.
func BenchmarkEcho(b *testing.B) {
	var plain []string
	for _, k := range testEngines() {
		if k != eddy.EngineStd {
			plain = append(plain, "tcp-"+string(k))
		}
	}
	for _, name := range append(benchServers(), plain...) {
		b.Run(name, func(b *testing.B) {
			addr := startBenchServer(b, name)
			msg := []byte(strings.Repeat("x", 64))
			dial := func() (net.Conn, error) {
				if strings.HasPrefix(name, "tcp-") {
					return net.Dial("tcp", addr)
				}
				return tls.Dial("tcp", addr, getPKI(b).client)
			}
			b.Run("serial", func(b *testing.B) {
				c, err := dial()
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				buf := make([]byte, len(msg))
				b.ReportAllocs()
				for b.Loop() {
					c.Write(msg)
					if _, err := io.ReadFull(c, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(8) // 16 connections on 2 CPUs
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					c, err := dial()
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					buf := make([]byte, len(msg))
					for pb.Next() {
						c.Write(msg)
						if _, err := io.ReadFull(c, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkHandshake measures a full TLS 1.3 handshake (ECDHE P-256, ECDSA certificate) followed by
// one round trip, a new connection each time.
func BenchmarkHandshake(b *testing.B) {
	for _, name := range benchServers() {
		b.Run(name, func(b *testing.B) {
			addr := startBenchServer(b, name)
			cfg := getPKI(b).client.Clone()
			cfg.ClientSessionCache = nil
			buf := make([]byte, 1)
			b.ReportAllocs()
			for b.Loop() {
				c, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				c.Write([]byte("x"))
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkIdleMemory measures what an idle TLS connection costs the server: heap and goroutine
// stacks in use once conns clients (in a child process: this test binary, re-run) have finished their
// handshake and one round trip, minus before, per connection. Run with -benchtime 1x;
// EDDY_IDLE_CONNS sets the count (default 2000).
func BenchmarkIdleMemory(b *testing.B) {
	conns := 2000
	if s := os.Getenv("EDDY_IDLE_CONNS"); s != "" {
		conns, _ = strconv.Atoi(s)
	}
	for _, name := range benchServers() {
		b.Run(name, func(b *testing.B) {
			addr := startBenchServer(b, name)
			for b.Loop() {
				before := inUse()
				stop := childClients(b, addr, conns)
				time.Sleep(200 * time.Millisecond) // let the handshake goroutines end
				after := inUse()
				stop()
				b.ReportMetric(float64(after.heap-before.heap)/float64(conns), "heap-B/conn")
				b.ReportMetric(float64(after.stack-before.stack)/float64(conns), "stack-B/conn")
				b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(conns), "goroutines/conn")
			}
		})
	}
}

type memInUse struct{ heap, stack, goroutines int64 }

func inUse() memInUse {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memInUse{int64(ms.HeapInuse), int64(ms.StackInuse), int64(runtime.NumGoroutine())}
}

// childClients opens conns TLS connections to addr from a child process, each having made one
// round trip, and returns a function that closes them.
func childClients(b *testing.B, addr string, conns int) (stop func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildTLSClients$")
	cmd.Env = append(os.Environ(), "EDDY_CHILD_TLS_ADDR="+addr, "EDDY_CHILD_TLS_CONNS="+strconv.Itoa(conns))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() { stdin.Close(); cmd.Wait() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		stop()
		b.Fatalf("child: %q %v", line, err)
	}
	return stop
}

// TestChildTLSClients is the child process of childClients; it does nothing in a normal run.
func TestChildTLSClients(t *testing.T) {
	addr := os.Getenv("EDDY_CHILD_TLS_ADDR")
	if addr == "" {
		t.Skip("the child process of BenchmarkIdleMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("EDDY_CHILD_TLS_CONNS"))
	cfg := &tls.Config{InsecureSkipVerify: true}
	conns := make([]*tls.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			buf := []byte("hello")
			c.Write(buf)
			if _, err := io.ReadFull(c, buf); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return
	}()...); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

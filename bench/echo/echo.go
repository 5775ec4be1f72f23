// Package echo holds what the benchmark echo servers under bench/cmd share: the -addr flag, the
// signal handling and the exit path. Each server there is the echo server its library's own
// documentation shows, written the fast way that documentation recommends; this package keeps the
// plumbing around them identical, so the servers differ only where the libraries do.
//
// The runner (bench/runner) starts each server as
//
//	taskset -c 0 env GOMAXPROCS=1 <server> -addr 127.0.0.1:<port>
//
// and stops it with SIGTERM.
package echo

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Addr is the -addr flag: the host:port the server listens on.
var Addr = flag.String("addr", "127.0.0.1:9000", "listen `address` (host:port)")

// Main parses the command line, then runs serve with the listen address under a context that the first
// SIGINT or SIGTERM cancels. serve should return soon after the context is done. Main exits the process:
// with status 0 when serve returns nil, and with status 1 after printing the error otherwise. Servers
// print nothing else, so that the benchmark's logs hold only what went wrong.
func Main(serve func(ctx context.Context, addr string) error) {
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected argument %q", flag.Arg(0)))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, *Addr)
	stop()
	if err != nil {
		fail(err)
	}
	os.Exit(0)
}

// fail prints err as "<program>: err" and exits with status 1.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
	os.Exit(1)
}

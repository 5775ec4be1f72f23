// Command gnet is the benchmark's echo server on github.com/panjf2000/gnet/v2, as gnet's README and
// examples write it: an OnTraffic that takes every buffered byte with Next(-1) and writes it back.
//
// It runs one event loop per GOMAXPROCS (the runner sets GOMAXPROCS=1 and pins the server to one core),
// which is what WithMulticore gives on a machine of that size, and stops on SIGINT or SIGTERM through
// Engine.Stop. gnet's informational log lines are dropped; warnings and errors are printed.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/eddyio/eddy/bench/echo"
)

func main() { echo.Main(serve) }

// server is the gnet event handler.
type server struct {
	gnet.BuiltinEventEngine
	booted chan gnet.Engine
}

// OnBoot hands the engine to serve, which stops it on a signal.
func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	s.booted <- eng
	return gnet.None
}

// OnTraffic echoes what arrived: Next(-1) returns gnet's inbound buffer, and Write copies it out.
func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

// serve runs gnet on addr until ctx is done.
func serve(ctx context.Context, addr string) error {
	s := &server{booted: make(chan gnet.Engine, 1)}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(s, "tcp://"+addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(runtime.GOMAXPROCS(0)),
			gnet.WithLogger(quietLogger{}),
		)
	}()
	select {
	case err := <-done:
		return err // failed to start
	case <-ctx.Done():
	}
	select {
	case eng := <-s.booted:
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := eng.Stop(sctx); err != nil {
			return err
		}
		return <-done
	case err := <-done:
		return err
	}
}

// quietLogger is a gnet logging.Logger that drops debug and informational lines.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: warning: "+format+"\n", args...)
}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: error: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: fatal: "+format+"\n", args...)
	os.Exit(1)
}

// Command eddy is the benchmark's echo server on eddy, as the root package's documentation writes it:
// an OnData that takes every buffered byte with Next(-1) and writes it back, the engine flushing the
// output once at the end of the loop iteration.
//
// -engine chooses the engine (epoll, std or uring; auto picks the platform's best). An engine that this
// build or this kernel does not have is an error printed on one line, with exit status 1, which the
// runner reports as "not available" rather than as a failed run. The engine has one loop per GOMAXPROCS.
package main

import (
	"context"
	"flag"

	"github.com/eddyio/eddy"

	"github.com/eddyio/eddy/bench/echo"
)

var engine = flag.String("engine", "epoll", "eddy `engine`: epoll, std, uring or auto")

func main() { echo.Main(serve) }

// handler writes back every byte it receives.
type handler struct{ eddy.BaseHandler }

// OnData echoes what arrived: Next returns the engine's buffer and Write copies it into the output.
func (handler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// serve runs an eddy engine of the chosen kind on addr until ctx is done.
func serve(ctx context.Context, addr string) error {
	kind, err := eddy.ParseEngineKind(*engine)
	if err != nil {
		return err
	}
	return eddy.Serve(ctx, handler{}, []string{"tcp://" + addr}, eddy.WithEngine(kind))
}

// Command evio is the benchmark's echo server on github.com/tidwall/evio, as evio's README writes it: a
// Data event that returns its input as the output.
//
// evio runs one loop per GOMAXPROCS here (NumLoops). It has no stop call other than returning Shutdown
// from an event, and a Tick event to do that would wake the loop on a timer during the measurement, so
// the server exits from the signal handler instead: the kernel closes the connections.
package main

import (
	"context"
	"os"
	"runtime"

	"github.com/tidwall/evio"

	"github.com/eddyio/eddy/bench/echo"
)

func main() { echo.Main(serve) }

// serve runs evio on addr; it returns only on a start error, or exits the process once ctx is done.
func serve(ctx context.Context, addr string) error {
	var events evio.Events
	events.NumLoops = runtime.GOMAXPROCS(0)
	events.Data = func(c evio.Conn, in []byte) (out []byte, action evio.Action) {
		return in, evio.None
	}
	context.AfterFunc(ctx, func() { os.Exit(0) })
	return evio.Serve(events, "tcp://"+addr)
}

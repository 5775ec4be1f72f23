// Command nbio is the benchmark's echo server on github.com/lesismal/nbio, as nbio's README and
// examples write it: an engine whose OnData callback writes back the bytes it is given.
//
// The README's example copies the data before Write (append([]byte{}, data...)); this server does not,
// because nbio's Conn.Write in this version writes at once and copies only what the kernel did not take
// (newToWriteBuf), so the copy is an allocation per message that the example does not need. The engine
// gets one poller per GOMAXPROCS and reads on the poller goroutine (nbio's default on Linux).
package main

import (
	"context"
	"runtime"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/eddyio/eddy/bench/echo"
)

func main() { echo.Main(serve) }

// serve runs an nbio engine on addr until ctx is done.
func serve(ctx context.Context, addr string) error {
	logging.SetLevel(logging.LevelWarn)
	engine := nbio.NewEngine(nbio.Config{
		Network: "tcp",
		Addrs:   []string{addr},
		NPoller: runtime.GOMAXPROCS(0),
	})
	engine.OnData(func(c *nbio.Conn, data []byte) {
		c.Write(data)
	})
	if err := engine.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	engine.Stop()
	return nil
}

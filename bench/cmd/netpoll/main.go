// Command netpoll is the benchmark's echo server on github.com/cloudwego/netpoll, as netpoll's echo
// example and guide write it: an OnRequest handler that reads what is buffered through the nocopy
// Reader, writes it through the Writer and flushes.
//
// The example reads and writes a string (ReadString, WriteString), which copies twice; this server uses
// the nocopy calls the guide recommends instead (Next, WriteBinary) and releases the read buffer after
// Flush, once the bytes were sent. Handlers run on netpoll's default goroutine pool (gopool), and there
// is one poller per GOMAXPROCS.
package main

import (
	"context"
	"runtime"
	"time"

	"github.com/cloudwego/netpoll"

	"github.com/eddyio/eddy/bench/echo"
)

func main() { echo.Main(serve) }

// serve runs a netpoll event loop on addr until ctx is done.
func serve(ctx context.Context, addr string) error {
	if err := netpoll.SetNumLoops(runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	ln, err := netpoll.CreateListener("tcp", addr)
	if err != nil {
		return err
	}
	loop, err := netpoll.NewEventLoop(handle)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- loop.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return loop.Shutdown(sctx)
}

// handle echoes what is buffered on c.
func handle(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	defer r.Release()
	buf, err := r.Next(r.Len())
	if err != nil {
		return err
	}
	if _, err := w.WriteBinary(buf); err != nil {
		return err
	}
	return w.Flush()
}

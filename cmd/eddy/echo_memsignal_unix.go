//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// watchMemSignal makes the echo server answer SIGUSR1, until ctx is done, by collecting garbage twice
// (pooled buffers survive one collection), returning the freed memory to the operating system
// (debug.FreeOSMemory) and writing a line of
// memory statistics to stderr. A measurement of memory per idle connection sends it before reading
// the RSS, so that what it compares is the memory the connections hold, not whatever garbage and
// unscavenged heap and pooled buffers the connection burst happened to leave before the collector's
// next cycles (an idle server allocates nothing, so they may never come).
func watchMemSignal(ctx context.Context, stderr io.Writer) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				runtime.GC() // sync.Pool keeps what it holds through one collection, as a victim cache
				debug.FreeOSMemory()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				fmt.Fprintf(stderr, "eddy echo: after GC: heap %d KiB live, %d KiB in use, %d KiB stacks, %d GCs\n",
					m.HeapAlloc>>10, m.HeapInuse>>10, m.StackInuse>>10, m.NumGC)
			}
		}
	}()
}

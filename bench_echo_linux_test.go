package eddy_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/uring"
)

// benchEcho is the echo handler of the benchmarks: nothing but Next and Write.
type benchEcho struct{ eddy.BaseHandler }

func (benchEcho) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// BenchmarkEcho measures one loopback round trip (write a message, read its echo) against a server with
// one loop, per engine and message size, for a side-by-side comparison of the engines. The client is a
// package net connection in the same process, so ns/op includes its cost, and allocs/op counts the
// whole process. For pinned, multi-connection figures see TestPinnedEcho.
func BenchmarkEcho(b *testing.B) {
	for _, kind := range []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineUring, eddy.EngineStd} {
		b.Run(string(kind), func(b *testing.B) {
			if kind == eddy.EngineUring {
				if err := uring.Available(); err != nil {
					b.Skipf("io_uring is unavailable: %v", err)
				}
			}
			for _, size := range []struct {
				name string
				n    int
			}{{"64B", 64}, {"4KiB", 4096}} {
				b.Run(size.name, func(b *testing.B) { benchEchoRoundTrip(b, kind, size.n) })
			}
		})
	}
}

func benchEchoRoundTrip(b *testing.B, kind eddy.EngineKind, size int) {
	e, err := eddy.New(benchEcho{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	}()
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, size)
	got := make([]byte, size)
	// One round trip first, so the connection is open and warm before the timer starts.
	if _, err := c.Write(msg); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
}

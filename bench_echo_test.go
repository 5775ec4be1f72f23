package eddy_test

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// BenchmarkEcho measures one ping-pong round trip through the engine over loopback: the server's read,
// OnData (Next + Write) and the flush, plus the client's write and read. Allocations are counted for the
// whole process; the client side (net.TCPConn Read/Write) allocates nothing, so allocs/op is the engine's.
func BenchmarkEcho(b *testing.B) {
	for _, kind := range testEngines() {
		for _, size := range []int{64, 4096} {
			b.Run(string(kind)+"/"+sizeName(size), func(b *testing.B) { benchEcho(b, kind, size) })
		}
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return itoa(n/1024) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

type benchEchoHandler struct{ eddy.BaseHandler }

func (benchEchoHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// startBenchEcho starts an echo engine of kind with one loop on a loopback port, stopped at cleanup.
func startBenchEcho(b *testing.B, kind eddy.EngineKind) *eddy.Engine {
	return startBenchEngine(b, benchEchoHandler{}, kind)
}

// startBenchEngine starts an engine of kind serving h with one loop on a loopback port, stopped at
// cleanup.
func startBenchEngine(b *testing.B, h eddy.Handler, kind eddy.EngineKind) *eddy.Engine {
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

func benchEcho(b *testing.B, kind eddy.EngineKind, size int) {
	b.SetBytes(int64(size))
	pingPong(b, startBenchEcho(b, kind), size)
}

// pingPong dials e and times b.N round trips of size-byte messages, after a warm-up in which pools and
// buffers reach their steady state.
func pingPong(b *testing.B, e *eddy.Engine, size int) {
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, size)
	got := make([]byte, size)
	for i := 0; i < 100; i++ {
		c.Write(msg)
		io.ReadFull(c, got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

// BenchmarkEchoConns is BenchmarkEcho with 64 client connections in the same process, each a goroutine
// doing 64-byte ping-pong: b.N round trips in all. With every P held by a loop (-cpu 1), it shows how
// long the clients, which wait in the runtime's poller, wait for the loop to let them run.
func BenchmarkEchoConns(b *testing.B) {
	for _, kind := range testEngines() {
		b.Run(string(kind), func(b *testing.B) { benchEchoConns(b, kind, 64) })
	}
}

func benchEchoConns(b *testing.B, kind eddy.EngineKind, conns int) {
	e := startBenchEcho(b, kind)
	cs := make([]net.Conn, conns)
	for i := range cs {
		var err error
		if cs[i], err = net.Dial("tcp", e.Addrs()[0].String()); err != nil {
			b.Fatal(err)
		}
		defer cs[i].Close()
	}
	b.ReportAllocs()
	b.ResetTimer()
	errs := make(chan error, conns)
	for i, c := range cs {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		go func() {
			msg, got := make([]byte, 64), make([]byte, 64)
			for ; n > 0; n-- {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range cs {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAsyncWrite is BenchmarkEcho with the reply written from another goroutine: OnData copies the
// message into the connection's buffer and hands it to a worker goroutine, which calls AsyncWrite with a
// completion callback ("async"), or Execute with a function that writes it ("execute"). It measures the
// hand-off to the loop; allocs/op is the engine's (the channel and the client allocate nothing).
func BenchmarkAsyncWrite(b *testing.B) {
	for _, kind := range testEngines() {
		for _, mode := range []string{"async", "execute"} {
			b.Run(string(kind)+"/"+mode, func(b *testing.B) { benchAsyncWrite(b, kind, mode == "execute") })
		}
	}
}

type asyncBenchHandler struct {
	eddy.BaseHandler
	work chan eddy.Conn
	buf  []byte
	n    int
}

func (h *asyncBenchHandler) OnData(c eddy.Conn) {
	m, _ := c.Next(-1)
	h.n = copy(h.buf, m) // one message in flight: the worker's last write is done with buf
	h.work <- c
}

func benchAsyncWrite(b *testing.B, kind eddy.EngineKind, execute bool) {
	h := &asyncBenchHandler{work: make(chan eddy.Conn, 1), buf: make([]byte, 64)}
	var completed atomic.Int64
	done := func(_ eddy.Conn, err error) {
		if err == nil {
			completed.Add(1)
		}
	}
	reply := func(c eddy.Conn) {
		if _, err := c.Write(h.buf[:h.n]); err == nil {
			completed.Add(1)
		}
	}
	go func() {
		for c := range h.work {
			if execute {
				c.Execute(reply)
			} else {
				c.AsyncWrite(h.buf[:h.n], done)
			}
		}
	}()
	b.Cleanup(func() { close(h.work) }) // registered first, so it runs after the engine's stop
	pingPong(b, startBenchEngine(b, h, kind), 64)
	if completed.Load() == 0 {
		b.Fatal("no reply was written")
	}
}

package http_test

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy"
	benchhttp "github.com/eddyio/eddy/bench/http"
)

// conns is the number of keep-alive client connections per benchmark.
const conns = 64

// BenchmarkPlaintext drives each server with conns raw keep-alive clients in the same process,
// one request in flight per connection. Clients and server share the machine's cores, so the
// figures compare the servers' cost per request rather than measure their peak; use wrk.sh for
// pinned measurements.
func BenchmarkPlaintext(b *testing.B) {
	for _, kind := range benchhttp.Kinds {
		b.Run(kind, func(b *testing.B) {
			addr, stop, err := benchhttp.Start(kind, "127.0.0.1:0", eddy.EngineAuto, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			clients := make([]*client, conns)
			for i := range clients {
				clients[i] = dial(b, addr)
				defer clients[i].c.Close()
			}
			var next atomic.Int64
			b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				cl := clients[int(next.Add(1)-1)%conns]
				for pb.Next() {
					if err := cl.do(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

type client struct {
	c    net.Conn
	buf  []byte
	size int
}

var request = []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")

// dial connects and learns the size of a response, which is fixed for each server.
func dial(b *testing.B, addr string) *client {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	cl := &client{c: c, buf: make([]byte, 1024)}
	c.Write(request)
	n := 0
	for !bytes.HasSuffix(cl.buf[:n], []byte("Hello, World!")) {
		k, err := c.Read(cl.buf[n:])
		if err != nil {
			b.Fatalf("%q: %v", cl.buf[:n], err)
		}
		n += k
	}
	cl.size = n
	return cl
}

func (cl *client) do() error {
	if _, err := cl.c.Write(request); err != nil {
		return err
	}
	_, err := io.ReadFull(cl.c, cl.buf[:cl.size])
	return err
}

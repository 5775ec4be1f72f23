package aio_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// recordServer answers each line "k" with record k of a file of 16-byte records. The read goes through
// aio, so the event loop never waits for the disk, and its continuation runs back on the connection's
// loop (c.Loop() is a future.Executor), the only place where the connection may be written to.
type recordServer struct {
	eddy.BaseHandler
	f *aio.File
}

func (s recordServer) OnData(c eddy.Conn) {
	for {
		b, _ := c.Peek(-1)
		i := strings.IndexByte(string(b), '\n')
		if i < 0 {
			return
		}
		k, err := strconv.Atoi(string(b[:i]))
		c.Discard(i + 1)
		if err != nil {
			c.Write([]byte("bad request\n"))
			continue
		}
		rec := make([]byte, 16) // the read's own buffer: it belongs to the read until its future completes
		read := s.f.ReadAt(context.Background(), rec, int64(k)*16)
		future.Map(read, c.Loop(), func(n int) (struct{}, error) {
			c.Write(rec[:n])
			return struct{}{}, nil
		})
	}
}

// File reads whose results come back to an event loop: an eddy server answers requests with records
// read through aio.
func Example_eventLoop() {
	name := filepath.Join(os.TempDir(), "aio-example-records")
	var recs strings.Builder
	for k := range 100 {
		fmt.Fprintf(&recs, "record %08d\n", k) // 16 bytes each
	}
	os.WriteFile(name, []byte(recs.String()), 0o644)
	defer os.Remove(name)

	a, err := aio.New()
	if err != nil {
		panic(err)
	}
	defer a.Close()
	f, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		panic(err)
	}
	e, err := eddy.New(recordServer{f: f}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())

	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, k := range []int{42, 7, 99} {
		fmt.Fprintf(c, "%d\n", k)
		line, _ := r.ReadString('\n')
		fmt.Print(line)
	}
	// Output:
	// record 00000042
	// record 00000007
	// record 00000099
}

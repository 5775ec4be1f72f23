package eddy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/eddyio/eddy"
)

// fileGreeter sends a header line, a file and a footer line to each new connection, then closes it.
type fileGreeter struct {
	eddy.BaseHandler
	path string
}

func (h fileGreeter) OnOpen(c eddy.Conn) {
	f, err := os.Open(h.path)
	if err != nil {
		c.Close()
		return
	}
	defer f.Close() // the engine keeps its own reference until the region is sent
	fi, _ := f.Stat()
	c.Write([]byte("begin\n"))
	c.SendFile(f, 0, fi.Size(), func(c eddy.Conn, err error) {
		if err != nil {
			fmt.Println("send failed:", err)
		}
	})
	c.Write([]byte("end\n")) // goes out after the file
	c.Close()                // flushes everything first
}

// SendFile queues a file region among the writes around it; on epoll the bytes go from the page cache
// to the socket with sendfile(2).
func ExampleConn_sendFile() {
	dir, _ := os.MkdirTemp("", "sendfile")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "motd.txt")
	os.WriteFile(path, []byte("the file\n"), 0o644)

	e, err := eddy.New(fileGreeter{path: path}, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	c, _ := net.Dial("tcp", e.Addrs()[0].String())
	b, _ := io.ReadAll(c)
	fmt.Print(string(b))
	c.Close()
	// Output:
	// begin
	// the file
	// end
}

// An engine can serve a listener the program opened itself, without closing it and listening again.
func ExampleWithListeners() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	e, err := eddy.New(echoServer{}, nil, eddy.WithListeners(ln), eddy.WithLoops(2))
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	c, _ := net.Dial("tcp", ln.Addr().String())
	c.Write([]byte("adopted"))
	buf := make([]byte, 7)
	io.ReadFull(c, buf)
	fmt.Println(string(buf), e.Addrs()[0].String() == ln.Addr().String())
	c.Close()
	e.Stop(context.Background()) // closes ln too
	_, err = ln.Accept()
	fmt.Println(err != nil)
	// Output:
	// adopted true
	// true
}

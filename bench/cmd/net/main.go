// Command net is the benchmark's baseline echo server: what most Go programs would write, a goroutine
// per connection on package net, each reading into its own buffer and writing back what it read.
//
// It reads into a buffer of its own rather than calling io.Copy, which on Linux may splice between the
// sockets and so measure the kernel rather than a plain Go server.
package main

import (
	"context"
	"errors"
	"net"

	"github.com/eddyio/eddy/bench/echo"
)

// bufferSize is each connection's read buffer, the size a plain server typically allocates.
const bufferSize = 4 << 10

func main() { echo.Main(serve) }

// serve accepts connections on addr until ctx is done, then closes the listener and returns; the
// connections end with the process.
func serve(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue // a transient accept error (EMFILE, ECONNABORTED): try again
		}
		go echoConn(c)
	}
}

// echoConn writes back what c reads until the peer closes or an error occurs.
func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, bufferSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

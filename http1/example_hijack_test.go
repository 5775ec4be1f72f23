package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/eddyio/eddy/http1"
)

// A handler takes the connection over, as a WebSocket library does: it answers the upgrade with
// 101 through WriteHeader, hijacks the connection with http.ResponseController, and then speaks
// its own protocol on the net.Conn, here a line echo. The server's loop still reads and writes the
// connection; the handler blocks in Read and Write as on a net.Conn of package net.
func ExampleServer_hijack() {
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Upgrade", "line-echo")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return // the 101 could not be sent: the client has gone
			}
			defer conn.Close()
			for {
				line, err := brw.ReadString('\n')
				if err != nil {
					return // io.EOF once the client closes
				}
				brw.WriteString("echo: " + line)
				brw.Flush()
			}
		}),
	}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	c, err := net.Dial("tcp", srv.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Fprint(c, "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: line-echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, resp.Header.Get("Upgrade"))
	for _, msg := range []string{"hello", "world"} {
		fmt.Fprintln(c, msg)
		line, _ := br.ReadString('\n')
		fmt.Print(line)
	}
	c.(*net.TCPConn).CloseWrite()
	rest, _ := io.ReadAll(br)
	fmt.Printf("then EOF, %d bytes more\n", len(rest))
	// Output:
	// 101 Switching Protocols line-echo
	// echo: hello
	// echo: world
	// then EOF, 0 bytes more
}

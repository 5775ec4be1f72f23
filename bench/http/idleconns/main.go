// Command idleconns opens many keep-alive connections to an HTTP server, sends one GET / on each
// and reads the answer, then holds them all idle until SIGINT or SIGTERM, for measuring the
// server's memory per idle connection:
//
//	idleconns -addr 127.0.0.1:8080 -n 10000
//
// It prints "ready N" once every connection has had its answer. Its own descriptor limit must
// exceed N.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address")
	n := flag.Int("n", 10000, "connections to open")
	flag.Parse()
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *addr, 10*time.Second)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Println("ready", len(conns))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	for _, c := range conns {
		c.Close()
	}
}

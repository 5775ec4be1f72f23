// Command plaintext runs one plaintext HTTP server of the comparison (see package
// github.com/eddyio/eddy/bench/http) until SIGINT or SIGTERM, for measuring from another process:
//
//	GOMAXPROCS=1 taskset -c 0 plaintext -server http1-native -addr 127.0.0.1:8080
//	taskset -c 1 wrk -t1 -c100 -d10s --latency http://127.0.0.1:8080/
//
// It prints the address it listens on once it is ready.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/eddyio/eddy"
	benchhttp "github.com/eddyio/eddy/bench/http"
)

func main() {
	kind := flag.String("server", "http1-native", fmt.Sprintf("server: one of %v", benchhttp.Kinds))
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	engine := flag.String("engine", "auto", "eddy engine for the http1 servers: auto, epoll, uring or std")
	loops := flag.Int("loops", 0, "event loops for the http1 servers (default GOMAXPROCS)")
	flag.Parse()
	ek, err := eddy.ParseEngineKind(*engine)
	if err != nil {
		log.Fatal(err)
	}
	bound, stop, err := benchhttp.Start(*kind, *addr, ek, *loops)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s listening on %s (pid %d)\n", *kind, bound, os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	stop()
}

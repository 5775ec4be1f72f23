// Command hello-http answers "Hello, World!" to GET / over HTTP/1.1 with eddy's http1.Server, in
// either handler style, so the two can be compared with a load generator such as wrk:
//
//	go run ./examples/hello-http -addr 127.0.0.1:8080 -style native
//	go run ./examples/hello-http -addr 127.0.0.1:8080 -style nethttp -engine std
//
//	curl -i http://127.0.0.1:8080/
//
// The native style runs the handler on the event loop and allocates nothing per request; the
// nethttp style runs an ordinary net/http handler on the worker pool. Any other path or method gets
// 404 or 405. The server stops gracefully on Ctrl-C (SIGINT) or SIGTERM. A bad command line exits
// with status 2, a server that fails with status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

const hello = "Hello, World!"

// native is the handler on the loop: it must not block, and it reads the request in place.
func native(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	switch {
	case string(r.Path()) != "/":
		w.SetStatus(http.StatusNotFound)
		w.AddHeader("Content-Type", "text/plain; charset=utf-8")
		w.WriteString("404 page not found\n")
	case r.MethodString() != http.MethodGet && r.MethodString() != http.MethodHead:
		w.SetStatus(http.StatusMethodNotAllowed)
		w.AddHeader("Allow", "GET, HEAD")
	default:
		w.AddHeader("Content-Type", "text/plain; charset=utf-8")
		w.WriteString(hello)
	}
}

// netHTTP is the same answer as an ordinary net/http handler.
func netHTTP() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, hello)
	})
	return mux
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port, or an eddy address such as unix:///tmp/h.sock)")
	engine := flag.String("engine", "auto", "engine: auto, epoll, uring or std")
	style := flag.String("style", "native", "handler style: native (on the loop) or nethttp (net/http handler on the pool)")
	loops := flag.Int("loops", 0, "event loops (default GOMAXPROCS)")
	flag.Parse()
	// A bad command line is a usage error, status 2, as flag's own errors are.
	usage := func(msg string) {
		fmt.Fprintln(os.Stderr, "hello-http:", msg)
		flag.Usage()
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		usage(fmt.Sprintf("unexpected argument %q", flag.Arg(0)))
	}
	if *loops < 0 {
		usage(fmt.Sprintf("-loops %d is negative", *loops))
	}
	kind, err := eddy.ParseEngineKind(*engine)
	if err != nil {
		usage(err.Error())
	}
	srv := &http1.Server{
		Addr:              *addr,
		Engine:            kind,
		Loops:             *loops,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	switch *style {
	case "native":
		srv.Native = http1.NativeHandlerFunc(native)
	case "nethttp":
		srv.Handler = netHTTP()
	default:
		usage(fmt.Sprintf("unknown -style %q: want native or nethttp", *style))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "hello-http: %s style, %s engine, listening on %v; Ctrl-C to stop\n", *style, srv.EngineKind(), srv.Addrs()[0])
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Fatalf("shutdown: %v", err)
	}
}

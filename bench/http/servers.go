package http

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// Kinds are the servers Start knows.
var Kinds = []string{"http1-native", "http1-nethttp", "nethttp", "fasthttp"}

const hello = "Hello, World!"

// netHTTPHandler is the plaintext answer as a net/http handler, used by net/http and by http1's
// nethttp style.
var netHTTPHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, hello)
})

// nativeHandler is the plaintext answer on http1's event loop.
func nativeHandler(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	w.AddHeader("Content-Type", "text/plain; charset=utf-8")
	w.WriteString(hello)
}

// fastHandler is the plaintext answer for fasthttp.
func fastHandler(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.WriteString(hello)
}

// Start starts the server of the given kind on addr ("127.0.0.1:0" for any port) and returns the
// address it listens on and a function that stops it. engine and loops apply to the http1 kinds
// (loops 0 means GOMAXPROCS).
func Start(kind, addr string, engine eddy.EngineKind, loops int) (string, func(), error) {
	switch kind {
	case "http1-native", "http1-nethttp":
		srv := &http1.Server{Addr: addr, Engine: engine, Loops: loops}
		if kind == "http1-native" {
			srv.Native = http1.NativeHandlerFunc(nativeHandler)
		} else {
			srv.Handler = netHTTPHandler
		}
		if err := srv.Start(); err != nil {
			return "", nil, err
		}
		stop := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
		}
		return srv.Addrs()[0].String(), stop, nil
	case "nethttp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: netHTTPHandler}
		go srv.Serve(ln)
		return ln.Addr().String(), func() { srv.Close() }, nil
	case "fasthttp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", nil, err
		}
		srv := &fasthttp.Server{Handler: fastHandler, Name: "fasthttp"}
		done := make(chan struct{})
		go func() { srv.Serve(ln); close(done) }()
		return ln.Addr().String(), func() { srv.Shutdown(); <-done }, nil
	}
	return "", nil, fmt.Errorf("unknown server %q (want one of %v)", kind, Kinds)
}

package http

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/valyala/fasthttp"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// Kinds are the servers Start knows.
var Kinds = []string{"http1-native", "http1-nethttp", "nethttp", "fasthttp", "nbhttp"}

const hello = "Hello, World!"

// netHTTPHandler is the plaintext answer as a net/http handler, used by net/http and by http1's
// nethttp style.
var netHTTPHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, hello)
})

// nbhttpHandler is the plaintext answer for nbhttp. nbhttp does not buffer a response to learn its
// length as net/http does: without Content-Length it sends every HTTP/1.1 response chunked, so the
// handler sets it, as nbhttp's users do when the length is known.
var nbhttpHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", helloLength)
	io.WriteString(w, hello)
})

// helloLength is the length of hello, as a Content-Length value.
var helloLength = strconv.Itoa(len(hello))

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
	case "nbhttp":
		return startNBHTTP(addr)
	}
	return "", nil, fmt.Errorf("unknown server %q (want one of %v)", kind, Kinds)
}

// startNBHTTP serves the net/http handler on nbio's nbhttp engine the way nbio's examples do: an
// nbhttp.Engine with the handler, non-blocking I/O on the pollers (the default IOMod), and the handler
// run on nbhttp's own task pool (the default executor). There is one poller per GOMAXPROCS, as for the
// nbio echo server; nbhttp's default (NumCPU/4) would be one here anyway.
func startNBHTTP(addr string) (string, func(), error) {
	logging.SetLevel(logging.LevelWarn) // nbhttp logs each start and stop at Info
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{addr},
		NPoller: runtime.GOMAXPROCS(0),
		Handler: nbhttpHandler,
	})
	if err := engine.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		engine.Shutdown(ctx)
	}
	return engine.Addrs[0], stop, nil // Start writes the bound address back into Addrs
}

package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// helloCommand is "eddy hello": the HTTP plaintext server of the benchmarks, "Hello, World!" to GET /,
// on eddy's http1 in either handler style, or with --baseline on net/http's own server.
var helloCommand = command{
	name:    "hello",
	summary: `serve "Hello, World!" over HTTP/1.1 on eddy's http1 (or on net/http with --baseline)`,
	usage:   "eddy hello [--addr 127.0.0.1:8080] [--style native|nethttp] [--engine auto|epoll|uring|std] [--loops N] [--baseline] [--duration D] [--tls-cert F --tls-key F]",
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		var cfg helloConfig
		fs := flag.NewFlagSet("hello", flag.ContinueOnError)
		fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen `address`: "+addrForms+" (port 0 picks a free port)")
		fs.StringVar(&cfg.style, "style", "native", "handler `style`: native (on the event loop) or nethttp (a net/http handler on the worker pool)")
		fs.StringVar(&cfg.engine, "engine", "auto", "`engine`: auto, epoll, uring or std")
		fs.IntVar(&cfg.loops, "loops", 0, "number of event loops, up to 1024 (0: one per GOMAXPROCS); the std engine serves on goroutines, not loops, and warns of it")
		fs.BoolVar(&cfg.baseline, "baseline", false, "serve with net/http's own server instead of eddy's http1 (the comparison peer; --style, --engine and --loops do not apply)")
		fs.DurationVar(&cfg.duration, "duration", 0, "stop by itself after this `duration` (0: run until SIGINT or SIGTERM)")
		cfg.tls.addFlags(fs)
		return fs, func(ctx context.Context, _, stderr io.Writer) error {
			if err := baselineRefuses(fs, cfg.baseline, "hello", "engine", "loops", "style"); err != nil {
				return err
			}
			cfg.loopsSet = len(flagsGiven(fs, "loops")) > 0
			return runHello(ctx, cfg, stderr)
		}
	},
}

// helloConfig is the configuration of a plaintext HTTP server.
type helloConfig struct {
	addr     string
	style    string // "native" or "nethttp"
	engine   string
	loops    int  // 0: the engine's default
	loopsSet bool // --loops given: warned of on the std engine, which has no loops to serve on
	baseline bool
	duration time.Duration // 0: until ctx is done
	tls      tlsFiles      // serve HTTPS (HTTP/1.1 only, on the baseline too)
}

// helloBody is the whole response body of the plaintext benchmark.
const helloBody = "Hello, World!"

// helloStopTimeout bounds the graceful stop; connections still open after it are closed (a variable for
// the tests).
var helloStopTimeout = 5 * time.Second

// runHello checks cfg, serves until ctx is done or cfg.duration has passed, and logs to stderr.
func runHello(ctx context.Context, cfg helloConfig, stderr io.Writer) error {
	switch {
	case cfg.style != "native" && cfg.style != "nethttp":
		return usagef("hello", "--style %q: want native or nethttp", cfg.style)
	case cfg.loops < 0 || cfg.loops > maxLoops:
		return usagef("hello", "--loops %d: want 0..%d", cfg.loops, maxLoops)
	case cfg.duration < 0:
		return usagef("hello", "--duration %v: want 0 or more", cfg.duration)
	}
	if err := cfg.tls.check("hello"); err != nil {
		return err
	}
	if _, err := eddy.ParseEngineKind(cfg.engine); err != nil {
		return usagef("hello", "--engine %q: want auto, epoll, uring or std", cfg.engine)
	}
	if err := checkAddr("hello", cfg.addr); err != nil {
		return err
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	err := serveHello(ctx, cfg, func(l listening) {
		// The bare address for plain HTTP, which eddy bench reads back to dial; with TLS, the https:// URL,
		// as eddy serve says it.
		where := l.Addr.String()
		if cfg.tls.on() {
			where = serveURL(l, true)
		}
		if cfg.loopsSet && l.Engine == string(eddy.EngineStd) {
			warnLoopsOnStd(stderr, "hello", cfg.loops)
		}
		switch {
		case l.Engine == "net/http":
			fmt.Fprintf(stderr, "eddy hello: listening on %s (net/http)\n", where)
		case l.Loops == 0:
			fmt.Fprintf(stderr, "eddy hello: listening on %s (%s style, engine %s)\n", where, cfg.style, l.Engine)
		default:
			fmt.Fprintf(stderr, "eddy hello: listening on %s (%s style, engine %s, %s)\n", where, cfg.style, l.Engine, loopsText(l.Loops))
		}
	})
	if err = logStopTimedOut(stderr, "hello", err); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "eddy hello: stopped")
	return nil
}

// serveHello serves the plaintext server configured by cfg until ctx is done, then shuts it down
// gracefully. Once the server listens, ready is called with its bound address.
func serveHello(ctx context.Context, cfg helloConfig, ready func(listening)) error {
	if cfg.baseline {
		return serveHelloBaseline(ctx, cfg, ready)
	}
	kind, err := eddy.ParseEngineKind(cfg.engine)
	if err != nil {
		return err
	}
	srv := &http1.Server{
		Addr:              cfg.addr,
		Engine:            kind,
		Loops:             cfg.loops,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if cfg.style == "native" {
		srv.Native = http1.NativeHandlerFunc(helloNative)
	} else {
		srv.Handler = helloMux()
	}
	if err := cfg.tls.start(srv); err != nil {
		srv.Close() // stops the worker pool the server made for its handlers
		return err
	}
	l := listening{Addr: srv.Addrs()[0], Engine: string(srv.EngineKind())} // the engine auto chose
	if srv.EngineKind() != eddy.EngineStd {
		l.Loops = cmp.Or(cfg.loops, runtime.GOMAXPROCS(0))
	}
	ready(l)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), helloStopTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		cerr := srv.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return stopTimedOut{helloStopTimeout}
		}
		return errors.Join(err, cerr)
	}
	return nil
}

// serveHelloBaseline is the comparison peer: net/http's own server with the same handler (and the
// same TLS: HTTP/1.1 only).
func serveHelloBaseline(ctx context.Context, cfg helloConfig, ready func(listening)) error {
	network, address, err := splitAddr(cfg.addr)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, address)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: helloMux(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// The connections that have sent nothing yet: net/http's Shutdown waits 5 s before it takes them
	// for idle, as long as helloStopTimeout, so the stop closes them itself, as eddy's engines do.
	var freshMu sync.Mutex
	fresh := make(map[net.Conn]struct{})
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		freshMu.Lock()
		defer freshMu.Unlock()
		if s == http.StateNew {
			fresh[c] = struct{}{}
		} else {
			delete(fresh, c)
		}
	}
	serve := func() error { return srv.Serve(ln) }
	if cfg.tls.on() {
		// The key pair is loaded here, before ready says the server listens (ServeTLS would load it
		// on its goroutine, after).
		cert, err := tls.LoadX509KeyPair(cfg.tls.cert, cfg.tls.key)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // no HTTP/2, as eddy
		serve = func() error { return srv.ServeTLS(ln, "", "") }
	}
	served := make(chan error, 1)
	go func() { served <- serve() }()
	ready(listening{Addr: ln.Addr(), Engine: "net/http"})
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), helloStopTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	tick := time.NewTicker(50 * time.Millisecond) // again, for one that came before the listener closed
	defer tick.Stop()
	for done := false; !done; {
		freshMu.Lock()
		for c := range fresh {
			c.Close()
		}
		freshMu.Unlock()
		select {
		case err = <-shut:
			done = true
		case <-tick.C:
		}
	}
	if err != nil {
		cerr := srv.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			err = stopTimedOut{helloStopTimeout}
		} else {
			err = errors.Join(err, cerr)
		}
	}
	<-served // http.ErrServerClosed
	return err
}

// helloNative answers on the event loop: GET and HEAD of / in place, allocating nothing. Every other
// request gets what the nethttp style and the baseline answer, net/http's ServeMux's own: 404 with
// its text body for another path, 405 with an Allow header and a text body for another method, and
// a redirect to the cleaned path for one such as // or /./ (the path is not the benchmark's, so
// these answers are made by the very mux of helloMux, which allocates).
func helloNative(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	// Origin form only: the mux redirects http://host, whose path Path gives as "/", to /.
	if m := r.MethodString(); r.Form == http1.FormOrigin && string(r.Path()) == "/" && (m == http.MethodGet || m == http.MethodHead) {
		w.AddHeader("Content-Type", "text/plain; charset=utf-8")
		w.WriteString(helloBody)
		return
	}
	req, err := helloNativeRequest(r)
	if err != nil {
		// A target net/http cannot parse (/%zz): the answer of http1 to a net/http handler's request.
		w.SetStatus(http.StatusBadRequest)
		w.AddHeader("Content-Type", "text/plain; charset=utf-8")
		w.WriteString("400 Bad Request: malformed request-target")
		w.CloseConnection()
		return
	}
	rw := &helloNativeWriter{w: w, h: make(http.Header)}
	helloMuxNative.ServeHTTP(rw, req)
	rw.WriteHeader(http.StatusOK) // a handler that wrote nothing answers 200, as in net/http
}

// helloMuxNative is the mux that answers the native style's requests other than GET and HEAD of /.
var helloMuxNative = helloMux()

// helloNativeRequest is the net/http request of r that a ServeMux needs: method, URL and host, the
// URL parsed from the target as net/http parses it (a CONNECT target is an authority).
func helloNativeRequest(r *http1.NativeRequest) (*http.Request, error) {
	target := string(r.Target)
	raw := target
	authority := r.MethodString() == http.MethodConnect && !strings.HasPrefix(raw, "/")
	if authority {
		raw = "http://" + raw
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return nil, err
	}
	if authority {
		u.Scheme = ""
	}
	host := u.Host // the authority of an absolute-form or authority-form target wins, as in net/http
	if host == "" {
		host = string(r.Host)
	}
	return &http.Request{Method: r.MethodString(), URL: u, RequestURI: target, Host: host, Header: make(http.Header)}, nil
}

// helloNativeWriter is the http.ResponseWriter that writes a ServeMux's answer into a ResponseBuffer.
type helloNativeWriter struct {
	w     *http1.ResponseBuffer
	h     http.Header
	wrote bool
}

func (rw *helloNativeWriter) Header() http.Header { return rw.h }

func (rw *helloNativeWriter) WriteHeader(code int) {
	if rw.wrote {
		return
	}
	rw.wrote = true
	rw.w.SetStatus(code)
	for _, name := range slices.Sorted(maps.Keys(rw.h)) { // in order, as net/http writes them
		for _, v := range rw.h[name] {
			rw.w.AddHeader(name, v)
		}
	}
}

func (rw *helloNativeWriter) Write(p []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	return rw.w.Write(p)
}

// helloMux is the same answer as an ordinary net/http handler. Setting Content-Type spares net/http
// the sniffing of the body.
func helloMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, helloBody)
	})
	return mux
}

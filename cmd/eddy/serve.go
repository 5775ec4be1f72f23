package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// serveCommand is "eddy serve": a static file server, http.FileServer on the engine's HTTP/1.1 server. It
// has http.Dir's rules (symbolic links followed, even out of the directory; dotfiles served; directory
// listings), which the README states.
var serveCommand = command{
	name:    "serve",
	summary: "serve the files of a directory over HTTP/1.1 (sendfile where the engine has it)",
	usage:   "eddy serve [--dir .] [--addr 127.0.0.1:8080] [--engine auto|epoll|uring|std] [--loops N] [--duration D] [--tls-cert F --tls-key F]",
	notes:   serveNotes,
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		var cfg serveConfig
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.StringVar(&cfg.dir, "dir", ".", "`directory` to serve")
		fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen `address`: "+addrForms+" (port 0 picks a free port)")
		fs.StringVar(&cfg.engine, "engine", "auto", "`engine`: auto, epoll, uring or std")
		fs.IntVar(&cfg.loops, "loops", 0, "number of event loops, up to 1024 (0: one per GOMAXPROCS); the std engine serves on goroutines, not loops, and warns of it")
		fs.DurationVar(&cfg.duration, "duration", 0, "stop by itself after this `duration` (0: run until SIGINT or SIGTERM)")
		cfg.tls.addFlags(fs)
		return fs, func(ctx context.Context, _, stderr io.Writer) error {
			cfg.loopsSet = len(flagsGiven(fs, "loops")) > 0
			return runServe(ctx, cfg, stderr)
		}
	},
}

// serveNotes is what "eddy help serve" says of http.Dir's rules, which the README states: a user
// reading only the command's help was not told that a link in the directory publishes its target.
const serveNotes = "It is net/http's http.FileServer(http.Dir(DIR)): ranges, HEAD and conditional requests\n" +
	"(If-Modified-Since, If-Range) are answered, and it follows symbolic links, including ones that\n" +
	"point outside DIR, serves dotfiles, and lists directories without an index.html: serve a\n" +
	"directory that holds only what may be published. On SIGINT or SIGTERM it stops accepting and\n" +
	"gives the responses in progress 10s to finish."

// serveConfig is the configuration of a file server.
type serveConfig struct {
	dir      string
	addr     string
	engine   string
	loops    int           // 0: the engine's default
	loopsSet bool          // --loops given: warned of on the std engine, which has no loops to serve on
	duration time.Duration // 0: until ctx is done
	tls      tlsFiles      // serve HTTPS
}

// serveStopTimeout bounds the graceful stop: the responses in progress get this long to finish (a large
// file to a slow client may need more), then the connections left are closed, and eddy serve says so
// (a variable for the tests).
var serveStopTimeout = 10 * time.Second

// runServe checks cfg, serves until ctx is done or cfg.duration has passed, and logs to stderr.
func runServe(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	if cfg.loops < 0 || cfg.loops > maxLoops {
		return usagef("serve", "--loops %d: want 0..%d", cfg.loops, maxLoops)
	}
	if cfg.duration < 0 {
		return usagef("serve", "--duration %v: want 0 or more", cfg.duration)
	}
	if _, err := eddy.ParseEngineKind(cfg.engine); err != nil {
		return usagef("serve", "--engine %q: want auto, epoll, uring or std", cfg.engine)
	}
	if err := cfg.tls.check("serve"); err != nil {
		return err
	}
	if err := checkAddr("serve", cfg.addr); err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("--dir %s: not a directory", cfg.dir)
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	err := serveFiles(ctx, cfg, log.New(stderr, "", 0), func(l listening) {
		if cfg.loopsSet && l.Engine == string(eddy.EngineStd) {
			warnLoopsOnStd(stderr, "serve", cfg.loops)
		}
		loops := ""
		switch l.Loops {
		case 0:
		case 1:
			loops = ", 1 loop"
		default:
			loops = fmt.Sprintf(", %d loops", l.Loops)
		}
		fmt.Fprintf(stderr, "eddy serve: serving %s on %s (engine %s%s)\n", cfg.dir, serveURL(l, cfg.tls.on()), l.Engine, loops)
	})
	if err = logStopTimedOut(stderr, "serve", err); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "eddy serve: stopped")
	return nil
}

// serveURL returns the address a browser would use, for the log line.
func serveURL(l listening, https bool) string {
	switch {
	case l.Addr.Network() == "unix":
		return "unix://" + l.Addr.String()
	case https:
		return "https://" + l.Addr.String() + "/"
	}
	return "http://" + l.Addr.String() + "/"
}

// serveFiles serves cfg.dir until ctx is done, then shuts the server down gracefully, waiting at most
// serveStopTimeout for the responses in progress: it returns stopTimedOut once it has closed the
// connections still open after that. Once the server listens, ready is called with its bound address.
// Server errors (such as a panic in a handler) go to errLog.
func serveFiles(ctx context.Context, cfg serveConfig, errLog *log.Logger, ready func(listening)) error {
	kind, err := eddy.ParseEngineKind(cfg.engine)
	if err != nil {
		return err
	}
	srv := &http1.Server{
		Addr:              cfg.addr,
		Handler:           http.FileServer(http.Dir(cfg.dir)),
		Engine:            kind,
		Loops:             cfg.loops,
		ErrorLog:          errLog,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if err := cfg.tls.start(srv); err != nil {
		srv.Close() // stops the worker pool the server made for its handlers
		return err
	}
	l := listening{Addr: srv.Addrs()[0], Engine: string(srv.EngineKind())}
	if l.Engine != string(eddy.EngineStd) {
		l.Loops = cfg.loops
		if l.Loops == 0 {
			l.Loops = runtime.GOMAXPROCS(0)
		}
	}
	ready(l)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), serveStopTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			// Said, as eddy echo and eddy hello say it: it used to say only "stopped", as after a
			// stop that had cut no response short.
			return stopTimedOut{serveStopTimeout}
		}
		return err
	}
	return nil
}

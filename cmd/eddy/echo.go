package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/eddyio/eddy"
)

// echoCommand is "eddy echo": an echo server on an eddy engine, or with --baseline on package net.
var echoCommand = command{
	name:    "echo",
	summary: "serve an echo server on an eddy engine (or on package net with --baseline)",
	usage:   "eddy echo [--addr 127.0.0.1:9000] [--engine auto|epoll|uring|std] [--loops N] [--baseline] [--duration D]",
	notes: "SIGUSR1 makes it collect garbage twice, return free memory to the system and print memory statistics,\n" +
		"for measurements of memory per idle connection.",
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		var cfg echoConfig
		fs := flag.NewFlagSet("echo", flag.ContinueOnError)
		fs.StringVar(&cfg.addr, "addr", "127.0.0.1:9000", "listen `address`: "+addrForms+" (port 0 picks a free port)")
		fs.StringVar(&cfg.engine, "engine", "auto", "`engine`: auto, epoll, uring or std")
		fs.IntVar(&cfg.loops, "loops", 0, "number of event loops, up to 1024 (0: one per GOMAXPROCS); the std engine serves on goroutines, not loops, and warns of it")
		fs.BoolVar(&cfg.baseline, "baseline", false, "serve with a goroutine per connection on package net instead of eddy (the comparison peer; --engine and --loops do not apply)")
		fs.DurationVar(&cfg.duration, "duration", 0, "stop by itself after this `duration` (0: run until SIGINT or SIGTERM)")
		return fs, func(ctx context.Context, _, stderr io.Writer) error {
			if err := baselineRefuses(fs, cfg.baseline, "echo", "engine", "loops"); err != nil {
				return err
			}
			cfg.loopsSet = len(flagsGiven(fs, "loops")) > 0
			return runEcho(ctx, cfg, stderr)
		}
	},
}

// echoConfig is the configuration of an echo server.
type echoConfig struct {
	addr     string
	engine   string
	loops    int  // 0: the engine's default
	loopsSet bool // --loops given: warned of on the std engine, which has no loops to serve on
	baseline bool
	duration time.Duration // 0: until ctx is done
}

// listening describes a running echo server, for the log line and for tests.
type listening struct {
	Addr   net.Addr
	Engine string // "epoll", "std", or "net" for the baseline
	Loops  int    // event loops; 0 for servers without loops (std, net)
}

// baselineBufferSize is the read buffer of each baseline connection: what a plain goroutine-per-connection
// echo server typically allocates.
const baselineBufferSize = 4 << 10

// runEcho checks cfg, serves until ctx is done or cfg.duration has passed, and logs to stderr.
func runEcho(ctx context.Context, cfg echoConfig, stderr io.Writer) error {
	if cfg.loops < 0 || cfg.loops > maxLoops {
		return usagef("echo", "--loops %d: want 0..%d", cfg.loops, maxLoops)
	}
	if cfg.duration < 0 {
		return usagef("echo", "--duration %v: want 0 or more", cfg.duration)
	}
	if _, err := eddy.ParseEngineKind(cfg.engine); err != nil {
		return usagef("echo", "--engine %q: want auto, epoll, uring or std", cfg.engine)
	}
	if err := checkAddr("echo", cfg.addr); err != nil {
		return err
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchMemSignal(ctx, stderr)
	err := serveEcho(ctx, cfg, func(l listening) {
		if cfg.loopsSet && l.Engine == string(eddy.EngineStd) {
			warnLoopsOnStd(stderr, "echo", cfg.loops)
		}
		switch l.Loops {
		case 0:
			fmt.Fprintf(stderr, "eddy echo: listening on %s (engine %s)\n", l.Addr, l.Engine)
		case 1:
			fmt.Fprintf(stderr, "eddy echo: listening on %s (engine %s, 1 loop)\n", l.Addr, l.Engine)
		default:
			fmt.Fprintf(stderr, "eddy echo: listening on %s (engine %s, %d loops)\n", l.Addr, l.Engine, l.Loops)
		}
	})
	if err = logStopTimedOut(stderr, "echo", err); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "eddy echo: stopped")
	return nil
}

// serveEcho serves an echo server configured by cfg until ctx is done, then stops it gracefully. Once the
// server listens, ready is called with its bound address (the real port when port 0 was asked for).
func serveEcho(ctx context.Context, cfg echoConfig, ready func(listening)) error {
	if cfg.baseline {
		return serveBaseline(ctx, cfg.addr, ready)
	}
	kind, err := eddy.ParseEngineKind(cfg.engine)
	if err != nil {
		return err
	}
	opts := []eddy.Option{eddy.WithEngine(kind), eddy.WithStopTimeout(echoStopTimeout)}
	loops := runtime.GOMAXPROCS(0)
	if cfg.loops > 0 {
		loops = cfg.loops
		opts = append(opts, eddy.WithLoops(cfg.loops))
	}
	h := &echoHandler{ready: func(e *eddy.Engine) {
		l := listening{Addr: e.Addrs()[0], Engine: string(e.Kind())}
		if e.Kind() != eddy.EngineStd {
			l.Loops = loops
		}
		ready(l)
	}}
	err = eddy.Serve(ctx, h, []string{cfg.addr}, opts...)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		// The stop's bound ran out (eddy.Serve stops with a context of its own, which is all that
		// can end with DeadlineExceeded once ctx is done): the engine closed the connections left.
		return stopTimedOut{echoStopTimeout}
	}
	return err
}

// echoStopTimeout bounds the graceful stop, eddy.Serve's: a peer that reads none of its echoes is
// waited for this long, then its connection is closed (a variable for the tests).
var echoStopTimeout = eddy.DefaultStopTimeout

// stopTimedOut is what a server returns when its graceful stop ran out of time and it closed the
// connections left: it did stop, as asked, so the command logs it and succeeds, as eddy serve does.
// It said "eddy: echo: context deadline exceeded" and exited 1.
type stopTimedOut struct{ after time.Duration }

func (e stopTimedOut) Error() string {
	return fmt.Sprintf("the graceful stop took longer than %v: the connections still open were closed", e.after)
}

// logStopTimedOut logs err on stderr for command name and returns nil when it is a stopTimedOut, and
// returns err otherwise.
func logStopTimedOut(stderr io.Writer, name string, err error) error {
	var st stopTimedOut
	if errors.As(err, &st) {
		fmt.Fprintf(stderr, "eddy %s: %v\n", name, err)
		return nil
	}
	return err
}

// echoHandler writes back every byte it receives. It is the whole server: the engine does the rest.
type echoHandler struct {
	eddy.BaseHandler
	ready func(*eddy.Engine)
}

// OnBoot reports the engine once its listener is open, so that the bound address can be logged.
func (h *echoHandler) OnBoot(e *eddy.Engine) error {
	h.ready(e)
	return nil
}

// OnData echoes what arrived. Next returns the engine's buffer and Write copies it into the output, which
// the loop flushes once at the end of its iteration.
func (h *echoHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// serveBaseline is the comparison peer: the echo server most Go programs would write, a goroutine per
// connection on package net. It serves until ctx is done, then closes the listener and every connection
// and waits for their goroutines.
func serveBaseline(ctx context.Context, addr string, ready func(listening)) error {
	network, address, err := splitAddr(addr)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, address)
	if err != nil {
		return err
	}
	ready(listening{Addr: ln.Addr(), Engine: "net"})

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // guards conns and closed
		conns  = make(map[net.Conn]struct{})
		closed bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		ln.Close()
	})
	defer stop()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Descriptor exhaustion and the like: pause instead of spinning, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		mu.Lock()
		if closed {
			mu.Unlock()
			c.Close()
			break
		}
		conns[c] = struct{}{}
		wg.Add(1)
		mu.Unlock()
		go func() {
			defer wg.Done()
			echoConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
	ln.Close()
	wg.Wait()
	return nil
}

// echoConn copies what c reads back to c until the peer closes or an error occurs. It uses its own read
// buffer rather than io.Copy, which would splice on Linux and measure something else than a plain server.
func echoConn(c net.Conn) {
	buf := make([]byte, baselineBufferSize)
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

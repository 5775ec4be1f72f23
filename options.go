package eddy

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"
)

// EngineKind names an engine implementation.
type EngineKind string

// The engines. EngineAuto picks the best one the platform offers: on Linux, uring when this process may
// use io_uring (the kernel has it, no sysctl, seccomp profile or memlock limit blocks it), and epoll
// otherwise, logging the reason at Info on the engine's logger; std elsewhere.
const (
	EngineAuto EngineKind = "auto"
	// EngineEpoll is the epoll engine: one epoll instance per loop (Linux only).
	EngineEpoll EngineKind = "epoll"
	// EngineStd is the portable engine, built on package net; it runs everywhere.
	EngineStd EngineKind = "std"
	// EngineUring is the io_uring engine: one ring per loop (Linux, where this process may use
	// io_uring).
	EngineUring EngineKind = "uring"
)

// ParseEngineKind returns the engine named s ("auto", "epoll", "std" or "uring"), or an error naming s.
func ParseEngineKind(s string) (EngineKind, error) {
	switch k := EngineKind(s); k {
	case EngineAuto, EngineEpoll, EngineStd, EngineUring:
		return k, nil
	}
	return "", fmt.Errorf("eddy: unknown engine %q (want auto, epoll, uring or std)", s)
}

// Default option values.
const (
	// DefaultReadBufferSize is the size of each loop's read buffer (WithReadBufferSize).
	DefaultReadBufferSize = 64 << 10
	// DefaultHighWater is the high water mark of a connection's queued output
	// (WithWriteBufferWaterMarks); the low water mark defaults to a quarter of it.
	DefaultHighWater = 4 << 20
	// DefaultStopTimeout bounds how long Serve waits for a graceful stop (WithStopTimeout).
	DefaultStopTimeout = 10 * time.Second
	// DefaultFlushTimeout bounds how long a graceful close waits for a peer that takes none of its
	// output (WithFlushTimeout).
	DefaultFlushTimeout = 10 * time.Second
	defaultTaskQueueCap = 1 << 16
)

// Option configures an Engine. Options are checked by New: a bad value is an error that names it.
type Option func(*options) error

// options is the resolved configuration of an engine.
type options struct {
	loops        int
	engine       EngineKind
	reusePort    bool
	sharePort    bool // WithReusePort(true) given: other SO_REUSEPORT sockets may bind the port too
	balance      Balance
	noDelay      bool
	keepAlive    time.Duration
	readBufSize  int
	highWater    int
	lowWater     int
	idleTimeout  time.Duration
	stopTimeout  time.Duration
	flushTimeout time.Duration
	taskQueueCap int
	logger       *slog.Logger
	listeners    []net.Listener // adopted (WithListeners, listeners.go)
}

func defaultOptions() options {
	return options{
		loops:        runtime.GOMAXPROCS(0),
		engine:       EngineAuto,
		reusePort:    true,
		noDelay:      true,
		readBufSize:  DefaultReadBufferSize,
		highWater:    DefaultHighWater,
		lowWater:     DefaultHighWater / 4,
		flushTimeout: DefaultFlushTimeout,
		stopTimeout:  DefaultStopTimeout,
		taskQueueCap: defaultTaskQueueCap,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithLoops sets the number of event loops (default: GOMAXPROCS). It must be from 1 to 1024.
func WithLoops(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 1024 {
			return fmt.Errorf("eddy: bad option WithLoops(%d): want 1..1024", n)
		}
		o.loops = n
		return nil
	}
}

// WithEngine chooses the engine (default EngineAuto). Asking for an engine the platform lacks makes New
// fail with an error that says why.
func WithEngine(k EngineKind) Option {
	return func(o *options) error {
		if _, err := ParseEngineKind(string(k)); err != nil {
			return err
		}
		o.engine = k
		return nil
	}
}

// WithReusePort sets whether each loop gets its own listening socket with SO_REUSEPORT, so the kernel
// spreads connections across loops (default true). When false, one loop accepts and hands connections to
// the loops in turn. Unix sockets always use a single acceptor.
//
// By default the port is the engine's alone: Start fails with "address already in use", as net.Listen
// does, when any socket listens there already, another process's SO_REUSEPORT group included (the
// loops' own group is formed after that check). Given explicitly, WithReusePort(true) also lets the
// engine's listeners join other SO_REUSEPORT sockets of the same user on the port, as the kernel
// allows: two processes then share the connections, which is how a new process can take over a port
// before the old one stops. The std engine listens through package net and never shares.
func WithReusePort(on bool) Option {
	return func(o *options) error { o.reusePort, o.sharePort = on, on; return nil }
}

// maxKeepAlive is the longest keep-alive period: Linux refuses TCP_KEEPIDLE and TCP_KEEPINTVL above
// 32767 seconds (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL).
const maxKeepAlive = 32767 * time.Second

// WithTCPNoDelay sets TCP_NODELAY on accepted and dialled TCP connections (default true, as in package
// net); false clears it, on a connection accepted from an adopted listener (WithListeners) that had it
// set too.
func WithTCPNoDelay(on bool) Option {
	return func(o *options) error { o.noDelay = on; return nil }
}

// WithTCPKeepAlive enables TCP keep-alive probes on accepted and dialled TCP connections with the given
// idle period and interval, rounded up to whole seconds, and 9 probes, as net.KeepAliveConfig with
// Count 0 sets them; 0 turns keep-alive off (the default), on a connection accepted from an adopted
// listener (WithListeners) that had SO_KEEPALIVE set too. Unlike package net, whose Listener.Accept
// and Dialer turn keep-alive on by default (15 s idle, 15 s interval, 9 probes), the engines leave it
// off unless asked. Negative values and values above 32767 s (Linux's limit for both settings) are an
// error.
func WithTCPKeepAlive(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("eddy: bad option WithTCPKeepAlive(%v): negative", d)
		}
		if d > maxKeepAlive {
			return fmt.Errorf("eddy: bad option WithTCPKeepAlive(%v): above %v, the most the kernel takes", d, maxKeepAlive)
		}
		o.keepAlive = d
		return nil
	}
}

// WithReadBufferSize sets the size of each loop's read buffer, the most a single read takes from one
// connection (default 64 KiB; 512 B to 16 MiB).
func WithReadBufferSize(n int) Option {
	return func(o *options) error {
		if n < 512 || n > 16<<20 {
			return fmt.Errorf("eddy: bad option WithReadBufferSize(%d): want 512..16777216", n)
		}
		o.readBufSize = n
		return nil
	}
}

// WithWriteBufferWaterMarks sets the back-pressure thresholds of queued output per connection: above high
// bytes the engine stops reading from the connection, and it resumes once the queue drains to low bytes or
// less (defaults: low 1 MiB, high 4 MiB). It requires 0 <= low < high.
func WithWriteBufferWaterMarks(low, high int) Option {
	return func(o *options) error {
		if low < 0 || high <= low {
			return fmt.Errorf("eddy: bad option WithWriteBufferWaterMarks(%d, %d): want 0 <= low < high", low, high)
		}
		o.lowWater, o.highWater = low, high
		return nil
	}
}

// WithIdleTimeout closes connections that have neither read nor written anything for d (default 0: never).
// Conn.SetIdleTimeout overrides it per connection.
func WithIdleTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("eddy: bad option WithIdleTimeout(%v): negative", d)
		}
		o.idleTimeout = d
		return nil
	}
}

// WithStopTimeout bounds how long Serve waits for a graceful stop once its context is done (default 10s).
func WithStopTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("eddy: bad option WithStopTimeout(%v): want > 0", d)
		}
		o.stopTimeout = d
		return nil
	}
}

// WithFlushTimeout bounds how long a graceful close (Conn.Close, Engine.Stop) waits for a peer that
// takes none of the output still queued (default 10s). The wait goes on, however long, while the peer
// reads: the engine watches the socket's send queue, which moves each time the peer's receiver opens its
// window again. A peer whose reads leave it still for d (a dead one, or one reading less than a window
// step in d: a sixteenth of its receive buffer, up to 2 MiB on Linux) is reset, and OnClose reports
// ErrFlushTimeout; an empty send queue is never the peer's fault (the peer took all it was sent, and
// the rest waits on the engine's writer, a late goroutine on std, say). Where the kernel cannot tell the send queue (std off Linux), d bounds
// the time since the engine last wrote.
func WithFlushTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("eddy: bad option WithFlushTimeout(%v): want > 0", d)
		}
		o.flushTimeout = d
		return nil
	}
}

// WithTaskQueueCapacity bounds each loop's queue of work from other goroutines (Conn.AsyncWrite,
// Conn.Execute); beyond it those calls return ErrQueueFull (default 65536). Loop.Execute, Loop.AfterFunc,
// Close and the engine's own work are never refused for it. The std engine, where each connection runs
// its own tasks, applies the bound per connection. The bound counts calls, not bytes: a broadcast that
// makes one AsyncWrite per message and receiver can pass it in one burst (docs/engine.md, "Fan-out").
func WithTaskQueueCapacity(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("eddy: bad option WithTaskQueueCapacity(%d): want >= 1", n)
		}
		o.taskQueueCap = n
		return nil
	}
}

// WithLogger sets the logger for engine events such as accept back-off (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("eddy: bad option WithLogger(nil)")
		}
		o.logger = l
		return nil
	}
}

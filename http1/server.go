package http1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/pool"
)

// ErrServerClosed is returned by ListenAndServe and Serve after a call to Shutdown or Close. It is
// net/http's own ErrServerClosed, so code that tests for it keeps working after switching servers.
var ErrServerClosed = http.ErrServerClosed

// DefaultPoolSize is the most net/http handlers a Server runs at once when it makes its own pool
// (Pool is nil and PoolSize is 0). net/http runs one goroutine per connection without a bound;
// the pool bounds them, and its workers above GOMAXPROCS exit when idle.
const DefaultPoolSize = 10_000

// DefaultNativeMaxBodyBytes bounds request bodies for native handlers, which receive the whole body
// at once, when Server.MaxBodyBytes is zero.
const DefaultNativeMaxBodyBytes = 4 << 20

// maxPostHandlerReadBytes is how much of a request body the handler left unread the server reads
// and drops to keep the connection alive, as net/http does; past it the connection is closed.
const maxPostHandlerReadBytes = 256 << 10

// Server is an HTTP/1.1 server on an eddy engine, shaped like net/http's Server: a program that uses
// http.Server switches by changing the type, and its handlers run unchanged.
//
// Requests go either to Handler, a net/http Handler run on a worker pool with a real *http.Request
// and http.ResponseWriter, or, when Native is set, to a NativeHandler run on the event loop with no
// goroutine handoff. Connections are served by the engine's loops, so an idle keep-alive connection
// costs no goroutine and no buffer.
//
// The zero value serves http.DefaultServeMux on ":http" with the default engine. Set the fields
// before starting the server and do not change them afterwards.
//
// Server is also an eddy.Handler (OnOpen, OnData, OnClose; and OnBoot, which calls BaseContext),
// so it can be served by an engine the caller builds with eddy.New; Shutdown and Close then act
// only on requests, and the caller stops the engine.
type Server struct {
	// Addr is the address to listen on, "host:port" as for net/http (":http" when empty), or any
	// address eddy.New accepts, such as "tcp6://[::1]:8080" or "unix:///run/app.sock".
	Addr string

	// Handler handles requests on the worker pool; nil means http.DefaultServeMux.
	Handler http.Handler

	// Native, when set, handles every request on the event loop instead of Handler. See
	// NativeHandler for when to choose it.
	Native NativeHandler

	// TLSConfig configures ListenAndServeTLS and ServeTLS (a clone is used, with the certificate
	// files added); ListenAndServe, Serve and Start ignore it.
	TLSConfig *tls.Config

	// DisableGeneralOptionsHandler, if true, passes "OPTIONS *" requests to the handler; otherwise
	// they are answered with 200 and Content-Length: 0, as net/http does.
	DisableGeneralOptionsHandler bool

	// ReadHeaderTimeout bounds the time from the first byte of a request (from the accept, for the
	// first request of a connection) to the end of its head; a connection that exceeds it is closed
	// without an answer. Zero means ReadTimeout; if both are zero there is no bound.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: body reads after it fail, and
	// the drain of a body the handler left unread stops at it, closing the connection. A net/http
	// handler may move it with http.ResponseController.SetReadDeadline, for its reads and for
	// the drain, as with net/http.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request head to the end of the response:
	// writes after it fail and the connection is closed. For a net/http handler every batch but
	// the last (up to 32 KiB) must have reached the kernel by then; a native response of 32 KiB
	// or more must have reached it whole, and one whose handler (or body) took the whole timeout
	// is not sent. A response that misses it ends the connection at once (eddy.Conn.Abort): the
	// output not yet sent is dropped and the client gets a reset, as net/http's failed write
	// closes the socket; a graceful close would wait for a client that reads slowly. When
	// everything written has reached the kernel as the deadline passes (a write that fails
	// before it starts, or one whose acknowledgement is still on its way from the loop: the loop
	// looks), the close is graceful, as net/http's: the client reads what was sent and then EOF.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection waits for the next request; zero means
	// ReadTimeout, and if both are zero it waits for ever.
	IdleTimeout time.Duration

	// MaxHeaderBytes bounds the request head, request line included (default
	// http.DefaultMaxHeaderBytes, 1 MiB), with net/http's slack of 4096 bytes (it reads that much
	// more, the size of its buffer): a head net/http serves is served. A longer head is answered
	// with 431. The request line alone is bounded by DefaultMaxRequestLineBytes (414). As in
	// net/http, the number of header fields is not bounded otherwise (the Parser's MaxHeaders is
	// not used).
	MaxHeaderBytes int
	// MaxBodyBytes bounds request bodies (an eddy addition; net/http has no server-wide bound). A
	// Content-Length above it is answered with 413 without calling the handler; a chunked body
	// that grows past it makes Request.Body.Read fail with *http.MaxBytesError, and if the handler
	// then writes nothing the answer is 413. Zero means no bound for net/http handlers and
	// DefaultNativeMaxBodyBytes for native ones; negative means no bound for either.
	MaxBodyBytes int64

	// ErrorLog receives the server's errors (panics, bad response headers) when Logger is nil; if
	// both are nil, the standard logger does.
	ErrorLog *log.Logger
	// Logger receives the server's errors as structured records; it takes precedence over ErrorLog
	// and also receives the engine's events (accept back-off and the like).
	Logger *slog.Logger

	// Engine chooses the eddy engine (default eddy.EngineAuto: uring on Linux where io_uring is
	// usable, else epoll; std elsewhere).
	Engine eddy.EngineKind
	// Loops is the number of event loops (default GOMAXPROCS).
	Loops int
	// EngineOptions are passed to eddy.New after those the fields above imply.
	EngineOptions []eddy.Option

	// Pool runs the net/http handlers. When nil, the server makes a pool of PoolSize workers
	// and stops it with the server; a Pool given here is left running. When the pool is full a
	// request is answered with 503 and the connection closed.
	Pool *pool.Pool
	// PoolSize is the most handlers the server's own pool runs at once (DefaultPoolSize when
	// zero); its workers above GOMAXPROCS exit after a second without work.
	PoolSize int

	// BaseContext, as in net/http, returns the base context of the requests' contexts (the
	// default is context.Background()); it must not return nil (the method that starts the server
	// panics then, as net/http's Serve does, the engine stopped). It is called once, as the engine
	// starts, once it listens and before it serves a connection (OnBoot). Its listener is the one
	// given to Serve or ServeTLS (the one the engine adopted, not a TLS listener over it); Start,
	// ListenAndServe, StartTLS and ListenAndServeTLS have no net.Listener (each loop accepts on
	// a socket of its own), so they pass one whose Addr is the address the server listens on,
	// with the real port, and whose Accept and Close fail. So does the engine the caller made
	// when the Server is its eddy.Handler (its start fails if BaseContext does); if the Server is
	// inside a handler of the caller's that does not pass OnBoot on, BaseContext is called with a
	// nil listener, on the first connection.
	BaseContext func(net.Listener) context.Context

	// ConnContext, as in net/http, returns the context of a new connection, the parent of its
	// requests' contexts (net/http handlers' r.Context(); native requests have none), from ctx,
	// which descends from BaseContext's and carries http.ServerContextKey; it must not return nil
	// (it panics then, as net/http's Serve does). It is called once per connection, as the
	// connection opens (for TLS, once its handshake is done), on the connection's event loop: it
	// must not block. The net.Conn is the one ConnState is given and
	// Hijack returns: its LocalAddr and RemoteAddr are the connection's, and Close closes the
	// connection (gracefully, after what was written); until a handler hijacks the connection its
	// bytes are the server's, so Read, Write, CloseWrite and the Set*Deadline methods fail with an
	// error that says so. It is neither a *net.TCPConn nor a *tls.Conn.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// ConnState, as in net/http, is called when a connection changes state (see http.ConnState):
	// StateNew as it opens (after ConnContext; for TLS, once its handshake is done, so a
	// connection whose handshake fails is not reported), StateActive once a request head has been
	// read (or bytes of one that is refused), before the handler runs, StateIdle once the
	// response is written to the connection and the connection waits for the next request (also
	// between pipelined requests), and at last StateHijacked (when a handler hijacks it; nothing
	// follows) or StateClosed; once the net.Conn it is given is closed, only StateClosed (or
	// StateHijacked) follows, as in net/http, whose reads and writes fail then. It is called on
	// the connection's event loop, for net/http handlers and native ones alike, so it must not
	// block; each connection has one net.Conn, the same in every call (see ConnContext).
	ConnState func(net.Conn, http.ConnState)

	initOnce  sync.Once
	cfg       config
	baseOnce  sync.Once    // BaseContext is called (setBaseContext)
	serveLn   net.Listener // the listener given to Serve, for BaseContext
	basePanic *any         // what BaseContext panicked with in OnBoot, for the start to panic with

	inShutdown atomic.Bool
	noKeep     atomic.Bool  // SetKeepAlivesEnabled(false)
	active     atomic.Int64 // requests begun and not yet answered in full
	hijackers  atomic.Int64 // handlers running that have hijacked their connection
	drained    chan struct{}
	lastBusy   atomic.Int64 // when a 503 for a full pool was last logged
	handoffs   handoffs

	mu         sync.Mutex
	engine     *eddy.Engine
	closed     bool
	hardClosed bool                 // Close was called
	done       chan struct{}        // closed by the first Shutdown or Close
	stopCancel []context.CancelFunc // of the engine stops Shutdown runs: Close forces them
	onShutdown []func()
}

// config holds the values resolved from the fields when the server first runs.
type config struct {
	handler        http.Handler
	described      *http.Server // the request contexts' http.ServerContextKey (describe)
	native         NativeHandler
	pool           *pool.Pool
	ownPool        bool
	headerTimeout  time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	idleTimeout    time.Duration
	maxHeaderBytes int
	maxBody        int64 // for net/http handlers; 0: none
	maxNativeBody  int64
	base           time.Time
	hooked         bool            // ConnContext or ConnState is set: connections are hookedConns
	srvCtx         context.Context // BaseContext's with http.ServerContextKey (serverContext)
	baseReady      chan struct{}   // closed once srvCtx is set; nil when set by init (no BaseContext)
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		c := &s.cfg
		c.handler = s.Handler
		if c.handler == nil {
			c.handler = http.DefaultServeMux
		}
		c.native = s.Native
		c.pool = s.Pool
		if c.pool == nil && c.native == nil {
			size := s.PoolSize
			if size <= 0 {
				size = DefaultPoolSize
			}
			n := runtime.GOMAXPROCS(0)
			c.pool = pool.New(pool.WithWorkers(size), pool.WithMinWorkers(min(n, size)))
			c.ownPool = true
		}
		c.readTimeout = max(s.ReadTimeout, 0)
		c.headerTimeout = s.ReadHeaderTimeout
		if c.headerTimeout <= 0 {
			c.headerTimeout = c.readTimeout
		}
		c.writeTimeout = max(s.WriteTimeout, 0)
		c.idleTimeout = s.IdleTimeout
		if c.idleTimeout <= 0 {
			c.idleTimeout = c.readTimeout
		}
		c.maxHeaderBytes = s.MaxHeaderBytes
		if c.maxHeaderBytes <= 0 {
			c.maxHeaderBytes = http.DefaultMaxHeaderBytes
		}
		c.maxHeaderBytes = min(c.maxHeaderBytes, maxHeaderBytesCap) + 4096 // net/http's slack (MaxHeaderBytes)
		switch {
		case s.MaxBodyBytes > 0:
			c.maxBody, c.maxNativeBody = s.MaxBodyBytes, s.MaxBodyBytes
		case s.MaxBodyBytes == 0:
			c.maxNativeBody = DefaultNativeMaxBodyBytes
		}
		c.base = time.Now()
		c.described = s.describe()
		c.hooked = s.ConnContext != nil || s.ConnState != nil
		if s.BaseContext == nil {
			c.srvCtx = context.WithValue(context.Background(), http.ServerContextKey, c.described)
		} else {
			c.baseReady = make(chan struct{})
		}
		s.drained = make(chan struct{}, 1)
		s.mu.Lock()
		if s.done == nil {
			s.done = make(chan struct{})
		}
		s.mu.Unlock()
	})
}

// now returns the server's monotonic clock in nanoseconds.
func (s *Server) now() int64 { return int64(time.Since(s.cfg.base)) }

// Start opens the listeners and starts serving in the background; it returns once the server
// accepts connections. It is ListenAndServe without the wait, for programs and tests that go on
// to do other work; Shutdown or Close ends it.
func (s *Server) Start() error {
	addr := s.Addr
	if addr == "" {
		addr = ":http"
	}
	return s.start(addr)
}

// start starts the engine on addr (none when empty) and the adopted listeners lns.
func (s *Server) start(addr string, lns ...net.Listener) error {
	return s.startWith(s, addr, lns...)
}

// startWith starts the engine with h, the server itself or a TLS layer over it. BaseContext is
// called as it starts (OnBoot); if it fails there, its panic goes on here, the engine stopped.
func (s *Server) startWith(h eddy.Handler, addr string, lns ...net.Listener) error {
	err := s.startEngine(h, addr, lns...)
	if p := s.basePanic; p != nil {
		s.basePanic = nil
		panic(*p)
	}
	return err
}

// startEngine starts the engine with h.
func (s *Server) startEngine(h eddy.Handler, addr string, lns ...net.Listener) error {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.engine != nil {
		return errors.New("http1: Server already started")
	}
	if len(lns) > 0 {
		s.serveLn = lns[0] // for BaseContext (OnBoot)
	}
	opts := make([]eddy.Option, 0, 3+len(s.EngineOptions))
	if s.Engine != "" {
		opts = append(opts, eddy.WithEngine(s.Engine))
	}
	if s.Loops > 0 {
		opts = append(opts, eddy.WithLoops(s.Loops))
	}
	if s.Logger != nil {
		opts = append(opts, eddy.WithLogger(s.Logger))
	}
	if len(lns) > 0 {
		opts = append(opts, eddy.WithListeners(lns...))
	}
	opts = append(opts, s.EngineOptions...)
	var addrs []string
	if addr != "" {
		addrs = []string{addr}
	}
	e, err := eddy.New(h, addrs, opts...)
	if err != nil {
		return err
	}
	if err := e.Start(); err != nil {
		return err
	}
	s.engine = e
	return nil
}

// ListenAndServe listens on Addr and serves until Shutdown or Close, then returns
// ErrServerClosed; any other error means the server could not start. A Server can be started
// once.
func (s *Server) ListenAndServe() error {
	if err := s.Start(); err != nil {
		return err
	}
	<-s.done
	return ErrServerClosed
}

// Serve serves on ln, then returns ErrServerClosed after Shutdown or Close; any other error means
// the server could not start. As net/http's Serve, it closes ln in every case.
//
// The engine adopts ln's socket (eddy.WithListeners): it accepts on it without closing it and
// listening again, so no other process can take the port in between; one loop accepts and hands
// the connections to the others. Only *net.TCPListener and *net.UnixListener are accepted, since a
// wrapped listener's behaviour (TLS, limits) would be lost.
func (s *Server) Serve(ln net.Listener) error {
	// As net/http's Serve: ErrServerClosed after Shutdown or Close, whatever the listener.
	err := s.closedErr()
	if err == nil {
		err = checkListener(ln)
	}
	if err == nil {
		err = s.start("", ln)
	}
	if err != nil {
		ln.Close() // the engine closes ln once it owns it; before that, an error leaves it to us
		return err
	}
	<-s.done
	return ErrServerClosed
}

// closedErr returns ErrServerClosed once Shutdown or Close has been called, nil before: net/http's
// ListenAndServe, ListenAndServeTLS and Serve look at that before anything else.
func (s *Server) closedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	return nil
}

// checkListener accepts the listeners an engine can adopt.
func checkListener(ln net.Listener) error {
	switch ln.(type) {
	case *net.TCPListener, *net.UnixListener:
		return nil
	}
	return fmt.Errorf("http1: Serve needs a *net.TCPListener or *net.UnixListener, not %T", ln)
}

// Addrs returns the addresses the server listens on, with the real port where port 0 was asked
// for; nil before the server has started.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.engine == nil {
		return nil
	}
	return s.engine.Addrs()
}

// EngineKind returns the engine the server runs on (the one EngineAuto picked), or "" before the
// server has started.
func (s *Server) EngineKind() eddy.EngineKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.engine == nil {
		return ""
	}
	return s.engine.Kind()
}

// SetKeepAlivesEnabled controls whether connections are kept alive after a response (default
// true). When false, every response carries "Connection: close".
func (s *Server) SetKeepAlivesEnabled(v bool) { s.noKeep.Store(!v) }

// RegisterOnShutdown registers fn to run, in its own goroutine, when Shutdown begins: once, on the
// first Shutdown, and not on a Shutdown after Close (net/http runs it on each Shutdown call).
func (s *Server) RegisterOnShutdown(fn func()) {
	s.mu.Lock()
	s.onShutdown = append(s.onShutdown, fn)
	s.mu.Unlock()
}

// beginClose marks the server closed and returns the engine, whether this was the first Shutdown
// or Close, and the hooks to run.
func (s *Server) beginClose() (*eddy.Engine, bool, []func()) {
	s.init()
	s.inShutdown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.closed
	if first {
		s.closed = true
		close(s.done)
	}
	return s.engine, first, s.onShutdown
}

// Shutdown stops the server gracefully, as net/http's Shutdown does: ListenAndServe returns at
// once, the listeners close (new connections are refused by the kernel), new requests on open
// connections are refused (a request arriving on an idle connection closes it), and requests in
// flight run to their end and get their whole response, with "Connection: close". Once they are
// done the engine stops, flushing what was written and closing every connection. If ctx ends
// first, Shutdown returns its error and leaves the server draining; call Close to end it at once.
// After Close, Shutdown returns nil at once, as net/http's does: Close has ended the connections,
// and handlers still running (their contexts cancelled) are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	hard := s.hardClosed
	s.mu.Unlock()
	if hard {
		return nil
	}
	e, first, hooks := s.beginClose()
	if first {
		if e != nil {
			e.StopAccepting() // ErrEngineStopped only if Close came first, which is fine
		}
		for _, fn := range hooks {
			go fn()
		}
	}
	if err := s.waitIdle(ctx); err != nil {
		return err
	}
	if e == nil {
		return s.stopPool(ctx)
	}
	sctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.stopCancel = append(s.stopCancel, cancel)
	s.mu.Unlock()
	defer cancel()
	err := e.Stop(sctx)
	if s.hijackers.Load() > 0 && s.cfg.ownPool {
		// Handlers of hijacked connections are not waited for, as net/http's Shutdown does not
		// wait for them: the pool stops once they return. No other handler runs now (waitIdle),
		// and no request begins.
		go s.cfg.pool.Stop(context.Background())
		return err
	}
	if perr := s.stopPool(ctx); err == nil {
		err = perr
	}
	return err
}

// waitIdle waits until no request is in flight, or until ctx is done. It polls like net/http, and
// is also woken by the last request to end.
func (s *Server) waitIdle(ctx context.Context) error {
	poll := time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for s.active.Load() > 0 {
		select {
		case <-s.drained:
		case <-t.C:
			poll = min(2*poll, 500*time.Millisecond)
			t.Reset(poll)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close closes the server at once, as net/http's Close does: listeners and connections are closed,
// responses in progress are cut, and the request contexts of running handlers are cancelled
// (handlers are not interrupted otherwise). ListenAndServe returns ErrServerClosed.
//
// Each connection, idle or with a request in progress, gets a plain close, as net/http's Close gives it
// (net.Conn.Close): the client reads what was sent to it, then EOF (a reset when it had sent bytes the
// server had not read, which the kernel answers so, as with net/http). One difference: a connection
// with response bytes queued that its socket has not taken yet (a client that reads slowly or not at
// all) is reset on TCP, so that the client cannot take the part it got for a whole response, where
// net/http drops the bytes still in its buffers and closes plainly. Close does not wait for those bytes
// (Engine.Stop with a context done).
func (s *Server) Close() error {
	e, _, _ := s.beginClose()
	s.mu.Lock()
	s.hardClosed = true
	for _, cancel := range s.stopCancel {
		cancel() // a Shutdown stopping the engine now forces the stop
	}
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e != nil {
		if err := e.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	s.stopPool(ctx)
	return nil
}

// stopPool stops the pool the server made, if any.
func (s *Server) stopPool(ctx context.Context) error {
	if !s.cfg.ownPool {
		return nil
	}
	err := s.cfg.pool.Stop(ctx)
	var se *pool.StopError
	if errors.As(err, &se) && ctx.Err() != nil && se.Dropped == 0 {
		return nil // only running handlers were left, and Close does not wait for them
	}
	return err
}

// requestBegun counts a request in flight. It reports false, having uncounted it, when the server
// is shutting down: counting before checking means Shutdown cannot miss a request that begins
// while it waits.
func (s *Server) requestBegun() bool {
	s.active.Add(1)
	if s.inShutdown.Load() {
		s.requestEnded()
		return false
	}
	return true
}

func (s *Server) requestEnded() {
	if s.active.Add(-1) == 0 && s.inShutdown.Load() {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}

// keepAlives reports whether responses may keep their connection open.
func (s *Server) keepAlives() bool { return !s.noKeep.Load() && !s.inShutdown.Load() }

// describe returns the value of http.ServerContextKey in the contexts of requests: a net/http
// Server that describes s (its address, handler, timeouts and head limit, with an ErrorLog that
// logs as s does) and never runs. Code running under a server looks for the key: without it,
// httputil.ReverseProxy takes itself for running outside one and, when the backend's body fails
// midway, returns normally rather than panicking with http.ErrAbortHandler, so a chunked
// response reached the client ended cleanly, cut short without a sign.
func (s *Server) describe() *http.Server {
	return &http.Server{
		Addr:                         s.Addr,
		Handler:                      s.cfg.handler,
		DisableGeneralOptionsHandler: s.DisableGeneralOptionsHandler,
		TLSConfig:                    s.TLSConfig,
		ReadTimeout:                  s.ReadTimeout,
		ReadHeaderTimeout:            s.ReadHeaderTimeout,
		WriteTimeout:                 s.WriteTimeout,
		IdleTimeout:                  s.IdleTimeout,
		MaxHeaderBytes:               s.MaxHeaderBytes,
		ErrorLog:                     log.New(serverLog{s}, "", 0),
	}
}

// serverLog writes the lines of a log.Logger to the server's log (logf).
type serverLog struct{ s *Server }

func (w serverLog) Write(p []byte) (int, error) {
	w.s.logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// logf reports an error of the server.
func (s *Server) logf(format string, args ...any) {
	switch {
	case s.Logger != nil:
		s.Logger.Error(fmt.Sprintf(format, args...))
	case s.ErrorLog != nil:
		s.ErrorLog.Printf(format, args...)
	default:
		log.Printf(format, args...)
	}
}

// OnOpen starts serving a connection; it is part of the eddy.Handler interface.
func (s *Server) OnOpen(c eddy.Conn) {
	s.init()
	if s.inShutdown.Load() {
		c.Close()
		return
	}
	sc := s.newConn(c)
	c.SetContext(sc)
	sc.open()
}

// OnData serves the bytes that arrived on c; it is part of the eddy.Handler interface.
func (s *Server) OnData(c eddy.Conn) {
	sc, ok := c.Context().(*conn)
	if !ok {
		c.Discard(-1)
		return
	}
	sc.serve()
}

// OnClose ends a connection: a request in flight has its context cancelled and its body fails.
// It is part of the eddy.Handler interface.
func (s *Server) OnClose(c eddy.Conn, err error) {
	sc, ok := c.Context().(*conn)
	if !ok {
		return
	}
	sc.closed(err)
	c.SetContext(nil)
}

// OnPeerClosed keeps a connection open for writing when the client shuts down its sending side
// while a net/http handler serves its request, as net/http does: the request's context is
// cancelled, but the answer, and those of requests pipelined before the FIN, are still sent. It is
// part of the eddy.HalfCloseHandler interface.
func (s *Server) OnPeerClosed(c eddy.Conn) bool {
	sc, ok := c.Context().(*conn)
	return ok && sc.peerClosed()
}

// OnBoot calls BaseContext as the engine starts, before any connection is served; it is part of
// the eddy.BootHandler interface. Its listener is the one given to Serve, or one that tells where
// the engine listens (see BaseContext).
func (s *Server) OnBoot(e *eddy.Engine) error {
	s.init()
	if s.BaseContext == nil {
		return nil
	}
	ln := s.serveLn
	if ln == nil {
		if as := e.Addrs(); len(as) > 0 {
			ln = engineListener{as[0]}
		}
	}
	return s.setBaseContext(ln)
}

var (
	_ eddy.Handler          = (*Server)(nil)
	_ eddy.HalfCloseHandler = (*Server)(nil)
	_ eddy.BootHandler      = (*Server)(nil)
)

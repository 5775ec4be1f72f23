package http1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/future"
)

// Defaults of a Transport's fields.
const (
	// DefaultMaxIdleConnsPerHost is the most idle keep-alive connections a Transport keeps per host
	// when MaxIdleConnsPerHost is zero. It is higher than net/http's 2 because an idle connection
	// costs a Transport no goroutine and no buffer.
	DefaultMaxIdleConnsPerHost = 64
	// DefaultIdleConnTimeout is how long an idle keep-alive connection is kept when IdleConnTimeout
	// is zero, as in net/http's DefaultTransport.
	DefaultIdleConnTimeout = 90 * time.Second
	// DefaultMaxResponseHeaderBytes bounds a response head when MaxResponseHeaderBytes is zero.
	// net/http's Transport allows 10 MiB; a head costs several times its size while it is read
	// (docs/client.md, "Limits and known costs").
	DefaultMaxResponseHeaderBytes = 1 << 20
)

// ErrTransportClosed is the error of requests made on a Transport after Close, and of those that
// Close interrupted.
var ErrTransportClosed = errors.New("http1: Transport closed")

// Transport is an HTTP/1.1 client on eddy's event loops: an http.RoundTripper, so it serves as the
// Transport of an http.Client, and an asynchronous one, whose RoundTripAsync returns a future.
//
// Connections are kept alive and reused per host, as with net/http's Transport, but they live on the
// event loops of an eddy engine (dial-only, made on first use): a connection costs no goroutine, an
// idle one no buffer either, and reading a response takes no goroutine until something reads its
// body. A request body is written by a goroutine of its own while it lasts (bodies of up to 16 KiB
// that can be replayed, as http.NewRequest makes them from in-memory readers, are sent with the
// head). A response body is passed to its reader through a 64 KiB pipe: past that, the connection
// stops reading and TCP flow control holds the server back; once the body has arrived in full, the
// connection goes back to the pool even if the body has not been read yet.
//
// "http" and "https" URLs are supported; no proxies, no HTTP/2, no transparent gzip (net/http adds
// Accept-Encoding: gzip and decompresses; here the body is what the server sent). A request whose
// reused connection ended by the server's doing before any byte of the response arrived is sent
// again, on another connection, when it is idempotent (GET, HEAD, OPTIONS, TRACE, or an
// Idempotency-Key or X-Idempotency-Key header) and its body, if any, can be sent again (one sent
// with the head, or a streamed one whose request has GetBody, called then for a new body, as
// net/http's Transport does), up to 8 times while the connections that die under it are reused ones
// (docs/client.md); one that never reached a connection is always retried.
//
// The zero value is ready to use. Set the fields before the first request and do not change them
// afterwards. Call Close when done with it, which stops its engine.
type Transport struct {
	// MaxIdleConnsPerHost bounds the idle keep-alive connections kept per host:port
	// (DefaultMaxIdleConnsPerHost when zero; negative keeps none).
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds the connections per host:port, dialling, active and idle; requests
	// beyond it wait, in order, for one to become free. Zero means no bound.
	MaxConnsPerHost int
	// IdleConnTimeout closes a keep-alive connection that stayed idle that long
	// (DefaultIdleConnTimeout when zero; negative means never).
	IdleConnTimeout time.Duration
	// ResponseHeaderTimeout, if positive, bounds the wait for a response head once the request,
	// body included, has been written (as net/http's); the request then fails and its connection
	// is closed.
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response head, the interim (1xx) heads before it included, as
	// with net/http (DefaultMaxResponseHeaderBytes when zero).
	MaxResponseHeaderBytes int
	// DisableKeepAlives, if true, uses each connection for one request only and sends
	// "Connection: close".
	DisableKeepAlives bool

	// TLSClientConfig configures the TLS of "https" connections (package etls: the handshake on a
	// goroutine, then records encrypted and decrypted on the loop). A clone is used, with
	// ServerName from the URL's host when it has none, and ALPN offering "http/1.1" only ("h2" is
	// taken out of NextProtos). Nil means the defaults of crypto/tls.
	TLSClientConfig *tls.Config
	// TLSHandshakeTimeout bounds each TLS handshake (etls.DefaultHandshakeTimeout when zero;
	// negative means no bound).
	TLSHandshakeTimeout time.Duration

	// Engine chooses the eddy engine. The default is eddy.EngineEpoll on Linux (see
	// docs/client.md for why not uring) and eddy.EngineAuto elsewhere.
	Engine eddy.EngineKind
	// Loops is the number of event loops (default GOMAXPROCS).
	Loops int
	// EngineOptions are passed to eddy.New after those the fields above imply.
	EngineOptions []eddy.Option
	// Logger receives the engine's events.
	Logger *slog.Logger

	initOnce sync.Once
	initErr  error
	engine   *eddy.Engine
	tls      *etls.Handler // the engine's handler: TLS for https dials, the rest in clear
	maxIdle  int
	idleTime time.Duration
	maxHead  int

	mu     sync.Mutex
	hosts  map[string]*hostConns
	closed bool
	// closeIdle is set by CloseIdleConnections and cleared by the next request that asks for a
	// connection: meanwhile a connection that becomes free is closed rather than pooled, as with
	// net/http (a connection in use when CloseIdleConnections was called did not linger in the
	// pool for IdleConnTimeout).
	closeIdle bool
	// rewinding holds the requests that wait, in rewind, to be sent again with a body from
	// GetBody: on no connection nor in any line, Close finds them here.
	rewinding map[*exchange]struct{}
}

// hostConns is a Transport's connections to one host:port. Guarded by Transport.mu.
type hostConns struct {
	key     string // host:port, or https://host:port
	addr    string // tcp://host:port, for Engine.Dial
	secure  bool   // https
	idle    []*clientConn
	conns   int         // open or being dialled
	waiting []*exchange // requests waiting for a connection under MaxConnsPerHost, oldest first
	dropped int         // requests cancelled since waiting was last swept
}

// init makes and starts the engine on first use.
func (t *Transport) init() error {
	t.initOnce.Do(func() {
		t.maxIdle = t.MaxIdleConnsPerHost
		if t.maxIdle == 0 {
			t.maxIdle = DefaultMaxIdleConnsPerHost
		}
		t.idleTime = t.IdleConnTimeout
		if t.idleTime == 0 {
			t.idleTime = DefaultIdleConnTimeout
		}
		t.maxHead = t.MaxResponseHeaderBytes
		if t.maxHead <= 0 {
			t.maxHead = DefaultMaxResponseHeaderBytes
		}
		t.maxHead = min(t.maxHead, maxHeaderBytesCap)
		opts := make([]eddy.Option, 0, 3+len(t.EngineOptions))
		if kind := t.engineKind(); kind != "" {
			opts = append(opts, eddy.WithEngine(kind))
		}
		if t.Loops > 0 {
			opts = append(opts, eddy.WithLoops(t.Loops))
		}
		if t.Logger != nil {
			opts = append(opts, eddy.WithLogger(t.Logger))
		}
		opts = append(opts, t.EngineOptions...)
		t.tls = etls.Client(clientHandler{t}, clientTLSConfig(t.TLSClientConfig))
		t.tls.HandshakeTimeout = t.TLSHandshakeTimeout
		e, err := eddy.New(t.tls, nil, opts...)
		if err == nil {
			err = e.Start()
		}
		if err != nil {
			t.initErr = fmt.Errorf("http1: Transport: %w", err)
			return
		}
		t.mu.Lock()
		t.engine = e
		if t.closed { // Close ran first: it found no engine to stop
			t.mu.Unlock()
			_ = e.Stop(context.Background())
			return
		}
		t.mu.Unlock()
	})
	return t.initErr
}

// engineKind is the engine to ask for: Engine, or by default epoll on Linux. A client's loop
// spends its time waiting for the next request of a goroutine in the same process, and waking an
// idle uring loop from another goroutine costs more than waking an epoll one (it parks in the
// runtime's poller only when the loops hold every P; docs/client.md has the figures).
func (t *Transport) engineKind() eddy.EngineKind {
	if t.Engine == "" && runtime.GOOS == "linux" {
		return eddy.EngineEpoll
	}
	return t.Engine
}

// EngineKind reports the engine the Transport runs on, once it has made its first request ("" before).
func (t *Transport) EngineKind() eddy.EngineKind {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.engine == nil {
		return ""
	}
	return t.engine.Kind()
}

// RoundTrip sends req and returns its response once the response head has arrived, as
// http.RoundTripper requires: the response body streams in as it is read. The request's context
// bounds the whole exchange, body included, and so does Request.Cancel (deprecated), as with
// net/http's Transport. The request follows http.RoundTripper's rules: it is not
// modified, its Body is closed (also on errors), and the caller must close the response's Body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	x, err := t.prepare(req)
	if err != nil {
		return nil, err
	}
	x.pr = future.NewPromise[*http.Response]()
	t.send(x)
	return x.pr.Future().Await(context.Background())
}

// RoundTripAsync is RoundTrip without the wait: it returns at once a future of the response, which
// completes when the response head has arrived (or the request failed). Cancelling the future
// (Future.Cancel) stops the request as cancelling its context does. A continuation added with
// future.Inline runs on an event loop and must not block (reading the body blocks).
func (t *Transport) RoundTripAsync(req *http.Request) future.Future[*http.Response] {
	x, err := t.prepare(req)
	if err != nil {
		return future.Failed[*http.Response](err)
	}
	// The promise's context is cancelled by Future.Cancel, and also once the promise completes.
	var pctx context.Context
	x.pr, pctx = future.NewPromiseContext[*http.Response](context.Background())
	x.stopAsync = context.AfterFunc(pctx, func() {
		if !x.pr.Future().Resolved() {
			x.cancel(context.Canceled)
			// Future.Cancel: nothing needs the request's context any more. Its watch would stay
			// until that context ends otherwise (a long-lived one kept every cancelled exchange),
			// where the exchange was cancelled on its way to a connection. (stopWatch was set by
			// send, before the future was returned: only a Future.Cancel gets here.)
			x.unwatch()
		}
	})
	t.send(x)
	return x.pr.Future()
}

// prepare starts the engine if needed and makes the exchange for req; on error the body is closed
// (by newExchange, once, when it fails).
func (t *Transport) prepare(req *http.Request) (*exchange, error) {
	if err := t.init(); err != nil {
		closeBody(req)
		return nil, err
	}
	return t.newExchange(req)
}

// send watches the request's context and finds the exchange a connection. A request whose context
// is done already (or whose Request.Cancel is closed) fails at once, as net/http's does: the watch
// runs its function on a goroutine of its own, which the request could otherwise outrun onto the wire.
func (t *Transport) send(x *exchange) {
	if ctx := x.req.Context(); ctx.Err() != nil {
		x.reject(context.Cause(ctx))
		return
	}
	if legacyCancelled(x.req) {
		x.reject(errRequestCanceled)
		return
	}
	t.watch(x)
	t.schedule(x)
}

// errRequestCanceled is the error of a request stopped by the closing of its Request.Cancel, as
// net/http's Transport says "net/http: request canceled".
var errRequestCanceled = errors.New("http1: request canceled")

// legacyCancelled reports whether req's Request.Cancel is closed.
func legacyCancelled(req *http.Request) bool {
	select {
	case <-req.Cancel: // (a nil channel is never ready)
		return true
	default:
		return false
	}
}

// watch makes the cancellation of the request's context stop x, for the whole exchange: the wait for
// the response head and the reading of the body. The closing of Request.Cancel (deprecated, but
// honoured by net/http's Transport, and set by http.Client's Timeout for transports it does not
// know) stops it too, with errRequestCanceled: as with net/http, a goroutine waits for it while
// the exchange lasts.
func (t *Transport) watch(x *exchange) {
	ctx := x.req.Context()
	if legacy := x.req.Cancel; legacy != nil {
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-legacy:
				cancel()
			case <-wctx.Done(): // the exchange is over (unwatch), or its context is done
			}
		}()
		stop := context.AfterFunc(wctx, func() {
			err := errRequestCanceled
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			x.cancel(err)
		})
		x.stopWatch = func() bool {
			stopped := stop()
			cancel() // ends the goroutine; the AfterFunc no longer runs
			return stopped
		}
		return
	}
	if ctx.Done() != nil {
		// The context's cause, as net/http's Transport reports it (for a plain cancellation or
		// deadline, the same as ctx.Err()): a caller that cancels with a cause of its own finds it
		// in the errors of RoundTrip and of body reads.
		x.stopWatch = context.AfterFunc(ctx, func() { x.cancel(context.Cause(ctx)) })
	}
}

func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		req.Body.Close()
	}
}

// CloseIdleConnections closes the connections that are idle in the pool; those in use are left alone,
// but, as with net/http, closed when they become free, until another request asks for a connection.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	t.closeIdle = true
	var idle []*clientConn
	for _, hc := range t.hosts {
		idle = append(idle, hc.idle...)
		clear(hc.idle)
		hc.idle = hc.idle[:0]
	}
	t.mu.Unlock()
	for _, cc := range idle {
		cc.c.Close()
	}
}

// Close closes every connection, fails the requests in flight and those still waiting with
// ErrTransportClosed, and stops the engine; it returns once the engine has stopped. Later requests
// fail with ErrTransportClosed. It must not be called from a continuation running on the loops.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	e := t.engine
	var waiting []*exchange
	for _, hc := range t.hosts {
		waiting = append(waiting, hc.waiting...)
		hc.waiting = nil
	}
	for x := range t.rewinding {
		// Its rejection closes the old body, ending a Read its writer may be blocked in, for
		// which rewind waits: rewind then finds it failed.
		waiting = append(waiting, x)
	}
	t.rewinding = nil
	t.mu.Unlock()
	for _, x := range waiting {
		x.reject(ErrTransportClosed)
	}
	if e == nil {
		return nil
	}
	// The stop's context is cancelled already: connections are aborted, not flushed, so a request
	// body that a server does not read cannot hold Close for the engine's linger time.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Stop(ctx); err != nil && !errors.Is(err, eddy.ErrEngineStopped) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("http1: Transport.Close: %w", err)
	}
	return nil
}

// hostKey is the key of x's host in Transport.hosts.
func (x *exchange) hostKey() string {
	if x.secure {
		return "https://" + x.key
	}
	return x.key
}

// host returns the connections for x, made on first use. Called with t.mu held.
func (t *Transport) host(x *exchange) *hostConns {
	key := x.hostKey()
	hc := t.hosts[key]
	if hc == nil {
		if t.hosts == nil {
			t.hosts = make(map[string]*hostConns)
		}
		hc = &hostConns{key: key, addr: "tcp://" + x.key, secure: x.secure}
		t.hosts[key] = hc
	}
	return hc
}

// clientTLSConfig is the configuration https connections start from: a clone of cfg offering
// HTTP/1.1 only by ALPN.
func clientTLSConfig(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		return &tls.Config{NextProtos: []string{"http/1.1"}}
	}
	cfg = cfg.Clone()
	cfg.NextProtos = http11Protos(cfg.NextProtos)
	return cfg
}

// schedule finds x a connection: an idle one, a new one, or, at MaxConnsPerHost, a place in line.
func (t *Transport) schedule(x *exchange) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		x.reject(ErrTransportClosed)
		return
	}
	t.closeIdle = false // a connection is wanted again
	hc := t.host(x)
	if n := len(hc.idle); n > 0 {
		cc := hc.idle[n-1]
		hc.idle[n-1] = nil
		hc.idle = hc.idle[:n-1]
		cc.next = x
		t.mu.Unlock()
		cc.post()
		return
	}
	if t.MaxConnsPerHost > 0 && hc.conns >= t.MaxConnsPerHost {
		hc.waiting = append(hc.waiting, x)
		t.mu.Unlock()
		return
	}
	hc.conns++
	t.mu.Unlock()
	t.dial(hc, x)
}

// dial opens a connection to hc for x. hc.conns already counts it.
func (t *Transport) dial(hc *hostConns, x *exchange) {
	// The dial has a context of its own, which cancel (Future.Cancel, or the request's context)
	// ends: a dial nobody waits for must not hold a MaxConnsPerHost place.
	ctx, stop := context.WithCancel(x.req.Context())
	x.stopDial.Store(&stop)
	if x.pr.Future().Resolved() { // cancelled already: cancel may have looked before the Store
		stop()
	}
	var f future.Future[eddy.Conn]
	if hc.secure {
		f = future.Map(t.tls.Dial(ctx, t.engine, hc.addr, nil), future.Inline, func(c *etls.Conn) (eddy.Conn, error) { return c, nil })
	} else {
		f = t.engine.Dial(ctx, hc.addr)
	}
	future.Map(f, future.Inline, func(c eddy.Conn) (struct{}, error) {
		stop() // the connection no longer depends on it
		cc := c.Context().(*clientConn)
		t.mu.Lock()
		cc.hc = hc
		if !cc.closed {
			cc.next = x
			t.mu.Unlock()
			cc.post()
			return struct{}{}, nil
		}
		closed := t.closed
		t.mu.Unlock()
		// OnClose ran before hc was known: account for the connection here.
		t.connGone(hc)
		if closed {
			x.reject(ErrTransportClosed)
		} else {
			x.reject(fmt.Errorf("http1: %s %s: connection closed as it opened", x.req.Method, hc.key))
		}
		return struct{}{}, nil
	})
	future.Catch(f, future.Inline, func(err error) (eddy.Conn, error) {
		stop()
		t.connGone(hc)
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if closed || errors.Is(err, eddy.ErrEngineStopped) {
			err = ErrTransportClosed // (std fails a dial that Stop interrupted with ErrClosed)
		} else if hc.secure {
			err = schemeMismatch(err)
		}
		x.reject(err)
		return nil, err
	})
}

// schemeMismatch returns err, the failed dial of an https connection, as net/http's Client reports it
// when the server answered the handshake with an HTTP response: an error that matches
// http.ErrSchemeMismatch ("http: server gave HTTP response to HTTPS client"), wrapping err. net/http's
// Transport returns crypto/tls's bare tls.RecordHeaderError, which http.Client turns into
// http.ErrSchemeMismatch; etls wraps it in a *HandshakeError, which http.Client passed through, so the
// caller saw "tls: first record does not look like a TLS handshake" instead.
func schemeMismatch(err error) error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/" {
		return fmt.Errorf("%w: %w", http.ErrSchemeMismatch, err)
	}
	return err
}

// connGone accounts for a connection of hc that closed (or was never made) and lets the oldest
// waiting request have its place.
func (t *Transport) connGone(hc *hostConns) {
	t.mu.Lock()
	hc.conns--
	for len(hc.waiting) > 0 && !t.closed {
		x := hc.waiting[0]
		hc.waiting[0] = nil
		hc.waiting = hc.waiting[1:]
		if x.pr.Future().Resolved() {
			x.unwatch()
			continue // cancelled while waiting
		}
		hc.conns++
		t.mu.Unlock()
		t.dial(hc, x)
		return
	}
	if hc.conns == 0 && len(hc.waiting) == 0 && t.hosts[hc.key] == hc {
		delete(t.hosts, hc.key) // a client of many hosts keeps only those it has connections to
	}
	t.mu.Unlock()
}

// cancelled lets go of x, cancelled, if it waits for a connection: the queue is swept of the
// cancelled requests whenever they may be half of it, so it holds at most twice the requests still
// waiting (a server that never frees a connection would otherwise keep every one), and their
// contexts' watches end. Counting every cancelled request, not only the waiting ones, only sweeps
// sooner.
func (t *Transport) cancelled(x *exchange) {
	t.mu.Lock()
	hc := t.hosts[x.hostKey()]
	if hc == nil || len(hc.waiting) == 0 {
		t.mu.Unlock()
		return
	}
	hc.dropped++
	if 2*hc.dropped < len(hc.waiting) {
		t.mu.Unlock()
		return
	}
	hc.dropped = 0
	var gone []*exchange
	kept := hc.waiting[:0]
	for _, w := range hc.waiting {
		if w.pr.Future().Resolved() {
			gone = append(gone, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(hc.waiting[len(kept):])
	hc.waiting = kept
	t.mu.Unlock()
	for _, w := range gone {
		w.unwatch()
	}
}

// putIdle offers cc, whose exchange just ended with the connection reusable, to the oldest waiting
// request or to the pool, or closes it. Called on cc's loop.
func (t *Transport) putIdle(cc *clientConn) {
	t.mu.Lock()
	hc := cc.hc
	if cc.closed || cc.dead || t.closed {
		t.mu.Unlock()
		cc.shut()
		return
	}
	// From now on the server may close it as a request goes out: such a request may be retried (as
	// with net/http, whatever brought the connection here: a connection dialled for a request that
	// was cancelled before it could start is pooled unused).
	cc.reused = true
	for len(hc.waiting) > 0 {
		x := hc.waiting[0]
		hc.waiting[0] = nil
		hc.waiting = hc.waiting[1:]
		if x.pr.Future().Resolved() {
			x.unwatch()
			continue // cancelled while waiting
		}
		cc.next = x
		t.mu.Unlock()
		cc.begin()
		return
	}
	if len(hc.idle) >= t.maxIdle || t.closeIdle {
		t.mu.Unlock()
		cc.shut()
		return
	}
	hc.idle = append(hc.idle, cc)
	t.mu.Unlock()
	if t.idleTime > 0 {
		cc.c.SetIdleTimeout(t.idleTime)
	}
}

// dropIdle takes cc out of its host's idle list, if it is there. Called with t.mu held.
func (t *Transport) dropIdle(cc *clientConn) {
	hc := cc.hc
	if hc == nil {
		return
	}
	for i, o := range hc.idle {
		if o == cc {
			copy(hc.idle[i:], hc.idle[i+1:])
			hc.idle[len(hc.idle)-1] = nil
			hc.idle = hc.idle[:len(hc.idle)-1]
			return
		}
	}
}

// clientHandler is the engine's Handler: every connection is a clientConn.
type clientHandler struct{ t *Transport }

func (h clientHandler) OnOpen(c eddy.Conn) {
	cc := &clientConn{t: h.t, c: c}
	cc.p.maxHead = h.t.maxHead
	cc.beginFn = func(eddy.Conn) { cc.begin() }
	c.SetContext(cc)
}

func (h clientHandler) OnData(c eddy.Conn) {
	if cc, ok := c.Context().(*clientConn); ok {
		cc.drain()
	}
}

func (h clientHandler) OnClose(c eddy.Conn, err error) {
	if cc, ok := c.Context().(*clientConn); ok {
		cc.closedWith(err)
	}
}

// OnPeerClosed keeps the connection while bytes of a response body wait in its input for room in
// the body's pipe: drain delivers them and then ends the body.
func (h clientHandler) OnPeerClosed(c eddy.Conn) bool {
	cc, ok := c.Context().(*clientConn)
	if !ok || cc.x == nil || cc.x.phase != xBody || c.Buffered() == 0 {
		return false
	}
	cc.peerClosed = true
	return true
}

var _ eddy.HalfCloseHandler = clientHandler{}

// dialKey returns the host:port to dial for a URL's host, with port (80 or 443) when it has none.
func dialKey(host, port string) (string, error) {
	h, p, err := net.SplitHostPort(host)
	if err == nil && h != "" && p != "" {
		return host, nil // the usual case: no allocation
	}
	if err != nil {
		// No port (or a malformed host, which the dial will report).
		h = host
		if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
			h = h[1 : len(h)-1]
		}
	}
	if h == "" {
		return "", errors.New("http1: no host in request URL")
	}
	return net.JoinHostPort(h, port), nil
}

var _ http.RoundTripper = (*Transport)(nil)
var _ io.ReadCloser = (*respBody)(nil)

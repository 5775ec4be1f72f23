package etls

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// DefaultHandshakeTimeout bounds a handshake when Handler.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// ErrHandshakeTimeout is the reason of a handshake that took longer than its bound (in a
// *HandshakeError; the connection is reset). As the error of a crypto/tls handshake cut by a deadline
// (and net/http's "TLS handshake timeout"), it is a net.Error whose Timeout reports true, and it
// matches os.ErrDeadlineExceeded.
var ErrHandshakeTimeout error = handshakeTimeout{}

// handshakeTimeout is the type of ErrHandshakeTimeout.
type handshakeTimeout struct{}

func (handshakeTimeout) Error() string   { return "etls: TLS handshake timed out" }
func (handshakeTimeout) Timeout() bool   { return true }
func (handshakeTimeout) Temporary() bool { return true }
func (handshakeTimeout) Unwrap() error   { return os.ErrDeadlineExceeded }

// HandshakeError is the error of a connection whose handshake failed, as OnHandshakeError and
// Handler.Dial report it. Err is the reason: a TLS error (crypto/tls's, such as a
// *tls.CertificateVerificationError or an alert from the peer), ErrHandshakeTimeout, the error of a
// Dial's context, or what ended the connection meanwhile (io.EOF if the peer closed it,
// eddy.ErrEngineStopped, eddy.ErrClosed).
type HandshakeError struct {
	Addr net.Addr // the peer's address
	Err  error
}

// Error returns "etls: TLS handshake with ADDR: " followed by the reason.
func (e *HandshakeError) Error() string {
	if e.Addr == nil { // a connection reset before its address could be read
		return "etls: TLS handshake: " + e.Err.Error()
	}
	return "etls: TLS handshake with " + e.Addr.String() + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake failed for lack of time: ErrHandshakeTimeout, a Dial's
// deadline, or another reason that is a timeout. With it a *HandshakeError is a net.Error, and code
// written for crypto/tls's errors (a net.Error whose Timeout is true for a handshake cut by a
// deadline) and url.Error.Timeout, which asks the error a client's Transport returned, see the
// timeout.
func (e *HandshakeError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary reports the same as Timeout (net.Error's deprecated method, as net/http's TLS handshake
// timeout answers it).
func (e *HandshakeError) Temporary() bool { return e.Timeout() }

// Handler is an eddy.Handler that runs TLS on every connection of the engine it is given to, and
// hands the connections whose handshake succeeded to the handler it wraps as *Conn values. Make
// one with Server or Client; set its fields before the engine starts and leave them alone after.
//
// Handler passes the optional interfaces of the wrapped handler through: eddy.BootHandler,
// eddy.ShutdownHandler and eddy.TickHandler as they are, and eddy.HalfCloseHandler for the peer's
// close_notify or FIN, whichever comes first (see Conn).
type Handler struct {
	// HandshakeTimeout bounds each handshake, from the connection's accept or dial to its end
	// (DefaultHandshakeTimeout when zero; negative means no bound). A connection that exceeds it is
	// reset.
	HandshakeTimeout time.Duration

	// OnHandshakeError, if not nil, is called with each connection whose handshake failed, and a
	// *HandshakeError that says why. It runs on the handshake's goroutine, and the connection is
	// closed gracefully when it returns (so it should not block for long); c is only good for
	// LocalAddr and RemoteAddr then. What it writes to the Conn of a tls.RecordHeaderError the
	// error wraps is sent before the close: net/http answers plain HTTP on a TLS port so, and
	// http1 does too. That Conn's reads wait for the peer's next bytes, and honour a read deadline
	// (SetReadDeadline, SetDeadline) as a net.Conn's. Its writes are queued on the connection's
	// loop: while the loop's task queue is full (eddy.ErrQueueFull, WithTaskQueueCapacity) a write
	// waits for room, as a net.Conn's waits for room in the kernel's buffer, until the write
	// deadline (SetWriteDeadline, SetDeadline: os.ErrDeadlineExceeded, a net.Error whose Timeout is
	// true) or the connection's end (eddy.ErrClosed). Once that Conn is closed, its reads, writes and
	// a second Close return an error that matches eddy.ErrClosed and net.ErrClosed.
	OnHandshakeError func(c eddy.Conn, err error)

	inner  eddy.Handler
	config *tls.Config
	client bool
}

// Server returns a Handler that performs the server side of TLS with config on each connection and
// gives h the established ones. config must have a certificate (Certificates, GetCertificate or
// GetConfigForClient), as for tls.Server; it is used as given, so it may carry NextProtos and
// client authentication settings, and it must not be modified after the engine starts. A nil config
// or h makes the engine's Start fail (OnBoot), rather than the first handshake.
func Server(h eddy.Handler, config *tls.Config) *Handler {
	return &Handler{inner: h, config: config}
}

// Client returns a Handler for the client side of TLS: connections dialled with its Dial perform
// the handshake (with config, unless Dial is given another) and are given to h once established.
// Connections the engine dials otherwise (Engine.Dial) are given to h as they are, in clear, so one
// engine serves both kinds. A nil h makes the engine's Start fail (OnBoot).
func Client(h eddy.Handler, config *tls.Config) *Handler {
	return &Handler{inner: h, config: config, client: true}
}

// dialReq is the Context of a connection that Handler.Dial dialled, until OnOpen replaces it.
type dialReq struct {
	h      *Handler // the Handler whose Dial made it: only its OnOpen may take the connection
	config *tls.Config
	ctx    context.Context
	p      future.Promise[*Conn]
}

// Dial connects to addr (in the forms eddy.New accepts) through e, whose Handler must be h (made by
// Client), performs the client side of the handshake with config (h's own when nil) and resolves once
// the connection is established and the wrapped handler's OnOpen has run; continuations added with
// future.Inline then run on the connection's loop. As tls.Dial does, Dial takes ServerName, the name
// the server's certificate is verified against and sent by SNI, from addr's host when config has
// none. ctx bounds the connect and the handshake (together with HandshakeTimeout). The future fails
// with the dial's *eddy.OpError, a *HandshakeError (which OnHandshakeError hears of too), or
// eddy.ErrClosed if the wrapped handler's OnOpen closed the connection, or with an error naming the
// mistake when e is nil or its Handler is not h (the connection is then reset). Cancelling the future
// (Future.Cancel, or a combinator that gives up on it: future.WithTimeout, the losers of future.Any or
// future.Race) stops a connect or a handshake still in progress as cancelling ctx does. A nil ctx
// means context.Background().
func (h *Handler) Dial(ctx context.Context, e *eddy.Engine, addr string, config *tls.Config) future.Future[*Conn] {
	if !h.client {
		return future.Failed[*Conn](errors.New("etls: Dial needs a Handler made by Client"))
	}
	if e == nil {
		return future.Failed[*Conn](errors.New("etls: Dial through a nil *eddy.Engine"))
	}
	if config == nil {
		config = h.config
	}
	if config == nil {
		config = &tls.Config{}
	}
	if config.ServerName == "" {
		if host := dialHost(addr); host != "" {
			config = config.Clone()
			config.ServerName = host
		}
	}
	// The connect and the handshake watch the promise's context, which ends with ctx and with the
	// future's Cancel (as Engine.Dial's does): a caller that gives up on the future (WithTimeout, the
	// losers of Any or Race) stops them, rather than leaving a handshake to run for nobody. Its end on
	// completion ends nothing: the handshake's context is released before the promise resolves.
	p, pctx := future.NewPromiseContext[*Conn](ctx)
	req := &dialReq{h: h, config: config, ctx: pctx, p: p}
	f := e.DialWith(pctx, addr, req)
	future.Catch(future.Map(f, future.Inline, func(raw eddy.Conn) (eddy.Conn, error) {
		if c, ok := raw.Context().(*Conn); !ok || c.raw != raw || c.h != h {
			// h's OnOpen (before this) would have made raw a Conn of h's: e's Handler is not h
			// (another Handler left the request alone, a plain one may have set a Context of its
			// own), and no handshake will ever complete p.
			raw.Abort(nil)
			return nil, errors.New("etls: Dial through an engine whose Handler is not this Handler")
		}
		return raw, nil
	}), future.Inline, func(err error) (eddy.Conn, error) {
		p.Reject(err)
		return nil, err
	})
	return p.Future()
}

// dialHost returns the host of a tcp address (tcp://, tcp4://, tcp6:// or no scheme), as ServerName;
// "" for a unix address, or one of a network eddy does not dial ("tcpx://h:1" too).
func dialHost(addr string) string {
	if network, rest, ok := strings.Cut(addr, "://"); ok {
		switch network {
		case "tcp", "tcp4", "tcp6":
			addr = rest
		default:
			return ""
		}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// Inner returns the handler h wraps.
func (h *Handler) Inner() eddy.Handler { return h.inner }

// OnOpen starts the handshake of a new connection on a goroutine of its own; on a client Handler,
// a connection not dialled by Dial goes to the wrapped handler as it is.
func (h *Handler) OnOpen(raw eddy.Conn) {
	d, dialled := raw.Context().(*dialReq)
	if dialled && d.h != h {
		// Another Handler's Dial through this Handler's engine: leave the request in the Context,
		// where that Dial finds it and fails (this Handler's callbacks then ignore the connection),
		// rather than run its handshake for the wrapped handler here, which did not ask for it.
		return
	}
	if h.client && !dialled {
		h.inner.OnOpen(raw)
		return
	}
	c := &Conn{raw: raw, h: h}
	c.hsCond.L = &c.hsMu
	raw.SetContext(c)
	p := pipe{c}
	parent := context.Background()
	if dialled {
		c.dial = d
		parent = d.ctx
		cfg := d.config
		if cfg.Renegotiation != tls.RenegotiateNever {
			// A renegotiation would run inside a Read on the loop, where it cannot wait for the
			// server's answer: refuse it, and the server's request fails the connection at once.
			cfg = cfg.Clone()
			cfg.Renegotiation = tls.RenegotiateNever
		}
		c.tc = tls.Client(p, cfg)
	} else {
		cfg := h.config
		if cfg == nil { // OnBoot refuses it, unless a handler around h kept it from being called
			cfg = &tls.Config{} // every handshake fails: "no certificates configured"
		}
		c.tc = tls.Server(p, cfg)
	}
	c.hsCtx, c.hsCancel = h.handshakeContext(parent)
	go c.handshake()
}

// foreign reports whether raw is another Handler's dial that OnOpen left alone: no callback of the
// wrapped handler is for it.
func foreign(raw eddy.Conn) bool {
	_, ok := raw.Context().(*dialReq)
	return ok
}

// tlsOf returns the TLS connection over raw, or nil for a plain connection of a client Handler.
// The Context of a plain connection belongs to the wrapped handler, and may well hold a *Conn: a
// proxy's, pairing it with the TLS connection it dialled upstream.
func tlsOf(raw eddy.Conn) *Conn {
	if c, ok := raw.Context().(*Conn); ok && c.raw == raw {
		return c
	}
	return nil
}

// OnData gives the handshake goroutine what arrived, or decrypts it on an established connection
// and calls the wrapped handler's OnData with the plaintext.
func (h *Handler) OnData(raw eddy.Conn) {
	if c := tlsOf(raw); c != nil {
		c.onData()
	} else if h.client && !foreign(raw) {
		h.inner.OnData(raw)
	}
}

// OnPeerClosed reports the peer's FIN to the wrapped handler's OnPeerClosed, if it has one, once the
// handshake is done (during a handshake it ends the handshake).
func (h *Handler) OnPeerClosed(raw eddy.Conn) bool {
	if c := tlsOf(raw); c != nil {
		return c.onPeerClosed()
	}
	hc, ok := h.inner.(eddy.HalfCloseHandler)
	return h.client && ok && !foreign(raw) && hc.OnPeerClosed(raw)
}

// OnClose ends a handshake in progress, or calls the wrapped handler's OnClose for an established
// connection.
func (h *Handler) OnClose(raw eddy.Conn, err error) {
	if c := tlsOf(raw); c != nil {
		c.onClose(err)
	} else if h.client && !foreign(raw) {
		h.inner.OnClose(raw, err)
	}
}

// OnClosing runs when the engine closes a connection by itself (an idle timeout, Engine.Stop): on an
// established connection, the wrapped handler's OnClosing runs, if it has one, and then close_notify
// is queued ahead of the engine's close, as Close sends it.
func (h *Handler) OnClosing(raw eddy.Conn, reason error) {
	if c := tlsOf(raw); c != nil {
		c.onClosing(reason)
	} else if ch, ok := h.inner.(eddy.ClosingHandler); ok && h.client && !foreign(raw) {
		ch.OnClosing(raw, reason)
	}
}

// OnBoot calls the wrapped handler's OnBoot, if it has one, after checking h: a nil wrapped handler,
// or a Server without a configuration, fails the engine's start.
func (h *Handler) OnBoot(e *eddy.Engine) error {
	if h.inner == nil {
		return errors.New("etls: the Handler wraps a nil eddy.Handler")
	}
	if !h.client && h.config == nil {
		return errors.New("etls: Server with a nil *tls.Config")
	}
	if b, ok := h.inner.(eddy.BootHandler); ok {
		return b.OnBoot(e)
	}
	return nil
}

// OnShutdown calls the wrapped handler's OnShutdown, if it has one.
func (h *Handler) OnShutdown(e *eddy.Engine) {
	if s, ok := h.inner.(eddy.ShutdownHandler); ok {
		s.OnShutdown(e)
	}
}

// OnTick calls the wrapped handler's OnTick, if it has one; otherwise it stops the ticks.
func (h *Handler) OnTick() time.Duration {
	if t, ok := h.inner.(eddy.TickHandler); ok {
		return t.OnTick()
	}
	return -1
}

// handshakeContext is the bound of one handshake: parent's, and HandshakeTimeout.
func (h *Handler) handshakeContext(parent context.Context) (context.Context, context.CancelFunc) {
	d := h.HandshakeTimeout
	switch {
	case d == 0:
		d = DefaultHandshakeTimeout
	case d < 0:
		return context.WithCancel(parent)
	}
	return context.WithTimeoutCause(parent, d, ErrHandshakeTimeout)
}

// ConnectionState returns the TLS state of c if it is a *Conn (a connection served through a
// Handler), and false otherwise.
func ConnectionState(c eddy.Conn) (tls.ConnectionState, bool) {
	if tc, ok := c.(*Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

var (
	_ net.Error             = (*HandshakeError)(nil)
	_ eddy.Handler          = (*Handler)(nil)
	_ eddy.HalfCloseHandler = (*Handler)(nil)
	_ eddy.BootHandler      = (*Handler)(nil)
	_ eddy.ShutdownHandler  = (*Handler)(nil)
	_ eddy.TickHandler      = (*Handler)(nil)
)

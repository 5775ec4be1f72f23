package etls

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/eddyio/eddy"
)

// DefaultHandshakeTimeout bounds a handshake when Handler.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// ErrHandshakeTimeout is the error a handshake that took longer than its bound fails with (given to
// OnHandshakeError; the connection is reset).
var ErrHandshakeTimeout = errors.New("etls: TLS handshake timed out")

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

	// OnHandshakeError, if not nil, is called with each connection whose handshake failed, and the
	// reason: a TLS error, ErrHandshakeTimeout, or what ended the connection meanwhile (io.EOF if the
	// peer closed it). It runs on the handshake's goroutine, once the connection is on its way out;
	// it may block, and c is only good for LocalAddr and RemoteAddr then.
	OnHandshakeError func(c eddy.Conn, err error)

	inner  eddy.Handler
	config *tls.Config
	client bool
}

// Server returns a Handler that performs the server side of TLS with config on each connection and
// gives h the established ones. config must have a certificate (Certificates, GetCertificate or
// GetConfigForClient), as for tls.Server; it is used as given, so it may carry NextProtos and
// client authentication settings, and it must not be modified after the engine starts.
func Server(h eddy.Handler, config *tls.Config) *Handler {
	return &Handler{inner: h, config: config}
}

// Client returns a Handler that performs the client side of TLS with config on each connection the
// engine dials, and gives h the established ones. As for tls.Client, config needs ServerName (the
// name the server's certificate is verified against) unless InsecureSkipVerify is set.
func Client(h eddy.Handler, config *tls.Config) *Handler {
	return &Handler{inner: h, config: config, client: true}
}

// Inner returns the handler h wraps.
func (h *Handler) Inner() eddy.Handler { return h.inner }

// OnOpen starts the handshake of a new connection on a goroutine of its own.
func (h *Handler) OnOpen(raw eddy.Conn) {
	c := &Conn{raw: raw, h: h}
	c.hsCond.L = &c.hsMu
	raw.SetContext(c)
	p := pipe{c}
	if h.client {
		c.tc = tls.Client(p, h.config)
	} else {
		c.tc = tls.Server(p, h.config)
	}
	go c.handshake()
}

// OnData gives the handshake goroutine what arrived, or decrypts it on an established connection
// and calls the wrapped handler's OnData with the plaintext.
func (h *Handler) OnData(raw eddy.Conn) {
	if c, ok := raw.Context().(*Conn); ok {
		c.onData()
	}
}

// OnPeerClosed reports the peer's FIN to the wrapped handler's OnPeerClosed, if it has one, once the
// handshake is done (during a handshake it ends the handshake).
func (h *Handler) OnPeerClosed(raw eddy.Conn) bool {
	c, ok := raw.Context().(*Conn)
	return ok && c.onPeerClosed()
}

// OnClose ends a handshake in progress, or calls the wrapped handler's OnClose for an established
// connection.
func (h *Handler) OnClose(raw eddy.Conn, err error) {
	if c, ok := raw.Context().(*Conn); ok {
		c.onClose(err)
	}
}

// OnBoot calls the wrapped handler's OnBoot, if it has one.
func (h *Handler) OnBoot(e *eddy.Engine) error {
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

// handshakeContext is the bound of one handshake.
func (h *Handler) handshakeContext() (context.Context, context.CancelFunc) {
	d := h.HandshakeTimeout
	switch {
	case d == 0:
		d = DefaultHandshakeTimeout
	case d < 0:
		return context.WithCancel(context.Background())
	}
	return context.WithTimeoutCause(context.Background(), d, ErrHandshakeTimeout)
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
	_ eddy.Handler          = (*Handler)(nil)
	_ eddy.HalfCloseHandler = (*Handler)(nil)
	_ eddy.BootHandler      = (*Handler)(nil)
	_ eddy.ShutdownHandler  = (*Handler)(nil)
	_ eddy.TickHandler      = (*Handler)(nil)
)

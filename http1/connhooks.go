package http1

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"unsafe"

	"github.com/eddyio/eddy"
)

// The connection hooks (Server.BaseContext, ConnContext and ConnState), as net/http's.
//
// They cost nothing to a server that does not set ConnContext or ConnState: its connections are
// plain conns. When one of them is set, every connection is the conn of a hookedConn, which holds
// the net.Conn the hooks are given and what ConnState last reported; conn stays in its size class
// either way (TestConnSize).

// hookedConn is a connection of a server with ConnContext or ConnState. conn is its first field,
// so that a *conn of such a server is a *hookedConn too (hooks).
type hookedConn struct {
	conn
	hk connHooks
}

// connHooks is the per-connection state of the hooks, owned by the loop.
type connHooks struct {
	nc    *hijackedConn   // the connection's net.Conn: given to the hooks, returned by Hijack
	ctx   context.Context // the parent of the connection's request contexts (ConnContext's result)
	state http.ConnState  // what ConnState last reported
}

// hooks returns the connection's hook state, or nil when the server has none.
func (sc *conn) hooks() *connHooks {
	if !sc.srv.cfg.hooked {
		return nil
	}
	// Every conn of a server with hooks is made as part of a hookedConn (newConn), at its start.
	return &(*hookedConn)(unsafe.Pointer(sc)).hk
}

// newConn makes the state of a connection that opens: with its hooks when the server has some,
// which get the connection's net.Conn now (ConnContext, then StateNew, as net/http calls them).
func (s *Server) newConn(c eddy.Conn) *conn {
	if !s.cfg.hooked {
		return &conn{srv: s, c: c}
	}
	hc := &hookedConn{conn: conn{srv: s, c: c}}
	hk := &hc.hk
	hk.nc = newHijackedConn(c)
	hk.nc.serverOwned.Store(true) // until a hijack
	hk.ctx = s.serverContext()
	if cc := s.ConnContext; cc != nil {
		hk.ctx = cc(hk.ctx, hk.nc)
		if hk.ctx == nil {
			panic("ConnContext returned nil")
		}
	}
	hk.state = http.StateNew
	if fn := s.ConnState; fn != nil {
		fn(hk.nc, http.StateNew)
	}
	return &hc.conn
}

// setState reports a new state of the connection to ConnState. StateActive is reported once per
// request (a request that is refused after its head has reported it already); nothing follows
// StateHijacked or StateClosed, and neither StateActive nor StateIdle follows a Close of the
// connection's net.Conn.
func (sc *conn) setState(st http.ConnState) {
	hk := sc.hooks()
	if hk == nil {
		return
	}
	switch hk.state {
	case http.StateHijacked, http.StateClosed:
		return
	case st:
		if st == http.StateActive {
			return
		}
	}
	if (st == http.StateActive || st == http.StateIdle) && hk.nc.closed.Load() {
		// The hooks (or whoever kept the net.Conn) closed it, its close queued behind this
		// callback: net/http's reads and writes fail from then on, so the connection never becomes
		// active or idle again there; StateClosed follows.
		return
	}
	hk.state = st
	if fn := sc.srv.ConnState; fn != nil {
		fn(hk.nc, st)
	}
}

// reportActive reports StateActive, as net/http does once it has read bytes of a request (even if
// it then refuses it, or closes the connection for a Shutdown).
func (sc *conn) reportActive() {
	if sc.srv.cfg.hooked {
		sc.setState(http.StateActive)
	}
}

// errNotHijacked fails the reads and writes of the net.Conn that ConnContext and ConnState are
// given, until a handler hijacks the connection: until then its bytes are the server's.
var errNotHijacked = errors.New("http1: the connection is the server's until a handler hijacks it")

// serverContext returns the context a connection's contexts descend from: BaseContext's, with
// http.ServerContextKey.
func (s *Server) serverContext() context.Context {
	if s.cfg.baseReady != nil {
		select {
		case <-s.cfg.baseReady:
		default:
			// OnBoot has not called BaseContext: the Server is the handler of an engine the
			// caller made, inside one of its own that does not pass OnBoot on.
			if err := s.setBaseContext(nil); err != nil {
				panic(*s.basePanic)
			}
			<-s.cfg.baseReady
		}
	}
	return s.cfg.srvCtx
}

// errBaseContext fails the start of an engine whose BaseContext failed (OnBoot).
var errBaseContext = errors.New("http1: BaseContext failed")

// setBaseContext calls BaseContext with ln, once, and makes the contexts of the connections descend
// from its result. If it panics (it returned nil, say), the panic is kept for the start to panic
// with (startWith) and the error returned stops the engine's start, as net/http's Serve panics
// before it accepts.
func (s *Server) setBaseContext(ln net.Listener) (err error) {
	s.baseOnce.Do(func() {
		ctx := context.Background()
		defer func() {
			if v := recover(); v != nil {
				s.basePanic = &v
				err = fmt.Errorf("%w: %v", errBaseContext, v)
			}
			s.cfg.srvCtx = context.WithValue(ctx, http.ServerContextKey, s.cfg.described)
			close(s.cfg.baseReady)
		}()
		v := s.BaseContext(ln)
		if v == nil {
			panic("BaseContext returned a nil context")
		}
		ctx = v
	})
	return err
}

// engineListener is the net.Listener BaseContext is given when the server listens itself (Start,
// ListenAndServe, StartTLS, ListenAndServeTLS): the engine's loops accept on sockets of their own
// (one per loop, with SO_REUSEPORT), so it only tells where the server listens.
type engineListener struct{ addr net.Addr }

// errEngineListener fails Accept and Close of an engineListener.
var errEngineListener = errors.New("http1: the server's listeners are its engine's: use Shutdown or Close")

// Accept fails: the engine's loops accept the connections.
func (l engineListener) Accept() (net.Conn, error) {
	return nil, &net.OpError{Op: "accept", Net: l.addr.Network(), Addr: l.addr, Err: errEngineListener}
}

// Close fails: Shutdown and Close end the listeners.
func (l engineListener) Close() error {
	return &net.OpError{Op: "close", Net: l.addr.Network(), Addr: l.addr, Err: errEngineListener}
}

// Addr returns the address the server listens on, with the real port where port 0 was asked for.
func (l engineListener) Addr() net.Addr { return l.addr }

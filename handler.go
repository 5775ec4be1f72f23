package eddy

import "time"

// Handler receives the events of the connections an Engine serves. Every method runs on the connection's
// loop; the callbacks of one connection never run concurrently, and none of them may block.
type Handler interface {
	// OnOpen is called once when a connection is accepted or dialled, before any OnData.
	OnOpen(c Conn)
	// OnData is called when new inbound bytes are buffered on c. The handler consumes what it can with
	// Next or Discard; what it leaves stays buffered and is presented again, with more, on the next call.
	OnData(c Conn)
	// OnClose is called exactly once, after the last other callback of c (but for the failure of an
	// AsyncWrite whose turn came after the close: see Conn.AsyncWrite) and before its descriptor is
	// released. err is nil for a close the handler asked for, ErrIdleTimeout for an idle timeout,
	// io.EOF when the peer closed, ErrEngineStopped when the engine stopped, ErrFlushTimeout when a close
	// gave up on a peer that read none of its output, the reason given to Conn.Abort, or the read or
	// write error (an *OpError) that ended the connection. Inside OnClose the connection is already closed, and
	// the input it left unconsumed is dropped (Buffered returns 0): Write,
	// Writev, AsyncWrite, Execute, CloseWrite and Close return ErrClosed.
	//
	// When a write fails (the peer reset the connection, as a rule), the bytes the peer sent before are
	// not lost: from the failure on, writes and Close return ErrClosed and the output is dropped, but
	// OnData still gets the remaining input, and OnClose then reports the write error.
	OnClose(c Conn, err error)
}

// BootHandler is implemented by handlers that want to know when an engine has started: OnBoot runs once,
// after the listeners are open and before any connection is served. A non-nil error stops the start:
// the loops then end as at a Stop, so what OnBoot queued on them (Loop.Execute, Loop.AfterFunc) still
// runs, and its Dials fail. OnBoot may Dial and queue work on the loops (which start serving only once
// it returns, on every engine: it must not wait for that work; on std a Dial's connect goes ahead, but
// its OnOpen waits); it must not call Stop or StopAccepting, which wait for Start: return an error
// instead.
type BootHandler interface {
	OnBoot(e *Engine) error
}

// ShutdownHandler is implemented by handlers that want to know when an engine has stopped: OnShutdown
// runs once, after every connection was closed.
type ShutdownHandler interface {
	OnShutdown(e *Engine)
}

// TickHandler is implemented by handlers that want a periodic callback: OnTick first runs on the first loop
// right after start, and again after each delay it returns; a negative delay stops the ticks.
type TickHandler interface {
	OnTick() (delay time.Duration)
}

// HalfCloseHandler is implemented by handlers that may still answer after the peer has shut down
// its sending side, as an HTTP client may once it has sent its request. When the peer's FIN
// arrives on an open connection, the engine calls OnPeerClosed, after OnData has been given every
// byte that came before it. If it returns true, the connection stays open for writing (there is no
// more OnData) until the handler closes it or the idle timeout fires; otherwise, as for handlers
// without the method, the engine closes it, flushing what was written, and OnClose reports io.EOF (nil
// when OnPeerClosed closed it itself: that close is the handler's). A pause and restart of reading after
// OnPeerClosed offers nothing again, even bytes the handler left buffered.
type HalfCloseHandler interface {
	OnPeerClosed(c Conn) (keepWriting bool)
}

// ClosingHandler is implemented by handlers that have a last word to send when the engine closes a
// connection by itself: at its idle timeout (reason ErrIdleTimeout) or in Engine.Stop (reason
// ErrEngineStopped). OnClosing runs on the connection's loop, at most once, on a connection still open
// (a close asked for with Close, or begun already, has none), before the close starts: what it writes
// goes out ahead of the FIN, as a protocol's goodbye (TLS's close_notify, a GOAWAY). The close then
// goes on gracefully, and OnClose reports reason, unless OnClosing aborted the connection. It is not
// called for closes by the peer or an error. In Stop it runs on every open connection even when Stop's
// context has ended (already when Stop is called, say), on every engine: what OnClosing wrote is then
// given the one try a stopping engine gives output, so an idle connection's peer still reads it, and
// then EOF; a connection whose output is not out after that try is reset, and what OnClosing wrote is
// dropped with the rest. A SendFile from OnClosing gets that try on epoll only: on uring and std such a
// connection is reset when Stop's context is done. On a connection whose sending side the handler shut
// down (CloseWrite), its writes fail with ErrClosed.
type ClosingHandler interface {
	OnClosing(c Conn, reason error)
}

// BaseHandler is a Handler that does nothing. Embed it in a handler to implement only the methods needed.
type BaseHandler struct{}

// OnOpen does nothing.
func (BaseHandler) OnOpen(Conn) {}

// OnData does nothing; the inbound bytes stay buffered.
func (BaseHandler) OnData(Conn) {}

// OnClose does nothing.
func (BaseHandler) OnClose(Conn, error) {}

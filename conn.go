package eddy

import (
	"net"
	"os"
	"time"
)

// Conn is a connection served by an Engine.
//
// Inbound methods (Peek, Next, Discard, Buffered), Write, Writev, Flushed, OutboundBuffered, SendFile, CloseWrite,
// SetIdleTimeout, SetReadPaused, Context and SetContext may only be called from the connection's own
// callbacks or from functions run on its loop through Execute (on the epoll and uring engines, also
// through its Loop: see Loop). AsyncWrite, Execute, Close, Abort, Loop, LocalAddr and RemoteAddr are
// safe from any goroutine.
type Conn interface {
	// Peek returns the next n buffered inbound bytes without consuming them, or all of them when n <= 0.
	// When fewer than n bytes are buffered it returns what there is and io.ErrShortBuffer.
	// The slice belongs to the engine: it is valid only until the callback returns or the bytes are
	// consumed, whichever comes first. Copy what must outlive that.
	Peek(n int) ([]byte, error)
	// Next is Peek followed by consuming the bytes returned. The slice belongs to the engine and is
	// valid until the callback returns (later Next, Discard and Write calls in the same callback leave
	// it intact). Copy what must outlive the callback.
	Next(n int) ([]byte, error)
	// Discard consumes up to n buffered inbound bytes (all of them when n < 0) and returns how many.
	Discard(n int) (int, error)
	// Buffered returns the number of inbound bytes buffered and not yet consumed.
	Buffered() int

	// Write copies b into the connection's outbound buffer; the bytes are sent after the callback that
	// wrote them returns, at the latest when the current loop iteration ends, together with everything
	// else written to the connection by then. The caller keeps ownership of b.
	// It returns len(b), or ErrClosed on a closed or closing connection.
	Write(b []byte) (int, error)
	// Writev is Write for several slices, sent in order; the caller keeps ownership of them.
	Writev(bs [][]byte) (int, error)
	// AsyncWrite queues b to be written from any goroutine. b must not be modified until callback runs (the
	// engine may copy it later). callback, if not nil, runs on the connection's loop once the bytes were
	// handed to the kernel, or with the error that prevented it (ErrClosed when the connection closed
	// first); for an empty b, once the output queued before it was, so at once when nothing is queued.
	// AsyncWrite returns ErrClosed at once on a closed connection, or ErrQueueFull. On the epoll and
	// uring engines, the callback of an AsyncWrite accepted just before the connection closed may run
	// after OnClose (when the write's turn on the loop comes), with ErrClosed; it runs all the same.
	// The callbacks of writes that succeed run in the order of the writes. One refused because the
	// connection is closing runs when its turn on the loop comes, with ErrClosed, which can be before
	// the callback of an earlier write that the graceful close is still sending.
	AsyncWrite(b []byte, callback func(c Conn, err error)) error
	// Flushed runs callback on the connection's loop once the output written so far (by Write,
	// Writev, SendFile, and the AsyncWrites that have reached the loop) has been handed to the
	// kernel: at once, before Flushed returns, when nothing is queued. It is AsyncWrite(nil,
	// callback) without the trip through the loop's task queue, for a callback or a function run by
	// Execute: a Close or CloseWrite made after it does not fail it. callback gets ErrClosed when
	// the connection takes no more output (it is closed or closing, or was shut down for writing),
	// or the error that failed the output. A nil callback does nothing.
	Flushed(callback func(c Conn, err error))
	// OutboundBuffered returns the bytes of output the connection holds: written (by Write, Writev,
	// SendFile, and the AsyncWrites that have reached the loop) and not yet handed to the kernel (on
	// uring, a send in flight counts until it completes; on etls, the bytes of the records). A server
	// that writes to peers which send nothing (the subscribers of a broadcast) reads it to notice one
	// that does not read, and drops it: back-pressure pauses reading from a connection whose output
	// passed the high water mark, which holds back only a peer that sends. It is 0 from OnClose on:
	// what was not sent by then never will be.
	OutboundBuffered() int
	// SendFile queues n bytes of f, starting at offset, to be sent after everything written before it and
	// before everything written after it, without copying them through user space: sendfile(2) on epoll,
	// linked IORING_OP_SPLICE through a pipe on uring, sendfile(2) or ReadAt on std (docs/engine.md).
	//
	// f must be a regular file open for reading. SendFile takes its own reference to f (a duplicated
	// descriptor, on Unix), so the caller may close f as soon as SendFile returns; the region is read at
	// offset, and f's file offset is neither used nor moved, so one file may serve many connections at
	// once. On platforms without descriptor duplication (Windows) f must stay open until callback runs.
	// An empty region (n = 0) reads nothing and does not look at f, which may then be nil: it only keeps
	// its place in the output, and its callback runs once what was written before it was handed to the
	// kernel.
	//
	// callback, if not nil, runs on the connection's loop once the whole region has been handed to the
	// kernel (err nil), or with the reason it was not: ErrClosed when the connection closed first, the
	// connection's error (an *OpError, such as a reset by the peer) when it failed, or an error wrapping
	// io.ErrUnexpectedEOF when the file ended before n bytes (the connection is then aborted, since its
	// peer was promised bytes that will never come). Queued file bytes count towards the high water mark
	// of back-pressure. SendFile returns ErrClosed on a closed or closing connection, or an error for a
	// bad region (a negative offset or length, or an end past the largest int64) or a file that cannot be
	// sent (not regular, or opened write-only); callback does not run then. Where the kernel cannot send f
	// without reading it (a procfs file), the engine reads it instead.
	SendFile(f *os.File, offset, n int64, callback func(c Conn, err error)) error
	// Execute runs fn on the connection's loop, serialised with its callbacks; Write and the inbound
	// methods may be used inside fn. It returns ErrClosed on a closed connection, or ErrQueueFull, and
	// an error for a nil fn. A connection closing when fn's turn comes (on std, one whose Close has
	// been called) skips it: fn runs before OnClose or not at all.
	Execute(fn func(c Conn)) error

	// Close closes the connection gracefully: reading stops, the output accepted before Close is
	// flushed, then the connection is shut down and OnClose runs. Calling it again returns ErrClosed.
	// A peer that reads none of the output for the flush timeout (WithFlushTimeout) is reset, and
	// OnClose reports ErrFlushTimeout.
	// Output is accepted on the loop: an AsyncWrite (or a Write in an Execute) from another goroutine
	// whose turn on the loop has not come when Close is called is refused, its callback getting
	// ErrClosed. To send and then close from another goroutine, close in the AsyncWrite's callback.
	Close() error
	// Abort closes the connection at once, from any goroutine: the output not yet sent is dropped, and a
	// TCP connection is reset, so that the peer cannot take the cut stream for a whole one. OnClose
	// reports reason (ErrClosed when reason is nil), unless it has run already. It ends a graceful close
	// in progress too (a peer that reads slowly is otherwise waited for); on a connection that is
	// already released it does nothing. Use it where a protocol gives up on a peer, as a write deadline
	// does.
	Abort(reason error)
	// CloseWrite flushes the output accepted before it and then shuts down the sending side (the peer
	// reads EOF); the connection stays open for reading. Later writes return ErrClosed.
	CloseWrite() error
	// SetIdleTimeout closes the connection after it has neither read nor written anything for d; 0 (or
	// a negative d) turns the timeout off.
	SetIdleTimeout(d time.Duration) error
	// SetReadPaused stops (true) or restarts (false) reading from the connection, for a handler whose
	// consumer is slower than its peer: a request body read by another goroutine, say. While reading is
	// paused no OnData runs and the engine takes nothing more from the socket, so the kernel's receive
	// buffer fills and TCP flow control holds the peer back; the peer's FIN or reset is not acted on
	// either. The bytes already buffered stay buffered. After a restart OnData runs at once if input is
	// buffered (bytes the handler left unconsumed, or that reached the engine before the pause took
	// effect: on uring, what the kernel had received for the connection in the same wait as the bytes
	// that made the handler pause, which can be some MiB, up to the loop's receive buffers), so OnData
	// may see only bytes it has seen before, and then for what arrives. OnData may likewise see buffered
	// bytes again when the engine's own back-pressure lifts. The pause is independent of the engine's
	// own back-pressure (the write water marks), and the idle timeout still runs. Call it from a callback
	// or through Execute; on a closing connection it does nothing. A failed write ends a pause: the
	// input the peer sent before its reset then goes to OnData, as Handler.OnClose says, on every engine.
	SetReadPaused(paused bool)

	// Context returns the value set by SetContext.
	Context() any
	// SetContext attaches a value to the connection, typically per-connection protocol state.
	SetContext(v any)
	// LocalAddr returns the local address.
	LocalAddr() net.Addr
	// RemoteAddr returns the peer's address.
	RemoteAddr() net.Addr
	// Loop returns the loop that serves the connection, for Execute and AfterFunc from other goroutines or
	// as the future.Executor that brings results back to it. On std a Loop is not serialised with the
	// connection's callbacks (see Loop): code that must touch the connection there goes through Execute.
	Loop() Loop
}

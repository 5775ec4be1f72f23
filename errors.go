package eddy

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// Errors reported by the engine. Test for them with errors.Is.
var (
	// ErrClosed is returned by operations on a connection that is closed or closing.
	ErrClosed = errors.New("eddy: connection closed")
	// ErrEngineStopped is returned by operations on an engine that was stopped or never started.
	ErrEngineStopped = errors.New("eddy: engine stopped")
	// ErrIdleTimeout is the reason given to OnClose when a connection was closed by its idle timeout.
	ErrIdleTimeout = errors.New("eddy: idle timeout")
	// ErrFlushTimeout is the reason given to OnClose when a graceful Close gave up on output the peer
	// did not read: nothing went out and the peer acknowledged nothing for the flush timeout
	// (WithFlushTimeout, 10 s by default). The rest of the output is dropped and the peer gets a reset
	// (on TCP), so that it cannot take the truncated stream for a whole one.
	ErrFlushTimeout = errors.New("eddy: close gave up on output the peer did not read")
	// ErrQueueFull is returned when a loop's task queue is full; the caller may retry later.
	ErrQueueFull = errors.New("eddy: loop task queue full")
	// ErrUnsupported is returned when the chosen engine does not support an operation or option (New
	// with WithEngine asking for an engine this system cannot give), and by SendFile for a file it
	// cannot send on any engine (one that is not a regular file) or on a connection that cannot send
	// files (etls's). It matches errors.ErrUnsupported as well.
	ErrUnsupported error = unsupportedError{}
)

// unsupportedError is the type of ErrUnsupported, which matches errors.ErrUnsupported too, so that
// code written against the standard library's value recognizes eddy's.
type unsupportedError struct{}

func (unsupportedError) Error() string { return "eddy: not supported" }

// Is reports whether target is errors.ErrUnsupported.
func (unsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// OpError is the error type returned for failed kernel operations, in the manner of [net.OpError]: it names
// the operation, the network and address involved, and wraps the underlying error (often a syscall.Errno),
// so errors.Is(err, syscall.ECONNRESET) works.
type OpError struct {
	// Op is the operation, such as "listen", "accept", "read", "write" or "setsockopt".
	Op string
	// Net is the network: "tcp", "tcp4", "tcp6" or "unix".
	Net string
	// Addr is the local or remote address the operation concerned, or nil.
	Addr net.Addr
	// Err is the underlying error.
	Err error
}

// Error formats the error as "op net addr: err".
func (e *OpError) Error() string {
	if e == nil {
		return "<nil>"
	}
	s := e.Op
	if e.Net != "" {
		s += " " + e.Net
	}
	if e.Addr != nil {
		s += " " + e.Addr.String()
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the error is a timeout.
func (e *OpError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary reports whether the error is temporary, as net.OpError's does. With Timeout, it makes an
// *OpError a net.Error, for code that asserts that interface (err.(net.Error)); net.Error deprecates
// Temporary, and so does eddy: use errors.Is with the errno, or Timeout.
func (e *OpError) Temporary() bool {
	var t interface{ Temporary() bool }
	return errors.As(e.Err, &t) && t.Temporary()
}

// outputErr is the error given to the AsyncWrite and Flushed callbacks whose bytes a connection that
// ended with reason never handed to the kernel: the connection's *OpError (a reset by the peer, say),
// which is what failed the output, as SendFile's callbacks get it; ErrClosed for every other end.
func outputErr(reason error) error {
	var oe *OpError
	if errors.As(reason, &oe) {
		return reason
	}
	return ErrClosed
}

// opError wraps err as an *OpError unless it is nil. A syscall.Errno is wrapped in an *os.SyscallError
// naming the system call, as package net does.
func opError(op, network string, addr net.Addr, syscallName string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if syscallName != "" && errors.As(err, &errno) {
		err = os.NewSyscallError(syscallName, errno)
	}
	return &OpError{Op: op, Net: network, Addr: addr, Err: err}
}

// Package etls runs TLS on eddy's event loops: [Server] and [Client] wrap an [eddy.Handler] so that
// it sees the plaintext of every connection, with the same callbacks and the same [eddy.Conn]
// methods as on a plain connection, and crypto/tls does the cryptography (no fork of it, no cgo).
//
// Each connection's handshake runs on a goroutine of its own, since crypto/tls performs it with
// blocking reads and writes: the loop feeds that goroutine what arrives and sends what it writes.
// The handler's OnOpen runs once the handshake has succeeded; a connection whose handshake fails
// or times out is closed without any callback of the wrapped handler (the Handler's
// OnHandshakeError hears of it). From then on the goroutine is gone and the connection lives on
// its loop like any other: inbound records are decrypted on the loop when they arrive, into a
// plaintext buffer that Peek, Next and Discard read, and Write encrypts on the loop into the
// connection's output. An established TLS connection holds no goroutine.
//
// What differs from a plain connection is written on the methods of [Conn]: AsyncWrite, Close and
// Execute from other goroutines run their work on the loop (records must be encrypted in the
// order they are sent); Close and CloseWrite send TLS's close_notify first, as do the engine's own
// closes (an idle timeout, Engine.Stop: see eddy.ClosingHandler); the peer's close_notify
// is reported like its FIN; and SendFile is not supported, since the file's bytes must pass
// through user space to be encrypted (it returns an error wrapping [eddy.ErrUnsupported],
// which matches [errors.ErrUnsupported] too).
//
// Against crypto/tls on a net.Conn, the stream differs in one way on the wire: after an error of the
// input (a TLS error, which crypto/tls answers with its alert, or a FIN inside a record, reported as
// io.ErrUnexpectedEOF) etls closes the connection without close_notify, so that the peer cannot take
// the cut stream for a whole one, where an application's Close of a tls.Conn whose Read failed sends
// one.
//
// The design, and what it costs against a plain connection, is in docs/tls.md.
package etls

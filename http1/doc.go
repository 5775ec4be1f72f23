// Package http1 is eddy's HTTP/1.1 server and client on the engine. The
// request parser is the first piece; the server, the client and the
// net/http Handler adapter are built on it.
//
// # Parsing on an event loop
//
// A connection on an eddy loop exposes its inbound bytes as a view of what
// has arrived so far (Peek) and lets the caller drop a prefix (Discard).
// [Parser.Parse] fits that shape: it is given the whole view every time,
// keeps its scan position between calls, and reports either a complete
// [RequestHead] with the number of bytes it occupies, or that it needs more
// bytes. Each byte is looked at a bounded number of times, so a peer that
// sends one byte at a time costs linear work, not quadratic.
//
// The head does not copy: its method, target and header fields are
// sub-slices of the buffer given to Parse. They are valid until the caller
// discards those bytes or calls Parse again; [RequestHead.Clone] makes a copy
// that owns its memory, for handing the request to another goroutine.
//
// Bodies are decoded incrementally by [ChunkedDecoder] (chunked transfer
// coding) and [LengthDecoder] (Content-Length), or by [BodyDecoder], which
// picks one from the head. They return the payload as sub-slices of their
// input whenever they can.
//
// # Errors and limits
//
// Every way a request can be refused is an [*Error] that carries the status
// code to answer (400, 413, 414, 431, 501 or 505); [StatusOf] extracts it.
// The parser never looks past its limits ([Parser.MaxRequestLineBytes],
// [Parser.MaxHeaderBytes], [Parser.MaxHeaders]), whatever the buffer holds.
//
// # Choices where RFC 9112 leaves room
//
//   - A bare LF ends a line of the head (RFC 9112 §2.2 allows it, and
//     net/http does the same); set [Parser.RejectBareLF] to refuse it. Inside
//     chunked framing a bare LF is always refused, as a defence against
//     request smuggling.
//   - Empty lines before the request line are skipped (RFC 9112 §2.2).
//   - obs-fold, whitespace before the first header line and whitespace
//     between a field name and its colon are refused with 400.
//   - A request with both Transfer-Encoding and Content-Length is refused
//     with 400 (RFC 9112 §6.1 allows it; it closes a smuggling vector), as is
//     Transfer-Encoding in an HTTP/1.0 request. The only transfer coding
//     understood is chunked; others are answered with 501.
//   - Only HTTP/1.0 and HTTP/1.1 are accepted; any other version is 505.
//   - Expect values other than 100-continue are left to the caller.
package http1

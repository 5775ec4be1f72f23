// Package http1 is eddy's HTTP/1.1 server: a drop-in for net/http's Server that serves
// connections on eddy's event loops, and the incremental request parser it is built on; and its
// client, [Transport], an http.RoundTripper whose connections live on event loops too.
//
// # The server
//
// [Server] has the fields and methods of net/http's Server (Addr, Handler, the timeouts,
// MaxHeaderBytes, ErrorLog, BaseContext, ConnContext, ConnState, ListenAndServe, Serve, Shutdown,
// Close, SetKeepAlivesEnabled, RegisterOnShutdown), so a program switches by changing one type:
//
//	srv := &http1.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
//	log.Fatal(srv.ListenAndServe())
//
// Each connection lives on an event loop, with no goroutine of its own: the loop parses what
// arrives with a [Parser] and, between requests, the connection holds no buffer. A request goes
// to one of two kinds of handler:
//
//   - A net/http [net/http.Handler] (Server.Handler) runs on a worker pool
//     (github.com/eddyio/eddy/pool) with a real *http.Request and an http.ResponseWriter. The
//     requests a loop parses in one iteration go to the pool together, one worker serving them
//     in turn while another stands by in case a handler blocks. The body is streamed to the
//     handler as it arrives, through a bounded pipe fed by the loop; once more than 256 KiB wait
//     ahead of the handler (body bytes beyond the pipe, or pipelined requests), the connection
//     stops reading (eddy.Conn.SetReadPaused) until the handler has taken them down to half of
//     that, so TCP flow control holds back a client that sends faster than its handler reads, as
//     with net/http. The response is built in a buffer and handed to the loop in batches (one
//     AsyncWrite per flush, the last one together with the end of the request), and the next
//     batch waits until the previous one reached the kernel, so a slow client holds back its
//     handler rather than the server's memory.
//   - A [NativeHandler] (Server.Native) runs on the loop itself with a view of the request and a
//     reused [ResponseBuffer], allocating nothing; see NativeHandler for when to use it.
//
// Pipelined requests are served one at a time and answered in order: bytes of later requests
// wait in the connection's input until the current response is out. The next request is served
// once the response is written to the connection (a loop answers the native requests it has in one
// go), until more than the engine's default high-water mark (eddy.DefaultHighWater, 4 MiB) of the
// output is not known to have reached the kernel: the rest then waits, reading paused, until the
// client has taken that output, so a client that pipelines requests and does not read the
// responses holds the server's memory back as with net/http.
//
// # What net/http handlers see
//
// The request is what net/http's server would give: canonical header keys, Host moved to
// Request.Host, Transfer-Encoding to Request.TransferEncoding, declared trailers in Request.Trailer
// (their values filled by the body's Read that returns io.EOF, in the reader's goroutine), Pragma:
// no-cache mirrored as Cache-Control, a context (under ConnContext's, under BaseContext's) with
// http.LocalAddrContextKey (and http.ServerContextKey, see below) that is cancelled
// when the connection closes, when the client shuts down its sending side (whose answer is still
// sent), when a read of the body passes its deadline (ReadTimeout, or
// http.ResponseController.SetReadDeadline), or when the handler returns. The response follows
// net/http's rules, and the differential test holds it to them: Date, Content-Type sniffed when
// unset, Content-Length for a body of up to 2048 bytes written by a handler that returns without
// flushing, chunked encoding otherwise (or, for HTTP/1.0, a body delimited by closing the
// connection), no body for HEAD, 204 and 304, informational (1xx) responses sent at once (to
// HTTP/1.1 clients, see below), "100 Continue" sent automatically on the first read of a body that
// expects it, trailers, keep-alive and Connection: close as net/http decides them.
// The ResponseWriter implements http.Flusher, http.Hijacker and the methods
// http.ResponseController uses: FlushError, SetReadDeadline, SetWriteDeadline, EnableFullDuplex
// and Hijack. As with net/http's
// connection deadlines, another goroutine of the handler's may set a deadline while a Write, Flush,
// file copy or body Read waits for the client (a watchdog bounding a stall): the waiting call looks
// at the new deadline, and fails with os.ErrDeadlineExceeded once it has passed.
//
// Differences from net/http, on purpose or for want of an engine feature:
//
//   - The request body stays readable after the response has started (net/http needs
//     EnableFullDuplex for that). So, as with net/http's full duplex, a head sent before the
//     handler returns (a large or flushed response) does not say "Connection: close" for a body
//     the handler might still read; if the handler then leaves more than 256 KiB of it unread
//     (counted past what the body's pipe holds when the handler returns, unless the handler
//     closed the body, whose unread bytes count, as in net/http), the connection closes
//     after the response without that warning, and a client that
//     pipelined its next request gets no answer to it. A response written whole when the handler
//     returns says it, as net/http does.
//   - A hijacked connection (a WebSocket upgrade, a CONNECT tunnel) stays the engine's: its loop
//     reads it into the net.Conn that Hijack returns (a buffer of up to 256 KiB, past which it
//     stops reading, so that TCP holds the client back), and the net.Conn's writes go through
//     the loop. That net.Conn is neither a *net.TCPConn nor a *tls.Conn (it has CloseWrite), it
//     reads the bytes the client sent after the request itself (the bufio.Reader Hijack returns
//     starts empty), and Close, or Shutdown once the requests are done, closes it, where
//     net/http's forget hijacked connections. Body bytes the handler wrote before Hijack are sent
//     ahead of the connection's own (net/http drops them; a head given with WriteHeader goes out
//     in both). A hijack while a chunked request body is still to be read (neither read to its
//     end nor closed) fails. As in net/http, a body the handler closed is dropped and the
//     net.Conn reads what follows it, the deadlines start cleared, and Shutdown does not wait
//     for the handlers of hijacked connections. Native handlers have no hijack.
//   - Not supported: HTTP/2.
//   - ConnContext and ConnState are called on the connection's event loop, so they must not
//     block (net/http calls them on the accepting goroutine and the connection's). The net.Conn
//     they are given is the connection's (its addresses, and Close closes it) and the one Hijack
//     returns, but not a *net.TCPConn (nor a *tls.Conn): until a handler hijacks the connection,
//     its Read, Write, CloseWrite and deadlines fail, the bytes being the server's. ConnState
//     reports the states of native handlers' connections too. On a TLS server a connection is
//     reported from the end of its handshake, ConnContext called then too (a failed handshake
//     is not reported; net/http reports StateNew and StateClosed).
//   - BaseContext is given the listener of Serve (or ServeTLS, without a TLS layer over it). The
//     server that listens itself (ListenAndServe, Start) has no net.Listener, each loop
//     accepting on a socket of its own: BaseContext is given one whose Addr is the server's
//     address and whose Accept and Close fail.
//   - RegisterOnShutdown's functions run once, when the first Shutdown begins, and not at all if
//     Close came first; net/http runs them on every call of Shutdown, one after Close included.
//     Shutdown closes a connection that has sent nothing yet at once, as an idle one; net/http
//     gives a new connection up to 5 s to send its request first.
//   - A body the handler does not read (or closes unread), sent with "Expect: 100-continue", is
//     not waited for: the answer says "Connection: close" and the connection closes after it.
//     net/http waits for the client to send the body first (its Body.Close, also the handler's,
//     blocks until the body comes or the client goes). Likewise, after a body read that failed on
//     its deadline, the connection closes after the answer, which goes out at once; net/http first
//     reads the rest of the body (waiting for it if the handler cleared the deadline), and keeps
//     the connection if that succeeds.
//   - The request context's http.ServerContextKey holds a net/http Server that describes this
//     one (Addr, Handler, the timeouts, MaxHeaderBytes, and an ErrorLog that logs as the server
//     does) but never runs: its methods must not be called. Code under a server looks for the
//     key; httputil.ReverseProxy, for one, panics with http.ErrAbortHandler when the backend's
//     body fails midway only if it finds it, so that the client sees the response cut short.
//   - TLS (ListenAndServeTLS, StartTLS, ServeTLS) runs through package etls: the handshake on a
//     goroutine, bounded as in net/http by the smallest of ReadHeaderTimeout, ReadTimeout and
//     WriteTimeout that is set (etls.DefaultHandshakeTimeout, 10 s, when none is), then records
//     encrypted and decrypted on the loop; ALPN offers http/1.1 only. Files are copied into the
//     response rather than sent with sendfile.
//   - Server.MaxBodyBytes bounds bodies server-wide (413), which net/http leaves to
//     http.MaxBytesReader. http.MaxBytesReader works, but cannot tell the ResponseWriter to close
//     the connection (it does that through an unexported method of net/http's): after a body
//     refused with it the connection stays open, the rest of the body (up to 256 KiB) is read
//     and dropped, and a pipelined request is served. Set MaxBodyBytes to refuse large bodies
//     outright.
//   - A chunked body the handler left unread, and whose end has not arrived when the handler
//     returns, gets "Connection: close": net/http first reads up to 256 KiB of it to see whether
//     it ends there, waiting for it to arrive, where the loop drops only what has arrived before
//     the head is written. (A Content-Length body gets it as in net/http, when 256 KiB or more of
//     it are left.)
//   - A read of the request body into an empty slice returns at once, as net/http's does for a
//     Content-Length body (its chunked body waits for the first chunk's size line). A body the
//     client cuts short (it shuts down its sending side or goes before the body's end) fails
//     with io.ErrUnexpectedEOF, on that read and every later one, also in a chunked body's
//     trailer section, and the answer says "Connection: close". net/http's later reads of a
//     Content-Length body return io.EOF, its answer then does not say close, and it fails a
//     trailer section cut short with "http: suspiciously long trailer after chunked body".
//   - A request line longer than DefaultMaxRequestLineBytes is answered with 414.
//   - A handler that panics gets a 500 answer if nothing was sent yet (net/http closes the
//     connection without one); the connection is closed either way.
//   - A handler that declared a Content-Length longer than what it wrote, and whose head goes out
//     when it returns, gets "Connection: close" in that head (RFC 9112 §9.6); net/http closes
//     the connection without saying so.
//   - A Content-Length the handler set that is not a valid length is logged and dropped, as in
//     net/http, before the framing is decided: a body written whole gets a Content-Length of its
//     own. net/http drops it only from the map, not from the head it sends, so it chunks that
//     body (HTTP/1.1), or sends the invalid field as it is (HTTP/1.0, HEAD).
//   - Once a write to the connection has failed (at the write deadline, or with the client
//     gone), every later Write, Flush or file copy of the response fails with that error at once;
//     net/http's Write still takes up to its 2 KiB buffer before it reports the failure.
//   - When the worker pool is full a request gets 503 and the connection is closed.
//   - Serve adopts the listener it is given (eddy.WithListeners): one loop accepts on it and hands
//     connections to the others, where ListenAndServe gives each loop its own SO_REUSEPORT
//     socket. Shutdown closes the listeners first (Engine.StopAccepting), so connections made
//     while it drains are refused.
//   - A body copied from an *os.File (io.Copy, io.CopyN, http.ServeContent, http.FileServer over
//     http.Dir) into a response with a Content-Length goes out with the engine's Conn.SendFile:
//     sendfile(2) on epoll and std, splices through a pipe on uring. Other bodies, and
//     multi-range responses (which net/http writes through a pipe), are copied. A file longer
//     than the Content-Length is not sent past it: the copy fails with http.ErrContentLength, as
//     a Write would, where net/http's sendfile sends the rest of the file after the body.
//   - No informational (1xx) response goes to an HTTP/1.0 client, which has none (RFC 9110 §15.2:
//     a server must not send one); net/http sends a handler's WriteHeader(103) to it. The header
//     fields stay for the final response.
//   - A NativeHandler's informational (1xx) responses (ResponseBuffer.SetStatus) go out with its
//     final response when ServeNative returns, not at once; none goes to an HTTP/1.0 client, and
//     101 (Switching Protocols) panics, a native handler having no way to take the connection over.
//   - The ResponseWriter and the map its Header method returns are reused for later requests
//     once the handler has returned; net/http makes new ones, but forbids their use after
//     ServeHTTP returns too.
//     So http.ResponseController's SetWriteDeadline and SetReadDeadline, called after ServeHTTP
//     returned (from a goroutine the handler left behind, a watchdog say), do not do what they do
//     with net/http, whose response passes them to the connection: there they return nil while
//     the connection is open, and move the deadline of its next response too (net/http clears
//     the write deadline only once that response is done, or sets WriteTimeout's as the request
//     is read), and once the connection has closed they return an *net.OpError wrapping
//     net.ErrClosed. With this package such a call returns nil; it does nothing while the
//     response waits in the pool (each request starts with its own deadlines), but once the
//     response serves another request, perhaps on another connection, it moves that request's
//     deadline, and it races with the server's use of the response (the race detector reports
//     it). Stop such goroutines before the handler returns.
//
// # The client
//
// [Transport] is the Transport of an ordinary http.Client, or, through [Transport.RoundTripAsync],
// a source of futures of responses. Its keep-alive connections sit on an eddy engine's loops: an
// idle one costs no goroutine and no buffer (net/http's costs two goroutines and about 20 KiB),
// and a response is read by the loop into a bounded pipe that the body's reader drains. It speaks
// http and https (through package etls; no proxies or HTTP/2); docs/client.md has the design and
// the figures.
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
// The server, like net/http, bounds the head by its bytes only
// (Server.MaxHeaderBytes), not by its number of fields.
// The server answers a refused request as net/http does: the status, a plain
// text body naming the reason, "Connection: close", and the connection closed.
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
//     understood is chunked: a request whose last coding is not chunked
//     (gzip alone, say) is refused with 400, since its length cannot be
//     determined (RFC 9112 §6.3), and one with another coding before
//     chunked with 501 (net/http answers both with 501). Empty elements of the list are ignored,
//     as RFC 9110 §5.6.1 requires, and several Transfer-Encoding fields make one list:
//     "Transfer-Encoding: , chunked" is served as chunked, where net/http answers 501 to anything
//     but one field saying chunked.
//   - An HTTP/1.1 request without Host is refused with 400 (RFC 9112 §3.2), CONNECT's too;
//     net/http serves a CONNECT without one. The asterisk-form target "*" is taken only with
//     OPTIONS (RFC 9112 §3.2.4), other methods get 400; net/http serves "GET *". Likewise the
//     authority-form (host:port, the port required) is taken only with CONNECT, and CONNECT only
//     with it, and an absolute-form target needs an authority ("scheme://"): net/http serves
//     "CONNECT /path" (for net/rpc), "CONNECT host", "GET host:80" and "GET urn:x".
//   - Trailer fields are checked as header fields are (no obs-fold, no whitespace before the
//     colon, no bare LF), and chunk extensions for control octets: a body that breaks these
//     fails its Read, where net/http takes it. The trailer section may take up to
//     DefaultMaxTrailerBytes (net/http's must end within its 4 KiB read buffer). A chunk size
//     may have any number of leading zeros, and whitespace before ';' (RFC 9112 §7.1), both of
//     which net/http refuses.
//   - A request head cut short by ReadHeaderTimeout (or ReadTimeout) closes the connection
//     without an answer; net/http answers 400 first.
//   - HTTP/1.0 and HTTP/1.1 are served, and a later HTTP/1.x is served as
//     HTTP/1.1 (RFC 9110 §2.5), as net/http does; any other major version
//     is answered with 505 (RFC 9110 §15.6.6).
//   - The server answers expectations other than 100-continue with 417, as
//     net/http does.
//   - An HTTP/1.0 request whose Connection field names both keep-alive and
//     close gets a response without keep-alive, and the connection closes
//     after it (RFC 9112 §9.6); net/http keeps it open.
package http1

// Package http compares eddy's HTTP/1.1 server (package http1, in both handler styles) with
// net/http, github.com/valyala/fasthttp and the nbhttp package of github.com/lesismal/nbio on the
// plaintext benchmark: "Hello, World!" to GET /.
//
// Start runs any of the servers in-process; it is shared by the Go benchmark of this package,
// which drives each server with raw keep-alive clients in the same process,
//
//	go test -run=NONE -bench=Plaintext -benchmem ./http/
//
// and by the plaintext command, which runs one server in its own process so that it can be pinned
// to a core and measured with wrk from another (wrk.sh does the whole run). The idleconns command
// holds many idle keep-alive connections open, to measure the server's memory per connection.
//
// Each server does the idiomatic fast thing of its kind: a net/http handler that sets
// Content-Type (no sniffing) for net/http and for http1's nethttp style, a native handler for
// http1's native style, a fasthttp.RequestHandler with the default server for fasthttp, and for
// nbhttp a net/http handler on an nbhttp.Engine with its defaults (non-blocking I/O on the pollers,
// handlers on its task pool) that also sets Content-Length, without which nbhttp sends every
// response chunked.
package http

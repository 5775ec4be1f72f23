package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/eddyio/eddy"
)

// HTTP mode: every connection sends the same request, keep-alive, up to cfg.pipeline of them in flight,
// and reads the responses with responseParser, in order. A response whose status is not 2xx or 3xx (or,
// with --expect-status, not that status) is counted as an error. When the server ends a connection with
// "Connection: close" the client dials again and sends there the requests that were still unanswered.

// httpTarget is what every client of an http run sends and expects.
type httpTarget struct {
	request []byte      // the whole request, head and body
	head    bool        // the method is HEAD: responses have no body
	expect  int         // the status expected, or 0 for any 2xx or 3xx
	tls     *tls.Config // https: the connections' TLS (package etls), nil for http
}

// newHTTPTarget builds the request of cfg and returns it with the address to dial. The address is the
// URL's host, with port 80 when it has none, unless --addr was given (to reach the server through a
// unix socket, say).
func newHTTPTarget(cfg loadConfig) (*httpTarget, string, error) {
	u, err := parseURL(cfg.url)
	if err != nil {
		return nil, "", err
	}
	dialTo := cfg.addr
	if !cfg.addrSet {
		dialTo = urlDialAddr(u)
	}
	method := strings.ToUpper(cfg.method)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: eddy-load\r\n", method, u.RequestURI(), hostField(u.Host))
	if method == "POST" || cfg.bodySize > 0 {
		fmt.Fprintf(&b, "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n", cfg.bodySize)
	}
	b.WriteString("\r\n")
	req := []byte(b.String())
	for i := range cfg.bodySize {
		req = append(req, "0123456789abcdef"[i%16])
	}
	t := &httpTarget{request: req, head: method == "HEAD", expect: cfg.expectStatus}
	if u.Scheme == "https" {
		t.tls = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: cfg.insecure, NextProtos: []string{"http/1.1"}}
	}
	return t, dialTo, nil
}

// hostField returns the Host field of a request to host (a URL's host[:port]): without the zone of an
// IPv6 literal, which names an interface of this machine only (RFC 6874 §4; net/http removes it too).
func hostField(host string) string {
	if !strings.HasPrefix(host, "[") {
		return host
	}
	i, j := strings.IndexByte(host, '%'), strings.IndexByte(host, ']')
	if i < 0 || j < i {
		return host
	}
	return host[:i] + host[j:]
}

// urlDialAddr returns the address to dial for u: its host, with port 80 or 443 when it has none.
func urlDialAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return "tcp://" + net.JoinHostPort(u.Hostname(), port)
}

// parseURL parses --url, which must be http://host[:port]/path or https://, with a port, if any, of
// 0..65535. It refuses too what would not go on the wire as it is, as http1.Transport refuses it:
// a host that is not ASCII, or has an octet that a Host field may not (url.Parse takes '<', '>' and
// '"'), or makes no address to dial (url.Parse takes "http://]"), and a request URI with a space
// or a control character (url.Parse keeps the query raw).
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(s, "://"):
		return nil, fmt.Errorf("--url: %v", err)
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Hostname() == "":
		// Without a scheme, "127.0.0.1:8080/" is an error of url.Parse's about colons in paths.
		return nil, fmt.Errorf("--url %q: want http://host[:port]/path or https://", s)
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return nil, fmt.Errorf("--url %q: %v", s, err)
		}
	}
	for i := 0; i < len(u.Host); i++ {
		if c := u.Host[i]; c >= 0x80 {
			return nil, fmt.Errorf("--url %q: a non-ASCII host must be given in its ASCII (IDNA) form", s)
		} else if !hostOctet(c) {
			return nil, fmt.Errorf("--url %q: invalid host %q", s, u.Host)
		}
	}
	if _, _, err := splitAddr(urlDialAddr(u)); err != nil {
		return nil, fmt.Errorf("--url %q: %v", s, err)
	}
	uri := u.RequestURI()
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("--url %q: a space or control character in the request URI %q: escape it (%%20)", s, uri)
		}
	}
	return u, nil
}

// hostOctet reports whether c may appear in a Host field (RFC 3986 §3.2.2): in a reg-name
// (unreserved, sub-delims, '%' of pct-encoded), an IP literal's brackets or its zone's '%', or the
// ':' before the port.
func hostOctet(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~!$&'()*+,;=%[]:", c) >= 0
}

// httpState is a client's side of the HTTP protocol.
type httpState struct {
	parser responseParser
}

func (h *httpState) init(t *httpTarget) { h.parser.noBody = t.head }

// good reports whether status is what the target expects.
func (t *httpTarget) good(status int) bool {
	if t.expect != 0 {
		return status == t.expect
	}
	return status >= 200 && status < 400
}

// readHTTP parses the responses c has received, records them, and sends the next requests. The bytes of
// a response not received whole yet stay buffered in c until more arrive.
func (cl *client) readHTTP(c eddy.Conn, now int64) {
	sh, p, t := cl.shard, &cl.http.parser, cl.r.http
	b, _ := c.Peek(-1)
	used := 0
	for used < len(b) {
		n, done, err := p.Parse(b[used:])
		used += n
		if err != nil {
			cl.fail(now, "%v (%s in flight)", err, plural(cl.n, "request"))
			cl.lose()
			cl.reconnect()
			return
		}
		if !done {
			break
		}
		if cl.n == 0 {
			cl.fail(now, "a response to no request (status %d)", p.Status())
			cl.reconnect()
			return
		}
		status := p.Status()
		good := t.good(status)
		if in := sh.complete(cl, now, good, 0); !good && in {
			cl.statusError(now, status)
		}
		if p.Close() {
			sh.addBytes(cl, now, used)
			cl.reconnect()
			return
		}
	}
	c.Discard(used)
	sh.addBytes(cl, now, used)
	cl.fill(now)
}

// addBytes counts n response bytes cl read at now, unless the window had ended or closed: the responses
// read then are no round trips (shard.complete), and their bytes no part of the window's (they were
// counted, and the bytes were more than the responses counted held).
func (sh *shard) addBytes(cl *client, now int64, n int) {
	if sh.within(cl, now) {
		sh.bytes += uint64(n)
	}
}

// statusError counts a response with a status the target does not expect.
func (cl *client) statusError(now int64, status int) {
	sh := cl.shard
	sh.statusErrors++
	if sh.failed(now) {
		want := "2xx or 3xx"
		if e := cl.r.http.expect; e != 0 {
			want = strconv.Itoa(e)
		}
		sh.firstErr = fmt.Errorf("connection %d: status %d, want %s", cl.id, status, want)
	}
}

// reconnect closes cl's connection and dials again. The requests still in flight are sent again on the
// new connection.
func (cl *client) reconnect() {
	cl.http.parser = responseParser{noBody: cl.http.parser.noBody}
	cl.detach()
	cl.r.redial(cl)
}

// httpClosed handles the server closing cl's connection (or its failing) during the run: a response
// delimited by the end of the connection completes; requests left unanswered are lost and counted as
// an error, as is a read or write error; the client then reconnects. A server closing an idle
// keep-alive connection is no error.
func (cl *client) httpClosed(now int64, err error) {
	p := &cl.http.parser
	ended := err == nil || errors.Is(err, io.EOF) // the server ended the connection, rather than its failing
	done, perr := p.EOF()
	if !ended {
		done, perr = false, nil // a body delimited by the end of the connection was cut short: err says why
	}
	switch {
	case done && cl.n > 0:
		ok := cl.r.http.good(p.Status())
		if in := cl.shard.complete(cl, now, ok, 0); !ok && in {
			cl.statusError(now, p.Status())
		}
	case perr != nil:
		cl.fail(now, "%v", perr)
	}
	if done && p.Close() {
		// A response delimited by the end of the connection, as its framing said: the requests
		// pipelined behind it were never to be answered here, and go again on a new connection, as
		// after a "Connection: close" response (OnOpen sends them).
		*p = responseParser{noBody: p.noBody}
		cl.r.redial(cl)
		return
	}
	switch {
	case perr != nil: // counted above, with the requests it leaves unanswered
	case !ended:
		cl.fail(now, "%v", err)
	case cl.n > 0:
		cl.fail(now, "server closed the connection with %s unanswered", plural(cl.n, "request"))
	}
	cl.lose()
	*p = responseParser{noBody: p.noBody}
	cl.r.redial(cl)
}

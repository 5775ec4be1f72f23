package http1

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// Reasons a head the parser accepted cannot become an *http.Request. net/http answers both with a
// plain 400.
var (
	errTargetURL  = badRequest("malformed request-target")
	errTrailerKey = badRequest("bad trailer key")
)

// newExchange makes the *http.Request for the head h, which occupies buf[:n], and the response
// that answers it. Every string of the request (method, target, header names and values) is cut
// from one copy of the head, so the request costs one allocation for all its text; the response
// comes from a pool.
func (sc *conn) newExchange(h *RequestHead, n int, buf []byte) (*response, error) {
	s := sc.srv
	hs := sc.http
	_, tspan, spans := sc.rd.p.lastHead()
	block := string(buf[:n])
	target := block[tspan[0]:tspan[1]]
	a := new(requestAlloc)
	u := &a.url
	if h.Form != FormOrigin || !plainOriginURL(u, target) {
		var err error
		if u, err = parseTarget(h, target); err != nil {
			return nil, errTargetURL
		}
	}
	hdr, hostValue, trailer, err := buildHeader(block, spans, h.Chunked, a.vals[:0])
	if err != nil {
		return nil, err
	}
	host := u.Host
	if host == "" {
		host = hostValue
	}
	ctx := &a.ctx
	ctx.parent = hs.ctx
	base := http.Request{
		Method:        h.MethodString(),
		URL:           u,
		Proto:         protoString(h.ProtoMinor), // as sent: net/http shows "HTTP/1.2" too
		ProtoMajor:    1,
		ProtoMinor:    h.ProtoMinor,
		Header:        hdr,
		Body:          http.NoBody,
		ContentLength: h.ContentLength,
		Close:         !h.KeepAlive,
		Host:          host,
		Trailer:       trailer,
		RemoteAddr:    hs.remote,
		TLS:           hs.tls,
		RequestURI:    target,
	}
	if h.Chunked {
		base.TransferEncoding = []string{"chunked"}
	}
	// WithContext is inlined and its copy does not escape: the request lands in a, with its
	// context set, at the cost of a copy rather than an allocation.
	a.req = *base.WithContext(ctx)
	req := &a.req

	w := responses.Get().(*response)
	w.sc, w.c, w.req, w.ctx = sc, sc.c, req, ctx
	w.minor = h.ProtoMinor
	w.isHEAD = req.Method == http.MethodHead
	w.wantsClose = req.Close
	if connection := hdr["Connection"]; len(connection) > 0 {
		w.wantsClose = w.wantsClose || hasToken(connection[0], "close")
		// A close beside the keep-alive wins (RFC 9112 §9.6: the server MUST close after the
		// response), where net/http keeps the connection.
		w.wants10KeepAlive = h.ProtoMinor == 0 && !w.wantsClose && hasToken(connection[0], "keep-alive")
	}
	w.contentLength = -1
	// Set in full, also to none: a late SetWriteDeadline, from a goroutine a handler left behind
	// (net/http forbids it, doc.go), may have reached w in the pool since recycle cleared it.
	w.wdl.moved = hs.deadlineMoved
	if d := s.cfg.writeTimeout; d > 0 {
		w.wdl.setAfter(d)
	} else {
		w.wdl.clear()
	}
	if h.Chunked || h.ContentLength > 0 {
		w.pipe = newBodyPipe(w, h.ContentLength)
		if d := s.cfg.readTimeout; d > 0 {
			w.pipe.dl.setAfter(d)
		}
		req.Body = w.pipe
		if h.ExpectContinue {
			w.expect = true
			w.pipe.canContinue.Store(true)
		}
	}
	return w, nil
}

// requestAlloc is what newExchange allocates for a request besides its text and header, in one
// piece: the http.Request, its URL (unless url.ParseRequestURI makes it) and its context.
type requestAlloc struct {
	req  http.Request
	url  url.URL
	ctx  requestContext
	vals [4]string // the first values of the first header keys (buildHeader)
}

// parseTarget makes the request's URL from its target as net/http does: an authority-form target
// of CONNECT goes in URL.Host, anything else through url.ParseRequestURI.
func parseTarget(h *RequestHead, target string) (*url.URL, error) {
	if h.Form == FormAuthority {
		u, err := url.ParseRequestURI("http://" + target)
		if err != nil {
			return nil, err
		}
		u.Scheme = ""
		return u, nil
	}
	return url.ParseRequestURI(target)
}

// plainOriginURL sets *u to the URL of an origin-form target whose path has only octets that
// net/url neither escapes nor unescapes, as url.ParseRequestURI would make it, and reports
// whether the target was such. The query is kept raw, as net/url keeps it.
func plainOriginURL(u *url.URL, target string) bool {
	path, query, hasQuery := target, "", false
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c == '?' {
			path, query, hasQuery = target[:i], target[i+1:], true
			break
		}
		if octets[c]&isPlainPath == 0 {
			return false
		}
	}
	*u = url.URL{Path: path, RawQuery: query}
	if hasQuery && query == "" {
		u.ForceQuery = true // "/p?": net/url keeps the lone '?'
	}
	return true
}

// buildHeader makes the request's header from the field lines at spans in block, as net/http's
// server presents it: canonical keys, values in order, Host taken out (and returned), a repeated
// Content-Length kept once, Transfer-Encoding taken out (it is in Request.TransferEncoding), and
// for a chunked body the declared Trailer keys moved to the returned trailer map. One slice holds
// the first value of every key: vals, if it has room, or a slice made for them; the map is made
// only if a field is kept.
func buildHeader(block string, spans []fieldSpan, chunked bool, vals []string) (h http.Header, host string, trailer http.Header, err error) {
	for i, f := range spans {
		name := block[f.name:f.colon]
		value := block[f.value:f.end]
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Host":
			host = value
			continue
		case "Transfer-Encoding":
			continue
		case "Content-Length":
			if _, ok := h[key]; ok {
				continue
			}
		case "Trailer":
			if chunked {
				if trailer, err = declareTrailers(trailer, value); err != nil {
					return nil, "", nil, err
				}
				continue
			}
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
			continue
		}
		if h == nil { // made at the first field kept, for the fields left
			// Sized for them, up to the lines of a usual head (maxKeptFieldLines): a head of many
			// lines, perhaps all of one field, must not size the map by its lines (800 KB of "A:"
			// lines allocated 64 MiB), as net/http's textproto caps its hint at 1,000.
			n := min(len(spans)-i, maxKeptFieldLines)
			h = make(http.Header, n)
			if cap(vals) < n {
				vals = make([]string, 0, n)
			}
		}
		vals = append(vals, value)
		k := len(vals) - 1
		h[key] = vals[k : k+1 : k+1]
	}
	if h == nil {
		h = make(http.Header)
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	return h, host, trailer, nil
}

// declareTrailers adds the keys listed in a Trailer field to t, with no values yet.
func declareTrailers(t http.Header, list string) (http.Header, error) {
	for elem := range strings.SplitSeq(list, ",") {
		key := textproto.TrimString(elem)
		if key == "" {
			continue
		}
		key = textproto.CanonicalMIMEHeaderKey(key)
		switch key {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return nil, errTrailerKey
		}
		if t == nil {
			t = make(http.Header)
		}
		t[key] = nil
	}
	return t, nil
}

// hasToken reports whether the comma-separated list v holds token, ignoring ASCII case: only ASCII
// case, as the parser's equalFold and net/http compare tokens (strings.EqualFold would take
// "cloſe", with U+017F, for "close").
func hasToken(v, token string) bool {
	for elem := range strings.SplitSeq(v, ",") {
		e := textproto.TrimString(elem)
		if len(e) != len(token) {
			continue
		}
		i := 0
		for i < len(e) && lower(e[i]) == lower(token[i]) {
			i++
		}
		if i == len(e) {
			return true
		}
	}
	return false
}

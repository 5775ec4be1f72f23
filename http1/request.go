package http1

import (
	"context"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Reasons a head the parser accepted cannot become an *http.Request. net/http answers both with a
// plain 400.
var (
	errTargetURL  = badRequest("malformed request-target")
	errTrailerKey = badRequest("bad trailer key")
)

// newExchange makes the *http.Request for the head h, which occupies buf[:n], and the response
// that answers it. Every string of the request (method, target, header names and values) is cut
// from one copy of the head, so the request costs one allocation for all its text.
func (sc *conn) newExchange(h *RequestHead, n int, buf []byte) (*response, error) {
	s := sc.srv
	hs := sc.http
	_, tspan, spans := sc.rd.p.lastHead()
	block := string(buf[:n])
	target := block[tspan[0]:tspan[1]]
	u, err := parseTarget(h, target)
	if err != nil {
		return nil, errTargetURL
	}
	hdr, hostValue, trailer, err := buildHeader(block, spans, h.Chunked)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if host == "" {
		host = hostValue
	}
	proto := "HTTP/1.1"
	if h.ProtoMinor == 0 {
		proto = "HTTP/1.0"
	}
	ctx, cancel := context.WithCancel(hs.ctx)
	base := http.Request{
		Method:        h.MethodString(),
		URL:           u,
		Proto:         proto,
		ProtoMajor:    1,
		ProtoMinor:    h.ProtoMinor,
		Header:        hdr,
		Body:          http.NoBody,
		ContentLength: h.ContentLength,
		Close:         !h.KeepAlive,
		Host:          host,
		Trailer:       trailer,
		RemoteAddr:    hs.remote,
		RequestURI:    target,
	}
	if h.Chunked {
		base.TransferEncoding = []string{"chunked"}
	}
	req := base.WithContext(ctx)

	connection := hdr.Get("Connection")
	w := &response{
		sc:               sc,
		c:                sc.c,
		req:              req,
		cancel:           cancel,
		minor:            h.ProtoMinor,
		isHEAD:           req.Method == http.MethodHead,
		wants10KeepAlive: h.ProtoMinor == 0 && hasToken(connection, "keep-alive"),
		wantsClose:       req.Close || hasToken(connection, "close"),
		contentLength:    -1,
	}
	if d := s.cfg.writeTimeout; d > 0 {
		w.writeDeadline = time.Now().Add(d)
	}
	if h.Chunked || h.ContentLength > 0 {
		w.pipe = newBodyPipe(w, h.ContentLength)
		if d := s.cfg.readTimeout; d > 0 {
			w.pipe.deadline = time.Now().Add(d)
		}
		req.Body = w.pipe
		if h.ExpectContinue {
			w.expect = true
			w.canContinue.Store(true)
		}
	}
	return w, nil
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

// buildHeader makes the request's header from the field lines at spans in block, as net/http's
// server presents it: canonical keys, values in order, Host taken out (and returned), a repeated
// Content-Length kept once, Transfer-Encoding taken out (it is in Request.TransferEncoding), and
// for a chunked body the declared Trailer keys moved to the returned trailer map. One slice holds
// the first value of every key.
func buildHeader(block string, spans []fieldSpan, chunked bool) (h http.Header, host string, trailer http.Header, err error) {
	h = make(http.Header, len(spans))
	vals := make([]string, len(spans))
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
		vals[i] = value
		h[key] = vals[i : i+1 : i+1]
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

// hasToken reports whether the comma-separated list v holds token, ignoring ASCII case.
func hasToken(v, token string) bool {
	for elem := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(textproto.TrimString(elem), token) {
			return true
		}
	}
	return false
}

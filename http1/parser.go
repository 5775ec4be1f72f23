package http1

import (
	"bytes"
	"slices"
)

// Default limits of a [Parser], used when a limit field is zero or negative.
const (
	// DefaultMaxRequestLineBytes bounds the request line, as common
	// servers do (8 KiB); a longer one is answered with 414.
	DefaultMaxRequestLineBytes = 8 << 10
	// DefaultMaxHeaderBytes bounds the whole head, request line and
	// empty lines before it included; it is net/http's DefaultMaxHeaderBytes.
	DefaultMaxHeaderBytes = 1 << 20
	// DefaultMaxHeaders bounds the number of header field lines.
	DefaultMaxHeaders = 100
)

// maxHeaderBytesCap keeps offsets within an int32 (fieldSpan) and sums of
// them within an int on 32-bit platforms.
const maxHeaderBytesCap = 1 << 29

// Parser parses HTTP/1.x request heads (RFC 9112) incrementally. Use one per
// connection and reuse it for every request: after warm-up it allocates
// nothing. The zero value is ready to use with the default limits; set the
// exported fields before the first call to Parse.
//
// The parser keeps its scan position between calls, so feeding it a request
// one byte at a time costs work linear in the request's size. It never looks
// at more than the limits allow, whatever the buffer holds beyond them.
type Parser struct {
	// MaxRequestLineBytes bounds the request line, without its line
	// terminator; past it Parse fails with status 414.
	MaxRequestLineBytes int
	// MaxHeaderBytes bounds the head, from the first byte given to Parse to
	// the empty line that ends it, included; past it Parse fails with 431.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header field lines; past it Parse
	// fails with 431.
	MaxHeaders int
	// RejectBareLF makes Parse refuse (400) a line ended by LF alone. By
	// default a bare LF ends a line, as RFC 9112 §2.2 permits.
	RejectBareLF bool

	head  RequestHead
	spans []fieldSpan
	err   *Error
	r     requestState
}

// requestState is the parser's state for one request; the zero value starts
// a new request.
type requestState struct {
	phase uint8
	pos   int // offset of the first byte of the current line
	scan  int // offset where the search for the end of the line resumes

	// The request line.
	method, target [2]int32
	form           TargetForm
	minor          uint8

	// What the header fields said.
	contentLength int64
	cl            [2]int32 // the first Content-Length value
	host          [2]int32
	hasCL         bool
	hosts         uint8 // Host fields seen, saturating at 2
	te            bool  // Transfer-Encoding present
	chunked       bool  // chunked seen in Transfer-Encoding
	chunkedLast   bool  // the last coding seen is chunked
	otherCoding   bool  // a coding other than chunked seen
	close         bool
	keepAlive     bool
	upgrade       bool
	expect100     bool
}

const (
	phaseRequestLine = iota // skipping empty lines, then the request line
	phaseFields             // header field lines
	phaseDone               // a head was returned; the next Parse starts anew
)

// Reset makes p forget any partly parsed request and any sticky error, so it
// can serve a new connection. The limits are kept.
func (p *Parser) Reset() {
	p.r = requestState{}
	p.spans = p.spans[:0]
	p.err = nil
}

// Parse parses the request head at the start of buf, which holds every byte
// received so far that the caller has not yet discarded.
//
// When the head is complete, Parse returns it and n, the number of bytes it
// occupies (empty lines before the request line included); the body, if
// any, or the next pipelined request starts at buf[n]. When the head is
// incomplete it returns (nil, 0, nil): call Parse again with the same bytes
// followed by more (the buffer may have moved in memory, but the bytes it
// holds must be the same). An error is an [*Error] carrying the status to
// answer; it is sticky until Reset.
//
// After a complete head, the next call starts a new request: discard n bytes
// and pass what follows.
func (p *Parser) Parse(buf []byte) (head *RequestHead, n int, err error) {
	if p.err != nil {
		return nil, 0, p.err
	}
	if p.r.phase == phaseDone {
		p.r = requestState{}
		p.spans = p.spans[:0]
	}
	if len(buf) < p.r.scan {
		panic("http1: Parse given fewer bytes than before without a Reset")
	}
	maxHead := limit(p.MaxHeaderBytes, DefaultMaxHeaderBytes, maxHeaderBytesCap)
	maxLine := limit(p.MaxRequestLineBytes, DefaultMaxRequestLineBytes, maxHead)
	end := min(len(buf), maxHead)
	for {
		r := &p.r
		window := end
		if r.phase == phaseRequestLine {
			// A line of maxLine bytes may still be followed by CR LF.
			window = min(window, r.pos+maxLine+2)
		}
		i := bytes.IndexByte(buf[r.scan:window], '\n')
		if i < 0 {
			r.scan = window
			switch {
			case r.phase == phaseRequestLine && window == r.pos+maxLine+2:
				return p.fail(errURITooLong)
			case window == maxHead:
				return p.fail(errHeaderTooLarge)
			}
			return nil, 0, nil
		}
		lf := r.scan + i
		start, stop := r.pos, lf
		if stop > start && buf[stop-1] == '\r' {
			stop--
		} else if p.RejectBareLF {
			return p.fail(errBareLF)
		}
		r.pos, r.scan = lf+1, lf+1
		line := buf[start:stop]

		if r.phase == phaseFields {
			if len(line) == 0 {
				return p.finish(buf, lf+1)
			}
			if e := p.field(buf, start, stop); e != nil {
				return p.fail(e)
			}
			continue
		}
		if len(line) == 0 {
			continue // an empty line before the request line
		}
		if len(line) > maxLine {
			return p.fail(errURITooLong)
		}
		if e := p.requestLine(line, start); e != nil {
			return p.fail(e)
		}
		r.phase = phaseFields
	}
}

// limit returns v, or def when v is not positive, capped at most.
func limit(v, def, most int) int {
	if v <= 0 {
		v = def
	}
	return min(v, most)
}

func (p *Parser) fail(e *Error) (*RequestHead, int, error) {
	p.err = e
	return nil, 0, e
}

// requestLine parses method SP request-target SP HTTP-version (RFC 9112 §3),
// with exactly one SP between the parts; line starts at offset off.
func (p *Parser) requestLine(line []byte, off int) *Error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		if bytes.IndexByte(line, '\r') >= 0 {
			return errBareCR
		}
		return errRequestLine
	}
	if !isToken(line[:sp1]) {
		if sp1 == 0 {
			return errRequestLine
		}
		return errMethod
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return errRequestLine
	}
	sp2 += sp1 + 1
	method, target, version := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	minor, e := parseVersion(version)
	if e != nil {
		return e
	}
	form, e := targetForm(method, target)
	if e != nil {
		return e
	}
	r := &p.r
	r.method = [2]int32{int32(off), int32(off + sp1)}
	r.target = [2]int32{int32(off + sp1 + 1), int32(off + sp2)}
	r.form, r.minor = form, minor
	return nil
}

// parseVersion parses HTTP-version (RFC 9112 §2.3): "HTTP/" DIGIT "." DIGIT,
// case-sensitive. Only major version 1 is served; a minor version above 1 is
// served as HTTP/1.1, the highest this server conforms to (RFC 9110 §2.5),
// and any other major version gets 505 (RFC 9110 §15.6.6), as in net/http.
func parseVersion(v []byte) (minor uint8, e *Error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		if bytes.IndexByte(v, '\r') >= 0 {
			return 0, errBareCR
		}
		return 0, errVersion
	}
	if v[5] != '1' {
		return 0, errVersionSupport
	}
	return v[7] - '0', nil
}

// targetForm checks the request-target's octets and tells its form
// (RFC 9112 §3.2): authority-form for CONNECT and only for it, asterisk-form
// only for OPTIONS, otherwise origin-form or absolute-form.
func targetForm(method, target []byte) (TargetForm, *Error) {
	for _, c := range target {
		if octets[c]&isTarget == 0 {
			if c == '\r' {
				return 0, errBareCR
			}
			return 0, errTarget
		}
	}
	switch {
	case string(method) == "CONNECT":
		if !isAuthority(target) {
			return 0, errTargetForm
		}
		return FormAuthority, nil
	case target[0] == '/':
		return FormOrigin, nil
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return 0, errTargetForm
		}
		return FormAsterisk, nil
	case isAbsolute(target):
		return FormAbsolute, nil
	}
	return 0, errTarget
}

// isAuthority reports whether t is host ":" port with a non-empty host and
// port and no userinfo, as CONNECT requires (RFC 9110 §9.3.6).
func isAuthority(t []byte) bool {
	colon := bytes.LastIndexByte(t, ':')
	if colon <= 0 || colon == len(t)-1 {
		return false
	}
	host, port := t[:colon], t[colon+1:]
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	if host[0] == '[' {
		return len(host) > 2 && host[len(host)-1] == ']' && validHost(host)
	}
	return bytes.IndexByte(host, ':') < 0 && validHost(host)
}

// isAbsolute reports whether t starts with scheme "://" (RFC 3986 §3.1).
// Absolute URIs without an authority (urn:, mailto:) are not HTTP targets.
func isAbsolute(t []byte) bool {
	i := bytes.Index(t, []byte("://"))
	if first := t[0] | 0x20; i <= 0 || first < 'a' || first > 'z' {
		return false
	}
	for _, c := range t[1:i] {
		if octets[c]&isScheme == 0 {
			return false
		}
	}
	return true
}

// validHost reports whether every octet of a Host value may appear in
// uri-host [":" port] (RFC 3986 §3.2.2). An empty value is valid.
func validHost(v []byte) bool {
	for _, c := range v {
		if octets[c]&isHost == 0 {
			return false
		}
	}
	return true
}

// field parses the header field line buf[start:stop] and records what the
// fields that frame the message say (RFC 9112 §6, RFC 9110 §7.2).
func (p *Parser) field(buf []byte, start, stop int) *Error {
	if len(p.spans) >= limit(p.MaxHeaders, DefaultMaxHeaders, maxHeaderBytesCap) {
		return errTooManyFields
	}
	s, e := splitField(buf[start:stop], start)
	if e != nil {
		return e
	}
	p.spans = append(p.spans, s)
	r := &p.r
	name, value := buf[s.name:s.colon], buf[s.value:s.end]
	switch len(name) {
	case len("host"):
		if !equalFold(name, "host") {
			break
		}
		if r.hosts++; r.hosts > 1 {
			return errManyHosts
		}
		if !validHost(value) {
			return errHost
		}
		r.host = [2]int32{s.value, s.end}
	case len("expect"):
		if equalFold(name, "expect") && listContains(value, "100-continue") {
			r.expect100 = true
		}
	case len("connection"):
		if equalFold(name, "connection") {
			p.connection(value)
		}
	case len("content-length"):
		if !equalFold(name, "content-length") {
			break
		}
		if r.hasCL {
			// Repeated fields must repeat the value octet for octet.
			if string(buf[r.cl[0]:r.cl[1]]) != string(value) {
				return errContentLengthDiffer
			}
			break
		}
		n, ok := parseContentLength(value)
		if !ok {
			return errContentLength
		}
		r.hasCL, r.contentLength, r.cl = true, n, [2]int32{s.value, s.end}
	case len("transfer-encoding"):
		if equalFold(name, "transfer-encoding") {
			return p.transferEncoding(value)
		}
	}
	return nil
}

// connection records the connection options of interest; the field is a
// comma-separated list of case-insensitive tokens (RFC 9110 §7.6.1).
func (p *Parser) connection(v []byte) {
	for i := 0; i <= len(v); {
		var opt []byte
		opt, i = nextElement(v, i)
		switch {
		case equalFold(opt, "close"):
			p.r.close = true
		case equalFold(opt, "keep-alive"):
			p.r.keepAlive = true
		case equalFold(opt, "upgrade"):
			p.r.upgrade = true
		}
	}
}

// parseContentLength parses 1*DIGIT (RFC 9110 §8.6) into a non-negative
// int64. A list such as "5, 5" is not accepted.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// transferEncoding records one Transfer-Encoding field: a non-empty
// comma-separated list of transfer codings (RFC 9112 §6.1), each a token
// with optional parameters. Several fields form one list, in order.
func (p *Parser) transferEncoding(v []byte) *Error {
	r := &p.r
	r.te = true
	codings := 0
	for i := 0; i <= len(v); {
		var c []byte
		c, i = nextElement(v, i)
		if len(c) == 0 {
			continue
		}
		codings++
		if equalFold(c, "chunked") {
			if r.chunked {
				return errChunkedTwice
			}
			r.chunked, r.chunkedLast = true, true
			continue
		}
		name := c
		if semi := bytes.IndexByte(c, ';'); semi >= 0 {
			name = trimOWS(c[:semi])
		}
		if !isToken(name) {
			return errTransferEncoding
		}
		r.otherCoding, r.chunkedLast = true, false
	}
	if codings == 0 {
		return errTransferEncoding
	}
	return nil
}

// finish checks the head as a whole and fills p.head from buf, whose first
// n bytes are the head.
func (p *Parser) finish(buf []byte, n int) (*RequestHead, int, error) {
	r := &p.r
	switch {
	case r.minor >= 1 && r.hosts == 0:
		return p.fail(errNoHost)
	case r.te && r.minor == 0:
		return p.fail(errTEHTTP10)
	case r.te && r.hasCL:
		return p.fail(errTEAndCL)
	case r.te && !r.chunkedLast:
		// RFC 9112 §6.3: the body's length cannot be determined.
		return p.fail(errChunkedNotLast)
	case r.te && r.otherCoding:
		return p.fail(errUnsupportedTE)
	}
	h := &p.head
	h.Method = sub(buf, r.method)
	h.Target = sub(buf, r.target)
	h.Form = r.form
	h.ProtoMinor = int(r.minor)
	h.Host = nil
	if r.hosts > 0 {
		h.Host = sub(buf, r.host)
	}
	h.Chunked = r.te
	switch {
	case r.te:
		h.ContentLength = -1
	case r.hasCL:
		h.ContentLength = r.contentLength
	default:
		h.ContentLength = 0
	}
	h.KeepAlive = !r.close && (r.minor >= 1 || r.keepAlive)
	h.ExpectContinue = r.expect100 && r.minor >= 1
	h.Upgrade = r.upgrade
	h.Fields = slices.Grow(h.Fields[:0], len(p.spans))[:len(p.spans)]
	for i, s := range p.spans {
		f := &h.Fields[i]
		f.Name = buf[s.name:s.colon:s.colon]
		f.Value = buf[s.value:s.end:s.end]
	}
	r.phase = phaseDone // p.spans stays until the next request: see lastHead
	return h, n, nil
}

// lastHead returns where the parts of the head last returned by Parse lie
// in the buffer given to Parse: the method, the target and each field
// line, in the order of RequestHead.Fields. It is valid until the next
// call to Parse or Reset. The server uses the offsets to convert the whole
// head into one string and take every string of a net/http request from it.
func (p *Parser) lastHead() (method, target [2]int32, fields []fieldSpan) {
	if p.r.phase != phaseDone {
		return method, target, nil
	}
	return p.r.method, p.r.target, p.spans
}

// sub returns buf[span[0]:span[1]] with its capacity cut to its length, so
// that appending to it cannot overwrite the bytes after it.
func sub(buf []byte, span [2]int32) []byte {
	return buf[span[0]:span[1]:span[1]]
}

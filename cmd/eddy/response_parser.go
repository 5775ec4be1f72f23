package main

import (
	"bytes"
	"errors"
)

// responseParser reads HTTP/1.1 responses incrementally, the way an eddy connection presents its input:
// Parse is given every byte not consumed yet, consumes whole lines of the head and as much of the body as
// there is, and leaves a partial line unconsumed for the next call, which gets it again with more bytes.
// A header field is consumed whole, with the obs-fold lines that continue it (RFC 9112 §5.2), so it is
// held back until the first byte of the line after it has arrived. It keeps no copy of the input and
// allocates nothing: only the status, the framing of the body and whether the server closes the
// connection are kept; header values and the body are skipped.
//
// It reads the status line (HTTP/1.0 or HTTP/1.1), skips 1xx interim responses, and frames the body by
// Transfer-Encoding: chunked (with chunk extensions and trailers), Content-Length, the request method
// (HEAD) and status (204, 304), or the end of the connection. A Transfer-Encoding in an HTTP/1.0
// response is an error (RFC 9112 §6.1: its framing is faulty).
type responseParser struct {
	state   parseState
	scanned int // bytes of the current line (or folded header field) already searched for '\n'
	head    int // bytes of the current head so far, bounded by maxHeadBytes

	status    int
	http10    bool
	keepAlive bool  // "Connection: keep-alive" (what keeps an HTTP/1.0 connection open)
	close     bool  // "Connection: close"
	chunked   bool  // the final transfer coding is chunked
	otherTE   bool  // a Transfer-Encoding whose final coding is not chunked: the body ends with the connection
	length    int64 // Content-Length, or -1
	remaining int64 // body bytes left in the body or the current chunk

	// noBody is set by the caller for a response to HEAD: it has no body whatever its headers say.
	noBody bool
}

// parseState is where a responseParser is in a response.
type parseState uint8

const (
	stStatus    parseState = iota // the status line
	stHeader                      // header lines, up to the empty line
	stBody                        // remaining bytes of a Content-Length body
	stChunkSize                   // a chunk-size line
	stChunkData                   // remaining bytes of a chunk
	stChunkEnd                    // the CRLF after a chunk's data
	stTrailer                     // trailer lines after the last chunk, up to the empty line
	stUntilEOF                    // a body delimited by the end of the connection
)

// Limits on what the parser accepts from a server.
const (
	maxLineBytes = 16 << 10 // one line of the head (status, header, chunk size, trailer)
	maxHeadBytes = 1 << 20  // a whole head, or a trailer section
)

// The parse errors. They are sentinels so that reporting one allocates nothing on the loop; the load
// generator names the connection when it records the first one.
var (
	errStatusLine    = errors.New("malformed HTTP status line")
	errHeaderLine    = errors.New("malformed HTTP header line")
	errContentLength = errors.New("bad Content-Length")
	errChunkSize     = errors.New("bad chunk size line")
	errChunkEnd      = errors.New("chunk data not followed by CRLF")
	errLineTooLong   = errors.New("HTTP response line too long")
	errHeadTooLong   = errors.New("HTTP response head too long")
	errSwitching     = errors.New("unexpected 101 Switching Protocols")
	errTEHTTP10      = errors.New("Transfer-Encoding in an HTTP/1.0 response")
	errTruncated     = errors.New("connection closed in the middle of a response")
)

// reset readies p for the next response, keeping noBody.
func (p *responseParser) reset() {
	*p = responseParser{noBody: p.noBody, length: -1}
}

// Parse consumes a prefix of b, the bytes the previous calls left unconsumed followed by any that arrived
// since, and returns its length n. done reports that a response ended at b[n]; Status and Close then
// describe it until the next call. A response that is not complete yet returns done false: call again
// with b[n:] and more bytes. After an error the connection is out of step and must be closed.
func (p *responseParser) Parse(b []byte) (n int, done bool, err error) {
	if p.state == stStatus && p.scanned == 0 && p.head == 0 {
		p.reset()
	}
	for n < len(b) {
		switch p.state {
		case stBody, stChunkData:
			k := int64(len(b) - n)
			if k > p.remaining {
				k = p.remaining
			}
			n += int(k)
			p.remaining -= k
			if p.remaining > 0 {
				return n, false, nil
			}
			if p.state == stChunkData {
				p.state = stChunkEnd
				continue
			}
			p.finish()
			return n, true, nil
		case stUntilEOF:
			return len(b), false, nil
		}
		// A line: search only the bytes not searched before.
		i := bytes.IndexByte(b[n+p.scanned:], '\n')
		if i < 0 {
			p.scanned = len(b) - n
			if p.scanned > maxLineBytes {
				return n, false, errLineTooLong
			}
			return n, false, nil
		}
		end := n + p.scanned + i // the '\n'
		if end-n > maxLineBytes {
			return n, false, errLineTooLong
		}
		if p.state == stHeader && end > n && !(end == n+1 && b[n] == '\r') {
			// A header field may go on in obs-fold lines, which start with a space or a tab: it is read
			// whole, its line breaks taken for spaces (RFC 9112 §5.2), once the next line's first byte
			// tells whether it goes on.
			if end+1 == len(b) {
				p.scanned = end - n // the '\n' is found again at once
				return n, false, nil
			}
			if c := b[end+1]; c == ' ' || c == '\t' {
				p.scanned = end + 1 - n
				continue
			}
		}
		p.scanned = 0
		line := b[n:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		p.head += end + 1 - n
		if p.head > maxHeadBytes {
			return n, false, errHeadTooLong
		}
		n = end + 1
		ended, err := p.line(line)
		if err != nil {
			return n, false, err
		}
		if ended {
			p.finish()
			return n, true, nil
		}
	}
	return n, false, nil
}

// line handles one complete line (without its line ending) in the current state, and reports whether
// the response ended with it.
func (p *responseParser) line(line []byte) (ended bool, err error) {
	switch p.state {
	case stStatus:
		return false, p.statusLine(line)
	case stHeader:
		if len(line) == 0 {
			return p.endOfHead()
		}
		return false, p.header(line)
	case stChunkSize:
		size, err := parseChunkSize(line)
		if err != nil {
			return false, err
		}
		p.head = 0
		if size == 0 {
			p.state = stTrailer
			return false, nil
		}
		p.state, p.remaining = stChunkData, size
		return false, nil
	case stChunkEnd:
		if len(line) != 0 {
			return false, errChunkEnd
		}
		p.state = stChunkSize
		return false, nil
	case stTrailer:
		return len(line) == 0, nil // trailer fields are skipped like headers
	}
	panic("responseParser: line in a body state")
}

// statusLine reads "HTTP/1.x NNN reason".
func (p *responseParser) statusLine(line []byte) error {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errStatusLine
	}
	switch line[7] {
	case '0':
		p.http10 = true
	case '1':
	default:
		return errStatusLine
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errStatusLine
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return errStatusLine
	}
	p.status = code
	p.state = stHeader
	return nil
}

// header reads one header field, with its obs-fold lines if it has any; only those that frame the body
// or end the connection matter. The line breaks of obs-fold are whitespace to trimOWS, and no valid value
// has one inside: a folded field is read as its unfolded value.
func (p *responseParser) header(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return nil // whitespace between the status line and the first field: skipped, as RFC 9112 §2.2 allows
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return errHeaderLine
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return errHeaderLine // whitespace before the colon, or a control byte, in a field name
		}
	}
	switch {
	case equalFold(name, "content-length"):
		v, ok := parseDecimal(value)
		if !ok || (p.length >= 0 && p.length != v) {
			return errContentLength
		}
		p.length = v
	case equalFold(name, "transfer-encoding"):
		// The final coding decides: chunked, or a body that the end of the connection delimits.
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = trimOWS(value[i+1:])
		}
		p.chunked = equalFold(last, "chunked")
		p.otherTE = !p.chunked
	case equalFold(name, "connection"):
		for len(value) > 0 {
			tok := value
			if i := bytes.IndexByte(value, ','); i >= 0 {
				tok, value = value[:i], value[i+1:]
			} else {
				value = nil
			}
			tok = trimOWS(tok)
			switch {
			case equalFold(tok, "close"):
				p.close = true
			case equalFold(tok, "keep-alive"):
				p.keepAlive = true
			}
		}
	}
	return nil
}

// endOfHead decides how the body is framed once the head has ended, and reports whether the response
// ended with its head.
func (p *responseParser) endOfHead() (ended bool, err error) {
	switch {
	case p.status == 101:
		return false, errSwitching
	case p.http10 && (p.chunked || p.otherTE):
		// RFC 9112 §6.1: a Transfer-Encoding in an HTTP/1.0 message makes its framing faulty; a user
		// agent closes the connection and discards the response (§6.3), as eddy's client does
		// (http1's errRespTEHTTP10). It was read as chunked, where net/http ignores the field and
		// reads the body by Content-Length or to the end of the connection: the two ended the
		// response at different bytes.
		return false, errTEHTTP10
	case p.status < 200:
		// An interim response (100 Continue, 103 Early Hints): the final one follows.
		noBody := p.noBody
		*p = responseParser{noBody: noBody, length: -1}
		return false, nil
	case p.noBody || p.status == 204 || p.status == 304:
		return true, nil
	case p.chunked:
		p.state, p.head = stChunkSize, 0
		return false, nil
	case p.otherTE || p.length < 0:
		p.state = stUntilEOF
		return false, nil
	case p.length == 0:
		return true, nil
	}
	p.state, p.remaining = stBody, p.length
	return false, nil
}

// finish marks the end of a response: the next Parse starts the next one.
func (p *responseParser) finish() {
	p.state, p.scanned, p.head = stStatus, 0, 0
}

// EOF tells the parser that the connection ended. done reports that this ended a response (one whose
// body the end of the connection delimits); err, that a response was cut short. Neither is set when the
// connection ended between responses.
func (p *responseParser) EOF() (done bool, err error) {
	switch {
	case p.state == stUntilEOF:
		p.finish()
		return true, nil
	case p.state == stStatus && p.scanned == 0 && p.head == 0:
		return false, nil
	}
	return false, errTruncated
}

// Status returns the status code of the response that ended.
func (p *responseParser) Status() int { return p.status }

// Close reports whether the server closes the connection after the response that ended.
func (p *responseParser) Close() bool {
	return p.close || (p.http10 && !p.keepAlive) || p.otherTE || (!p.chunked && p.length < 0 && !p.noBody && p.status != 204 && p.status != 304)
}

// parseChunkSize reads "hex-size [; extensions]".
func parseChunkSize(line []byte) (int64, error) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if size > (1<<62)>>4 {
			return 0, errChunkSize
		}
		size = size<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, errChunkSize
	}
	rest := trimOWS(line[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return 0, errChunkSize
	}
	return size, nil
}

// parseDecimal reads a non-negative decimal number of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// trimOWS removes the optional whitespace around a header value: spaces and tabs, and the line breaks of
// obs-fold (LF or CRLF, followed by a space or a tab), which a recipient takes for spaces (RFC 9112 §5.2).
// A CR that does not end a line is no whitespace.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r' && len(b) > 1 && b[1] == '\n') {
		b = b[1:]
	}
	lf := false // the byte trimmed last was a LF
	for len(b) > 0 {
		switch c := b[len(b)-1]; {
		case c == ' ' || c == '\t' || c == '\r' && lf:
			lf = false
		case c == '\n':
			lf = true
		default:
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the lower-case ASCII string lower, ignoring ASCII case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

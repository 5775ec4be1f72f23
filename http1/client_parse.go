package http1

import (
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"strings"
)

// ErrMalformedResponse is wrapped by the errors of responses the Transport cannot read: a bad status
// line or header field, contradictory framing, a head over the limit, bad chunked framing. The
// connection is closed after such a response, since the client can no longer tell where the next one
// starts.
var ErrMalformedResponse = errors.New("malformed HTTP response")

// responseError is a reason a response head or body is refused; it wraps ErrMalformedResponse.
type responseError string

func (e responseError) Error() string { return "http1: malformed HTTP response: " + string(e) }
func (e responseError) Unwrap() error { return ErrMalformedResponse }

// The reasons. They are constants of a comparable type, so that failing allocates nothing.
const (
	errRespStatusLine    = responseError("bad status line")
	errRespVersion       = responseError("unsupported HTTP version")
	errRespHeadTooLarge  = responseError("head larger than MaxResponseHeaderBytes")
	errRespField         = responseError("bad header field line")
	errRespContentLength = responseError("bad Content-Length")
	errRespCLDiffer      = responseError("differing Content-Length values")
	errRespTE            = responseError("bad Transfer-Encoding")
	errRespTEHTTP10      = responseError("Transfer-Encoding in an HTTP/1.0 response")
	errRespSwitching     = responseError("101 Switching Protocols is not supported")
	errRespTrailerKey    = responseError("bad trailer key")
	errRespUnsolicited   = responseError("bytes received on an idle connection")
)

// respParser parses HTTP/1.x response heads (RFC 9112 §4, §5) incrementally, as the loop receives
// them: parse is given every byte received and not yet consumed, and keeps its scan position between
// calls. It records where the status line's parts and each field line lie in the buffer, and what the
// fields say about the framing of the body; build turns a complete head into an *http.Response.
//
// It is lenient where a client can be without risk (a bare LF ends a line, a status line may lack
// its reason phrase) and strict where a mistake would desynchronise the connection (Content-Length,
// Transfer-Encoding). Obsolete line folding is refused: RFC 9112 §5.2 asks a user agent to unfold
// it, which would cost a copy of the head for a form servers stopped sending long ago; the
// request is failed with ErrMalformedResponse instead.
type respParser struct {
	maxHead int // bound on the head (status line to empty line), less the 1xx heads before it

	pos, scan int // start of the current line, and where the search for its end resumes
	inFields  bool

	minor         uint8
	status        int
	statusText    [2]int32 // the status line after "HTTP/1.x ": code and reason phrase
	spans         []fieldSpan
	hasCL         bool
	contentLength int64
	cl            [2]int32
	te            bool // Transfer-Encoding present
	chunked       bool // and it said chunked, which is all it may say
	close         bool // Connection: close
	keepAlive     bool // Connection: keep-alive
	badTrailer    bool // Trailer names Transfer-Encoding, Content-Length or Trailer
	head          bool // the response is to a HEAD request (bodyFraming's head, for build)
}

// reset prepares p for a new head, keeping its limit and its memory, unless a head of many fields
// made that memory large: it is dropped then, so that an idle connection in the pool does not keep
// it (a 1 MiB head of short fields took 4.5 MiB of spans, held until the connection closed).
func (p *respParser) reset() {
	*p = respParser{maxHead: p.maxHead, spans: keepSmall(p.spans, maxKeptFields)}
}

// parse scans buf, which starts with the head. It returns n, the length of the head (the body
// starts at buf[n]), once the empty line that ends it has arrived, and 0 while the head is
// incomplete: call again with the same bytes followed by more. An error is a responseError.
func (p *respParser) parse(buf []byte) (n int, err error) {
	if len(buf) < p.scan {
		panic("http1: respParser given fewer bytes than before")
	}
	end := min(len(buf), p.maxHead)
	for {
		i := bytes.IndexByte(buf[p.scan:end], '\n')
		if i < 0 {
			p.scan = end
			if end == p.maxHead {
				return 0, errRespHeadTooLarge
			}
			return 0, nil
		}
		lf := p.scan + i
		start, stop := p.pos, lf
		if stop > start && buf[stop-1] == '\r' {
			stop--
		}
		p.pos, p.scan = lf+1, lf+1
		if !p.inFields {
			if stop == start {
				continue // empty lines before the status line (RFC 9112 §2.2 lets a recipient skip them)
			}
			if err := p.statusLine(buf[start:stop], start); err != nil {
				return 0, err
			}
			p.inFields = true
			continue
		}
		if stop == start {
			if err := p.check(); err != nil {
				return 0, err
			}
			return lf + 1, nil
		}
		if err := p.field(buf, start, stop); err != nil {
			return 0, err
		}
	}
}

// statusLine parses "HTTP/1.x SP 3DIGIT [SP reason]" at offset off of the buffer.
func (p *respParser) statusLine(line []byte, off int) error {
	if len(line) >= 5 && string(line[:5]) == "HTTP/" && (len(line) < 7 || string(line[5:7]) != "1.") {
		return errRespVersion // HTTP/2.0, HTTP/0.9...
	}
	if len(line) < len("HTTP/1.1 200") || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return errRespStatusLine
	}
	if c := line[7]; c < '0' || c > '9' {
		return errRespStatusLine
	}
	p.minor = line[7] - '0'
	code := line[9:12]
	for _, c := range code {
		if c < '0' || c > '9' {
			return errRespStatusLine
		}
	}
	p.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if p.status < 100 {
		return errRespStatusLine
	}
	if rest := line[12:]; len(rest) > 0 {
		if rest[0] != ' ' {
			return errRespStatusLine
		}
		for _, c := range rest[1:] {
			if c != '\t' && (c < 0x20 || c == 0x7f) {
				return errRespStatusLine
			}
		}
	}
	p.statusText = [2]int32{int32(off + 9), int32(off + len(line))}
	return nil
}

// field parses the field line buf[start:stop] and records the framing fields.
func (p *respParser) field(buf []byte, start, stop int) error {
	s, e := splitField(buf[start:stop], start)
	if e != nil {
		return errRespField
	}
	p.spans = append(p.spans, s)
	name, value := buf[s.name:s.colon], buf[s.value:s.end]
	switch len(name) {
	case len("connection"):
		if equalFold(name, "connection") {
			for i := 0; i <= len(value); {
				var opt []byte
				opt, i = nextElement(value, i)
				switch {
				case equalFold(opt, "close"):
					p.close = true
				case equalFold(opt, "keep-alive"):
					p.keepAlive = true
				}
			}
		}
	case len("trailer"):
		if !equalFold(name, "trailer") {
			break
		}
		// Trailer fields that would change the framing of the message they end, as net/http
		// refuses them in a chunked response ("bad trailer key"): check says so once the
		// framing is known.
		for i := 0; i <= len(value); {
			var k []byte
			k, i = nextElement(value, i)
			if equalFold(k, "transfer-encoding") || equalFold(k, "content-length") || equalFold(k, "trailer") {
				p.badTrailer = true
			}
		}
	case len("content-length"):
		if !equalFold(name, "content-length") {
			break
		}
		if p.hasCL {
			if string(buf[p.cl[0]:p.cl[1]]) != string(value) {
				return errRespCLDiffer
			}
			break
		}
		n, ok := parseContentLength(value)
		if !ok {
			return errRespContentLength
		}
		p.hasCL, p.contentLength, p.cl = true, n, [2]int32{s.value, s.end}
	case len("transfer-encoding"):
		if !equalFold(name, "transfer-encoding") {
			break
		}
		// Only chunked is understood, once, as net/http does: a body in another coding (gzip,
		// say) would reach the caller undecoded with nothing to say so.
		p.te = true
		codings := 0
		for i := 0; i <= len(value); {
			var c []byte
			c, i = nextElement(value, i)
			if len(c) == 0 {
				continue
			}
			codings++
			if !equalFold(c, "chunked") || p.chunked {
				return errRespTE
			}
			p.chunked = true
		}
		if codings == 0 {
			return errRespTE
		}
	}
	return nil
}

// check judges the head as a whole once it is complete.
func (p *respParser) check() error {
	switch {
	case p.status == http.StatusSwitchingProtocols:
		return errRespSwitching
	case p.te && p.minor == 0:
		return errRespTEHTTP10
	case p.te && !p.chunked:
		return errRespTE
	case p.chunked && p.badTrailer:
		return errRespTrailerKey
	}
	return nil
}

// framing says how the body of a response is delimited.
type framing uint8

const (
	frameNone    framing = iota // no body: HEAD, 1xx, 204, 304, or Content-Length: 0
	frameLength                 // Content-Length bytes
	frameChunked                // the chunked transfer coding
	frameEOF                    // the end of the connection
)

// bodyFraming returns how the body of the parsed response is delimited (RFC 9112 §6.3), for a
// request whose method was HEAD when head is true, and whether the connection must close after it:
// a body delimited by the end of the connection, or a response with both Transfer-Encoding and
// Content-Length (the first takes precedence, and the connection cannot be trusted after it).
func (p *respParser) bodyFraming(head bool) (f framing, mustClose bool) {
	p.head = head
	switch {
	case head || p.status < 200 || p.status == http.StatusNoContent || p.status == http.StatusNotModified:
		return frameNone, false
	case p.te:
		return frameChunked, p.hasCL
	case p.hasCL && p.contentLength == 0:
		return frameNone, false
	case p.hasCL:
		return frameLength, false
	}
	return frameEOF, true
}

// reusable reports whether the server lets the connection be reused after this response.
func (p *respParser) reusable() bool {
	return !p.close && (p.minor >= 1 || p.keepAlive)
}

// build makes the *http.Response for the head in buf[:n], as net/http's transport presents it:
// Status "200 OK", canonical header keys, Transfer-Encoding taken out of the header (it is in
// TransferEncoding), Content-Length taken out when the body is chunked, and for a chunked body the
// keys declared by Trailer in Response.Trailer (with Trailer taken out of the header). Every string
// is cut from one copy of the head. Body and Request are left for the caller.
func (p *respParser) build(buf []byte, n int, f framing) *http.Response {
	block := string(buf[:n])
	r := &http.Response{
		StatusCode:    p.status,
		Proto:         protoString(int(p.minor)),
		ProtoMajor:    1,
		ProtoMinor:    int(p.minor),
		ContentLength: -1,
	}
	r.Status = block[p.statusText[0]:p.statusText[1]] // after "HTTP/1.x ", as net/http shows it
	chunked := f == frameChunked
	switch f {
	case frameNone:
		r.ContentLength = 0 // 1xx, 204, 304
		if p.head {
			// A HEAD response tells the length of the body it omits, if it does; -1 (unknown)
			// otherwise, as net/http says, whatever the status (a 204, or a 1xx, which the
			// client skips and never builds, too).
			r.ContentLength = -1
			if p.hasCL {
				r.ContentLength = p.contentLength
			}
		}
	case frameLength:
		r.ContentLength = p.contentLength
	}
	if chunked {
		r.TransferEncoding = []string{"chunked"}
	}
	// Sized for the fields of a usual head: a head of many fields, perhaps many of one key, must
	// not size the map by its lines (a 1 MiB head of "a:" lines took a 21 MiB map for one key).
	h := make(http.Header, min(len(p.spans), maxKeptFields))
	vals := make([]string, 0, min(len(p.spans), maxKeptFields))
	for _, s := range p.spans {
		key := textproto.CanonicalMIMEHeaderKey(block[s.name:s.colon])
		value := block[s.value:s.end]
		switch key {
		case "Transfer-Encoding":
			continue
		case "Content-Length":
			if chunked {
				continue
			}
			if _, ok := h[key]; ok {
				continue
			}
		case "Trailer":
			if chunked {
				for elem := range strings.SplitSeq(value, ",") {
					if k := textproto.TrimString(elem); k != "" {
						if r.Trailer == nil {
							r.Trailer = make(http.Header)
						}
						r.Trailer[textproto.CanonicalMIMEHeaderKey(k)] = nil
					}
				}
				continue
			}
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
			continue
		}
		vals = append(vals, value)
		k := len(vals) - 1
		h[key] = vals[k : k+1 : k+1]
	}
	r.Header = h
	// As net/http says it: the connection closes after this body, because the server said so or
	// because the body's framing leaves the connection unusable after it.
	r.Close = !p.reusable() || f == frameEOF || f == frameChunked && p.hasCL
	return r
}

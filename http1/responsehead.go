package http1

import (
	"math/bits"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// Header keys appendHeader can leave out; keys with http.TrailerPrefix are always left out.
const (
	exContentLength uint8 = 1 << iota
	exTransferEncoding
	exConnection
	exContentType
)

// excludeNoBody leaves out the framing of a response that has no body (1xx).
const excludeNoBody = exContentLength | exTransferEncoding

// extraHeader is what appendHead adds to the handler's header.
type extraHeader struct {
	date             bool
	contentLength    int64 // -1: none
	contentType      string
	connection       string
	transferEncoding string
}

// headSnapshot is the handler's header as it was at WriteHeader, which is what net/http sends: the
// field lines already in wire format (sorted by key), and what the framing decisions need to know
// about it. Taking it costs no more than writing the header would, and no copy of the map.
type headSnapshot struct {
	lines           []byte    // field lines, from a pooled buffer
	spans           [4][2]int // where the lines of the keys appendHead may leave out lie in lines
	has             uint8     // which of those keys are present (ex* bits)
	te              string
	connection      string
	contentEncoding string
	hasDate         bool
	hasConnection   bool
	trailers        bool // trailers declared, or set with http.TrailerPrefix
	protoSwitch     bool
}

// snapshotHeader takes the header as the response head will show it.
func (w *response) snapshotHeader() {
	h := w.handlerHeader
	sn := &w.snap
	*sn = headSnapshot{lines: w.getBuf()}
	// One pass over the map collects the fields and what the framing decisions need; the keys
	// are canonical, so comparing them is Header.Get without canonicalizing again.
	var fieldsArr [16]headerField
	fields := fieldsArr[:0]
	var trailer []string
	for k, vv := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			sn.trailers = true
			continue
		}
		fields = append(fields, headerField{k, vv})
		switch k {
		case "Trailer":
			trailer = vv
		case "Transfer-Encoding":
			sn.te = first(vv)
		case "Connection":
			sn.hasConnection = true
			sn.connection = first(vv)
		case "Content-Encoding":
			sn.contentEncoding = first(vv)
		case "Date":
			sn.hasDate = true
		}
	}
	sortFields(fields)
	for _, f := range fields {
		bit := specialBit(f.key)
		sn.has |= bit
		if !isTokenString(f.key) {
			continue
		}
		start := len(sn.lines)
		for _, v := range f.values {
			sn.lines = append(sn.lines, f.key...)
			sn.lines = append(sn.lines, ": "...)
			sn.lines = appendValue(sn.lines, v)
			sn.lines = append(sn.lines, "\r\n"...)
		}
		if bit != 0 {
			sn.spans[bits.TrailingZeros8(bit)] = [2]int{start, len(sn.lines)}
		}
	}
	for _, v := range trailer {
		sn.trailers = true
		w.declareTrailers(v)
	}
	sn.protoSwitch = isProtocolSwitch(w.status, h)
}

// headerField is a key of a header map with its values.
type headerField struct {
	key    string
	values []string
}

// sortFields sorts fields by key: by insertion for the few fields of most responses.
func sortFields(fields []headerField) {
	if len(fields) > 12 {
		slices.SortFunc(fields, func(a, b headerField) int { return strings.Compare(a.key, b.key) })
		return
	}
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].key < fields[j-1].key; j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
}

// specialBit returns the ex* bit of a key appendHead may leave out, or 0.
func specialBit(k string) uint8 {
	switch k {
	case "Content-Length":
		return exContentLength
	case "Transfer-Encoding":
		return exTransferEncoding
	case "Connection":
		return exConnection
	case "Content-Type":
		return exContentType
	}
	return 0
}

// appendLines appends the snapshot's field lines, leaving out the keys in ex.
func (sn *headSnapshot) appendLines(b []byte, ex uint8) []byte {
	if ex&sn.has == 0 {
		return append(b, sn.lines...)
	}
	idx, n := sn.order(ex)
	from := 0
	for _, i := range idx[:n] {
		b = append(b, sn.lines[from:sn.spans[i][0]]...)
		from = sn.spans[i][1]
	}
	return append(b, sn.lines[from:]...)
}

// order returns the indexes of the present keys in ex, by their place in lines.
func (sn *headSnapshot) order(ex uint8) (idx [4]int, n int) {
	for i := range 4 {
		if ex&sn.has&(1<<i) != 0 {
			idx[n] = i
			n++
		}
	}
	// Insertion sort: at most four.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && sn.spans[idx[j]][0] < sn.spans[idx[j-1]][0]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx, n
}

// appendHead appends the response head, deciding the framing as net/http does. p is the first
// batch of the body; final means the handler has returned, so p is the whole body.
func (w *response) appendHead(b, p []byte, final bool) []byte {
	sn := &w.snap
	var ex uint8
	set := extraHeader{contentLength: -1}
	keepAlives := w.sc.srv.keepAlives()
	te := sn.te
	hasTE := te != ""
	bodyOK := bodyAllowedForStatus(w.status)

	// A handler that returned without flushing gets a Content-Length, even 0, which keeps
	// HTTP/1.0 keep-alive working; a HEAD handler that wrote nothing gets none, since it may have
	// skipped the body on purpose.
	if final && !sn.trailers && !hasTE && bodyOK && sn.has&exContentLength == 0 && (!w.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		set.contentLength = w.contentLength
	}
	hasCL := w.contentLength != -1
	if w.wants10KeepAlive && (w.isHEAD || hasCL || !bodyOK) {
		if !sn.hasConnection {
			set.connection = "keep-alive"
		}
	} else if w.minor == 0 || w.wantsClose {
		w.closeAfter = true
	}
	if sn.connection == "close" || !keepAlives {
		w.closeAfter = true
	}
	if w.pipe != nil {
		if final && !w.closeAfter && !w.expect && w.pipe.chunkedUnended() {
			// The end of a chunked body the handler left unread may have arrived past the
			// pipe's room, in the connection's input: net/http reads up to 256 KiB of the
			// body before the head to see whether it ends there. The loop drops what has
			// arrived, so that the cases below know whether the end was in it.
			w.dropArrivedBody()
		}
		sawEOF, failed := w.pipe.state()
		switch {
		case failed:
			// What follows on the connection cannot be trusted to be the next request.
			w.closeAfter = true
		case sawEOF:
		case w.expect:
			// 100 Continue was never sent or the body never read: what follows on the
			// connection may be the body or the next request.
			w.closeAfter = true
		case final && !w.closeAfter && w.pipe.tooMuchLeft():
			// More than the loop drains after the handler may be left: say so, as net/http
			// does (requestTooLarge), rather than close the connection without warning.
			w.closeAfter = true
			ex |= exConnection
			set.connection = "close"
		case final && !w.closeAfter && w.pipe.deadlinePassed() && !w.pipe.arrived():
			// The body's read deadline (ReadTimeout, unless the handler moved it) has passed
			// with the body still arriving: the drain of the rest stops at once (armDrain) and
			// the connection closes. Say so, as net/http's discard, failing on the deadline,
			// does. (A body all in the pipe needs no drain: the connection stays.)
			w.closeAfter = true
			ex |= exConnection
			set.connection = "close"
		}
	}

	if bodyOK {
		if sn.has&exContentType == 0 && sn.contentEncoding == "" && !hasTE && len(p) > 0 {
			set.contentType = http.DetectContentType(p)
		}
	} else {
		ex |= exContentLength | exTransferEncoding
		if w.status == http.StatusNotModified {
			ex |= exContentType
		}
	}
	if !sn.hasDate {
		set.date = true
	}
	if hasCL && hasTE && te != "identity" {
		w.sc.srv.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		ex |= exContentLength
		set.contentLength = -1
		hasCL = false
	}
	switch {
	case w.isHEAD || !bodyOK || w.status == http.StatusNoContent:
		ex |= exTransferEncoding
		w.bodyless = true
	case hasCL:
		ex |= exTransferEncoding
	case w.minor >= 1 && hasTE && te == "identity":
		// Delimited by closing the connection, as Server-Sent Events once recommended.
		w.closeAfter = true
		ex |= exTransferEncoding
	case w.minor >= 1:
		w.chunked = true
		set.transferEncoding = "chunked"
		if hasTE && te == "chunked" {
			ex |= exTransferEncoding
		}
	default:
		// HTTP/1.0 cannot do chunked: the end of the body is the end of the connection.
		w.closeAfter = true
		ex |= exTransferEncoding
	}
	if w.chunked {
		ex |= exContentLength
		set.contentLength = -1
	}
	if w.closeAfter && (!keepAlives || !hasToken(sn.connection, "close")) && !sn.protoSwitch {
		ex |= exConnection
		set.connection = ""
		if w.minor >= 1 {
			set.connection = "close"
		}
	}

	b = appendStatusLine(b, w.minor, w.status)
	b = sn.appendLines(b, ex)
	if set.date {
		b = append(b, "Date: "...)
		b = appendDate(b)
		b = append(b, "\r\n"...)
	}
	if set.contentLength >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, set.contentLength, 10)
		b = append(b, "\r\n"...)
	}
	for _, kv := range [...][2]string{
		{"Content-Type", set.contentType},
		{"Connection", set.connection},
		{"Transfer-Encoding", set.transferEncoding},
	} {
		if kv[1] != "" {
			b = append(b, kv[0]...)
			b = append(b, ": "...)
			b = append(b, kv[1]...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// declareTrailers records the trailer keys a Trailer header value announces, leaving out those
// RFC 9110 §6.5.1 forbids in trailers.
func (w *response) declareTrailers(v string) {
	for elem := range strings.SplitSeq(v, ",") {
		k := textproto.TrimString(elem)
		if k == "" {
			continue
		}
		k = http.CanonicalHeaderKey(k)
		switch k {
		case "Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
			"Content-Range", "Content-Type", "Expect", "Host", "Keep-Alive", "Max-Forwards", "Pragma",
			"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Range", "Realm", "Te",
			"Trailer", "Transfer-Encoding", "Www-Authenticate":
			continue
		}
		w.trailers = append(w.trailers, k)
	}
}

// appendTrailers appends the trailer fields of a chunked response: the declared keys, with their
// values at the end of the handler, and the keys set with http.TrailerPrefix.
func (w *response) appendTrailers(b []byte) []byte {
	var t http.Header
	for k, vv := range w.handlerHeader {
		if key, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[key] = vv
		}
	}
	for _, k := range w.trailers {
		for _, v := range w.handlerHeader[k] {
			if t == nil {
				t = make(http.Header)
			}
			t.Add(k, v)
		}
	}
	return appendHeader(b, t, 0)
}

// appendHeader appends h's fields in key order, as net/http writes them: keys that are not tokens
// are dropped, CR and LF in values become spaces, and values are trimmed.
func appendHeader(b []byte, h http.Header, ex uint8) []byte {
	var keysArr [32]string
	keys := keysArr[:0]
	for k := range h {
		if excluded(k, ex) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !isTokenString(k) {
			continue
		}
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

func excluded(k string, ex uint8) bool {
	switch k {
	case "Content-Length":
		return ex&exContentLength != 0
	case "Transfer-Encoding":
		return ex&exTransferEncoding != 0
	case "Connection":
		return ex&exConnection != 0
	case "Content-Type":
		return ex&exContentType != 0
	}
	return strings.HasPrefix(k, http.TrailerPrefix)
}

// appendValue appends a header value with CR and LF replaced by spaces and surrounding
// whitespace removed, so that a value can never start a new header line.
func appendValue(b []byte, v string) []byte {
	v = textproto.TrimString(v)
	start := len(b)
	b = append(b, v...)
	for i := start; i < len(b); i++ {
		if b[i] == '\r' || b[i] == '\n' {
			b[i] = ' '
		}
	}
	return b
}

func isTokenString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if octets[s[i]]&isTchar == 0 {
			return false
		}
	}
	return true
}

// first returns the first of a header's values, or "": Header.Get once the key is looked up.
func first(vv []string) string {
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}

func isProtocolSwitch(code int, h http.Header) bool {
	if code != http.StatusSwitchingProtocols || h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h["Connection"] {
		if hasToken(v, "upgrade") {
			return true
		}
	}
	return false
}

// bodyAllowedForStatus reports whether a response with this status may have a body
// (RFC 9110 §6.4.1).
func bodyAllowedForStatus(code int) bool {
	switch {
	case code >= 100 && code <= 199, code == http.StatusNoContent, code == http.StatusNotModified:
		return false
	}
	return true
}

// statusTails holds "200 OK\r\n" and the like for the codes net/http knows.
var statusTails = func() (t [600]string) {
	for code := 100; code < len(t); code++ {
		if text := http.StatusText(code); text != "" {
			t[code] = strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return t
}()

// appendStatusLine appends the status line; the version follows the request's, as in net/http.
func appendStatusLine(b []byte, minor, code int) []byte {
	if minor == 0 {
		b = append(b, "HTTP/1.0 "...)
	} else {
		b = append(b, "HTTP/1.1 "...)
	}
	if code >= 0 && code < len(statusTails) && statusTails[code] != "" {
		return append(b, statusTails[code]...)
	}
	b = appendStatusCode(b, code)
	b = append(b, " status code "...)
	b = strconv.AppendInt(b, int64(code), 10)
	return append(b, "\r\n"...)
}

// appendStatusCode appends code in three digits at least.
func appendStatusCode(b []byte, code int) []byte {
	if code < 100 {
		b = append(b, '0')
		if code < 10 {
			b = append(b, '0')
		}
	}
	return strconv.AppendInt(b, int64(code), 10)
}

package http1

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// connection plays the part of a server's read loop over in: the bytes
// arrive in pieces, and the parser and body decoder see everything that has
// arrived and not been discarded. It checks the invariants of both on the
// way and returns a log of what it made of in, which must not depend on how
// the bytes arrived.
type connection struct {
	t     *testing.T
	in    []byte
	avail int // bytes arrived
	step  int // bytes arriving at a time; 0 for all the rest
	start int // bytes discarded
}

// more makes more bytes arrive and reports whether any did.
func (c *connection) more() bool {
	if c.avail == len(c.in) {
		return false
	}
	if c.step == 0 {
		c.avail = len(c.in)
	} else {
		c.avail = min(len(c.in), c.avail+c.step)
	}
	return true
}

// within fails the test unless b lies inside buf.
func within(t *testing.T, what string, b, buf []byte) {
	if len(b) == 0 {
		return
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < lo || p+uintptr(len(b)) > lo+uintptr(len(buf)) {
		t.Fatalf("%s %q is not inside the input", what, b)
	}
}

func (c *connection) serve(p *Parser, b *BodyDecoder) string {
	var log strings.Builder
	for range 64 { // requests
		var h *RequestHead
		for {
			buf := c.in[c.start:c.avail:c.avail]
			var n int
			var err error
			h, n, err = p.Parse(buf)
			if n < 0 || n > len(buf) || (h == nil) != (n == 0) {
				c.t.Fatalf("Parse returned head %v with n = %d of %d", h != nil, n, len(buf))
			}
			if err != nil {
				fmt.Fprintf(&log, "error %d %v\n", StatusOf(err), err)
				return log.String()
			}
			if h != nil {
				within(c.t, "method", h.Method, buf[:n])
				within(c.t, "target", h.Target, buf[:n])
				for _, f := range h.Fields {
					within(c.t, "field name", f.Name, buf[:n])
					within(c.t, "field value", f.Value, buf[:n])
				}
				log.WriteString(summary(h, n, nil) + "\n")
				c.start += n
				break
			}
			if !c.more() {
				log.WriteString("incomplete head\n")
				return log.String()
			}
		}
		if err := b.Reset(h); err != nil {
			fmt.Fprintf(&log, "body error %d\n", StatusOf(err))
			return log.String()
		}
		body, ok := c.body(b, &log)
		fmt.Fprintf(&log, "body %q\n", body)
		if !ok {
			return log.String()
		}
		for _, f := range b.Trailers() {
			fmt.Fprintf(&log, "trailer %q: %q\n", f.Name, f.Value)
		}
		if c.start == len(c.in) {
			return log.String()
		}
	}
	return log.String()
}

// body decodes one body and reports whether it was complete and valid.
func (c *connection) body(b *BodyDecoder, log *strings.Builder) ([]byte, bool) {
	var body []byte
	for {
		buf := c.in[c.start:c.avail:c.avail]
		data, n, done, err := b.Decode(buf)
		if err != nil {
			fmt.Fprintf(log, "body error %d %v\n", StatusOf(err), err)
			return body, false
		}
		if n < 0 || n > len(buf) || len(data) > n {
			c.t.Fatalf("Decode used %d of %d bytes with %d of data", n, len(buf), len(data))
		}
		within(c.t, "body data", data, buf[:n])
		body = append(body, data...)
		c.start += n
		if done {
			return body, true
		}
		if n == 0 && !c.more() {
			log.WriteString("incomplete body\n")
			return body, false
		}
	}
}

// serveFuzzed serves in with small limits, so that fuzzing reaches them,
// the bytes arriving first, then step at a time (0: all the rest).
func serveFuzzed(t *testing.T, in []byte, first, step int) string {
	c := &connection{t: t, in: in, avail: min(first, len(in)), step: step}
	p := &Parser{MaxRequestLineBytes: 200, MaxHeaderBytes: 1000, MaxHeaders: 12}
	b := &BodyDecoder{MaxBodyBytes: 1000, MaxTrailerBytes: 100}
	return c.serve(p, b)
}

// FuzzParseRequest checks that the parser and the body decoders never
// panic, never use bytes they were not given, return views of their input,
// and reach the same result however the bytes arrive: whole, in two pieces
// cut anywhere, or (for short inputs) one byte at a time.
func FuzzParseRequest(f *testing.F) {
	for _, tc := range validRequests {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2))
	}
	for _, tc := range malformedRequests {
		f.Add([]byte(tc.in), uint16(len(tc.in)/3))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		want := serveFuzzed(t, in, len(in), 0)
		requestLikeNetHTTP(t, in)
		if got := serveFuzzed(t, in, int(cut)%(len(in)+1), 0); got != want {
			t.Fatalf("split at %d:\n%s\nwhole:\n%s", int(cut)%(len(in)+1), got, want)
		}
		if len(in) <= 512 {
			if got := serveFuzzed(t, in, 0, 1); got != want {
				t.Fatalf("byte by byte:\n%s\nwhole:\n%s", got, want)
			}
		}
	})
}

// decodeAll runs a fresh ChunkedDecoder over in, the bytes arriving first,
// then step at a time (0: all the rest), and logs the outcome.
func decodeAll(t *testing.T, in []byte, first, step int) string {
	c := &connection{t: t, in: in, avail: min(first, len(in)), step: step}
	b := &BodyDecoder{MaxBodyBytes: 1 << 20, MaxTrailerBytes: 200}
	b.Reset(&RequestHead{Chunked: true, ContentLength: -1})
	var log strings.Builder
	body, ok := c.body(b, &log)
	fmt.Fprintf(&log, "body %q complete %t\n", body, ok)
	if ok { // after an error, how much was used depends on the pieces
		fmt.Fprintf(&log, "rest %d\n", len(in)-c.start)
	}
	for _, f := range b.Trailers() {
		fmt.Fprintf(&log, "trailer %q: %q\n", f.Name, f.Value)
	}
	return log.String()
}

// chunk encodes payload in the chunked coding, in chunks of size bytes
// (the last may be shorter), with an extension and a trailer.
func chunk(payload []byte, size int) []byte {
	var out []byte
	for len(payload) > 0 {
		n := min(size, len(payload))
		out = fmt.Appendf(out, "%x;n=%d\r\n%s\r\n", n, n, payload[:n])
		payload = payload[n:]
	}
	return append(out, "0\r\nX-Sum: ok\r\n\r\n"...)
}

// FuzzChunked checks the chunked decoder on arbitrary framing (no panic,
// same outcome however the bytes arrive) and on well-formed framing of
// arbitrary payloads (decoding gives the payload back).
func FuzzChunked(f *testing.F) {
	for _, tc := range validChunked {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2))
	}
	f.Add([]byte("5\r\nhello\nworld"), uint16(4))
	f.Add([]byte("ffffffffffffffff\r\n"), uint16(3))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		want := decodeAll(t, in, len(in), 0)
		chunkedLikeNetHTTP(t, in)
		if got := decodeAll(t, in, int(cut)%(len(in)+1), 0); got != want {
			t.Fatalf("split at %d:\n%s\nwhole:\n%s", int(cut)%(len(in)+1), got, want)
		}
		if len(in) <= 512 {
			if got := decodeAll(t, in, 0, 1); got != want {
				t.Fatalf("byte by byte:\n%s\nwhole:\n%s", got, want)
			}
		}
		framed := chunk(in, int(cut)%64+1)
		c := &connection{t: t, in: framed, avail: len(framed)}
		var d BodyDecoder
		d.Reset(&RequestHead{Chunked: true, ContentLength: -1})
		var log strings.Builder
		body, ok := c.body(&d, &log)
		if !ok || !bytes.Equal(body, in) || len(d.Trailers()) != 1 {
			t.Fatalf("round trip of %q: got %q, %t, %s", in, body, ok, log.String())
		}
	})
}

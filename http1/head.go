package http1

import (
	"iter"
	"net/textproto"
)

// Field is one header or trailer field line: its name as sent (any case) and
// its value with surrounding whitespace removed. Both may be sub-slices of a
// connection's input; see [RequestHead] for how long they stay valid.
type Field struct {
	Name  []byte
	Value []byte
}

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// The four forms of request-target.
const (
	// FormOrigin is an absolute path with an optional query: /where?q=now.
	FormOrigin TargetForm = iota + 1
	// FormAbsolute is an absolute URI, as sent to proxies:
	// http://www.example.org/pub/WWW/.
	FormAbsolute
	// FormAuthority is host and port, used only by CONNECT:
	// www.example.com:443.
	FormAuthority
	// FormAsterisk is "*", used only by a server-wide OPTIONS.
	FormAsterisk
)

// String returns the form's name as RFC 9112 spells it.
func (f TargetForm) String() string {
	switch f {
	case FormOrigin:
		return "origin-form"
	case FormAbsolute:
		return "absolute-form"
	case FormAuthority:
		return "authority-form"
	case FormAsterisk:
		return "asterisk-form"
	}
	return "unknown-form"
}

// RequestHead is a parsed request line and header section.
//
// Ownership: when returned by [Parser.Parse], Method, Target, Host and every
// Field are sub-slices of the buffer given to Parse, and the RequestHead
// itself belongs to the Parser. It is valid until the caller discards or
// overwrites those bytes, or calls Parse or Reset again, whichever is first.
// Use [RequestHead.Clone] to keep it longer.
type RequestHead struct {
	Method []byte     // a token, case-sensitive: GET, POST, ...
	Target []byte     // the request-target as sent
	Form   TargetForm // the form of Target

	// ProtoMinor is the minor version as sent: 0 for HTTP/1.0, 1 for
	// HTTP/1.1. A higher one (HTTP/1.2 to HTTP/1.9) is served as HTTP/1.1
	// (RFC 9110 §2.5): everything the fields below say follows HTTP/1.1's
	// rules, and the response says HTTP/1.1. The major version is always 1.
	ProtoMinor int

	// Host is the Host header's value, nil when there is none (allowed
	// only in HTTP/1.0). For absolute-form and authority-form targets a
	// server must use the target's authority instead (RFC 9112 §3.2.2);
	// the parser checks only that the Host field is present and well-formed.
	Host []byte

	// ContentLength is the body's length in bytes: the Content-Length
	// value, 0 when the request has neither Content-Length nor
	// Transfer-Encoding (RFC 9112 §6.3), and -1 when Chunked.
	ContentLength int64

	// Chunked is true when the body uses the chunked transfer coding;
	// decode it with a [ChunkedDecoder].
	Chunked bool

	// KeepAlive is true when the connection may be reused after this
	// request: by default in HTTP/1.1 (and later 1.x) unless Connection
	// lists "close", and in HTTP/1.0 only when Connection lists
	// "keep-alive" and not "close".
	KeepAlive bool

	// ExpectContinue is true when an HTTP/1.1 request carries
	// "Expect: 100-continue": the client waits for a 100 (Continue) before
	// it sends the body. It is ignored in HTTP/1.0 (RFC 9110 §10.1.1).
	ExpectContinue bool

	// Upgrade is true when Connection lists "upgrade"; the protocols asked
	// for are in the Upgrade header.
	Upgrade bool

	// Fields holds every header field line in the order received,
	// repeated names included.
	Fields []Field
}

// Proto returns the protocol version as sent, as net/http's Request.Proto
// spells it: "HTTP/1.0", "HTTP/1.1", or a later "HTTP/1.x".
func (h *RequestHead) Proto() string { return protoString(h.ProtoMinor) }

// protos are the versions the parser accepts, by minor version.
var protos = [10]string{"HTTP/1.0", "HTTP/1.1", "HTTP/1.2", "HTTP/1.3", "HTTP/1.4", "HTTP/1.5", "HTTP/1.6", "HTTP/1.7", "HTTP/1.8", "HTTP/1.9"}

// protoString returns "HTTP/1.minor" without allocating.
func protoString(minor int) string {
	if minor >= 0 && minor < len(protos) {
		return protos[minor]
	}
	return "HTTP/1.1"
}

// Get returns the value of the first field named name, ignoring ASCII case,
// or nil when there is none. A field with an empty value gives a non-nil
// empty slice.
func (h *RequestHead) Get(name string) []byte {
	for i := range h.Fields {
		if equalFold(h.Fields[i].Name, name) {
			return h.Fields[i].Value
		}
	}
	return nil
}

// Values iterates over the values of every field named name, ignoring ASCII
// case, in the order received.
func (h *RequestHead) Values(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for i := range h.Fields {
			if equalFold(h.Fields[i].Name, name) && !yield(h.Fields[i].Value) {
				return
			}
		}
	}
}

// MethodString returns Method as a string, without allocating for the
// methods of RFC 9110 and PATCH.
func (h *RequestHead) MethodString() string {
	for _, m := range [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"} {
		if string(h.Method) == m {
			return m
		}
	}
	return string(h.Method)
}

// Header returns the fields as a new textproto.MIMEHeader (convertible to
// net/http's Header) with canonical keys, values in the order received. Host
// is included; net/http moves it to Request.Host, and so must an adapter.
func (h *RequestHead) Header() textproto.MIMEHeader {
	m := make(textproto.MIMEHeader, len(h.Fields))
	for _, f := range h.Fields {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		m[k] = append(m[k], string(f.Value))
	}
	return m
}

// Clone returns a deep copy of h whose slices share one new block of memory,
// so it stays valid after the input bytes are discarded.
func (h *RequestHead) Clone() *RequestHead {
	size := len(h.Method) + len(h.Target) + len(h.Host)
	for _, f := range h.Fields {
		size += len(f.Name) + len(f.Value)
	}
	block := make([]byte, 0, size)
	keep := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(block)
		block = append(block, b...)
		return block[start:len(block):len(block)]
	}
	c := *h
	c.Method, c.Target, c.Host = keep(h.Method), keep(h.Target), keep(h.Host)
	c.Fields = make([]Field, len(h.Fields))
	for i, f := range h.Fields {
		c.Fields[i] = Field{keep(f.Name), keep(f.Value)}
	}
	return &c
}

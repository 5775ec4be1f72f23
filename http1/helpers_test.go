package http1

import (
	"fmt"
	"strings"
)

// summary renders the outcome of one Parse call as text, so that outcomes
// can be compared across ways of feeding the same bytes.
func summary(h *RequestHead, n int, err error) string {
	if err != nil {
		return fmt.Sprintf("error %d: %v", StatusOf(err), err)
	}
	if h == nil {
		return fmt.Sprintf("incomplete n=%d", n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d %q %q %v HTTP/1.%d", n, h.Method, h.Target, h.Form, h.ProtoMinor)
	if h.Host != nil {
		fmt.Fprintf(&b, " host=%q", h.Host)
	}
	fmt.Fprintf(&b, " cl=%d chunked=%t keepalive=%t expect=%t upgrade=%t",
		h.ContentLength, h.Chunked, h.KeepAlive, h.ExpectContinue, h.Upgrade)
	for _, f := range h.Fields {
		fmt.Fprintf(&b, " [%q: %q]", f.Name, f.Value)
	}
	return b.String()
}

// parseWhole parses buf in one call with a fresh parser.
func parseWhole(buf []byte) string {
	var p Parser
	return summary(p.Parse(buf))
}

// parseGrowing feeds a fresh parser the prefixes of buf that end at each
// cut (in increasing order), then buf whole, as bytes arriving would, and
// returns the first complete or failed outcome (or the last incomplete one).
func parseGrowing(buf []byte, cuts ...int) string {
	var p Parser
	for _, c := range append(cuts, len(buf)) {
		h, n, err := p.Parse(buf[:c:c])
		if h != nil || err != nil {
			return summary(h, n, err)
		}
	}
	return summary(nil, 0, nil)
}

// parseByteByByte feeds buf one more byte at a time, each time in a fresh
// copy, so that the parser cannot rely on the memory staying put.
func parseByteByByte(buf []byte) string {
	var p Parser
	for i := 1; i <= len(buf); i++ {
		h, n, err := p.Parse(append([]byte(nil), buf[:i]...))
		if h != nil || err != nil {
			return summary(h, n, err)
		}
	}
	return summary(nil, 0, nil)
}

// head is the summary of a complete head, for table tests.
type head struct {
	method, target string
	form           TargetForm
	minor          int
	host           string // "-" for no Host
	cl             int64
	chunked        bool
	keepAlive      bool
	expect         bool
	upgrade        bool
	fields         []string // "name: value"; nil skips the comparison
}

func headOf(h *RequestHead) head {
	got := head{
		method: string(h.Method), target: string(h.Target), form: h.Form,
		minor: h.ProtoMinor, host: string(h.Host), cl: h.ContentLength,
		chunked: h.Chunked, keepAlive: h.KeepAlive, expect: h.ExpectContinue,
		upgrade: h.Upgrade,
	}
	if h.Host == nil {
		got.host = "-"
	}
	for _, f := range h.Fields {
		got.fields = append(got.fields, string(f.Name)+": "+string(f.Value))
	}
	return got
}

package http1

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
)

func parseOne(t *testing.T, in string) *RequestHead {
	t.Helper()
	var p Parser
	h, _, err := p.Parse([]byte(in))
	if h == nil {
		t.Fatalf("Parse(%q): %v", in, err)
	}
	return h
}

func TestGetIgnoresCaseAndTellsEmptyFromAbsent(t *testing.T) {
	h := parseOne(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")
	if v := h.Get("X-EMPTY"); v == nil || len(v) != 0 {
		t.Errorf("Get(empty field) = %#v, want a non-nil empty slice", v)
	}
	if v := h.Get("X-Missing"); v != nil {
		t.Errorf("Get(absent field) = %q, want nil", v)
	}
	if v := h.Get("X-DUP"); string(v) != "1" {
		t.Errorf("Get(repeated) = %q, want the first", v)
	}
}

func TestValuesIteratesRepeatedFieldsInOrder(t *testing.T) {
	h := parseOne(t, "GET / HTTP/1.1\r\nA: 1\r\nHost: x\r\na: 2\r\nB: 3\r\nA: 4\r\n\r\n")
	var got []string
	for v := range h.Values("a") {
		got = append(got, string(v))
	}
	if !reflect.DeepEqual(got, []string{"1", "2", "4"}) {
		t.Errorf("Values = %q", got)
	}
	got = got[:0]
	for v := range h.Values("A") {
		got = append(got, string(v))
		break
	}
	if len(got) != 1 {
		t.Errorf("Values kept going after break: %q", got)
	}
}

func TestHeaderIsCanonical(t *testing.T) {
	h := parseOne(t, "GET / HTTP/1.1\r\nhost: x\r\ncontent-type: a\r\nX-FOO: 1\r\nx-foo: 2\r\n\r\n")
	want := map[string][]string{"Host": {"x"}, "Content-Type": {"a"}, "X-Foo": {"1", "2"}}
	if got := map[string][]string(h.Header()); !reflect.DeepEqual(got, want) {
		t.Errorf("Header = %v, want %v", got, want)
	}
}

func TestCloneOwnsItsBytes(t *testing.T) {
	buf := []byte("POST /p HTTP/1.1\r\nHost: h\r\nX: v\r\nY:\r\nContent-Length: 1\r\n\r\n")
	var p Parser
	h, _, _ := p.Parse(buf)
	c := h.Clone()
	want := headOf(h)
	for i := range buf {
		buf[i] = '#'
	}
	if got := headOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("clone changed with the buffer:\n got %+v\nwant %+v", got, want)
	}
	if c.Fields[3].Value == nil {
		t.Error("clone lost the difference between empty and absent")
	}
	// Appending to one part of the clone must not overwrite the next.
	_ = append(c.Method, "XXXX"...)
	if string(c.Target) != "/p" {
		t.Errorf("append to Method overwrote Target: %q", c.Target)
	}
}

func TestSlicesCannotOverwriteTheBuffer(t *testing.T) {
	buf := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	var p Parser
	h, _, _ := p.Parse(buf)
	_ = append(h.Method, '!')
	_ = append(h.Fields[0].Value, '!')
	if string(buf) != "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" {
		t.Errorf("buffer changed: %q", buf)
	}
}

func TestMethodStringDoesNotAllocateForStandardMethods(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"} {
		h := &RequestHead{Method: []byte(m)}
		if allocs := testing.AllocsPerRun(10, func() { _ = h.MethodString() }); allocs != 0 || h.MethodString() != m {
			t.Errorf("%s: %v allocations", m, allocs)
		}
	}
	if got := (&RequestHead{Method: []byte("PROPFIND")}).MethodString(); got != "PROPFIND" {
		t.Errorf("MethodString = %q", got)
	}
}

func TestProtoAndFormNames(t *testing.T) {
	if p := (&RequestHead{ProtoMinor: 0}).Proto(); p != "HTTP/1.0" {
		t.Error(p)
	}
	if p := (&RequestHead{ProtoMinor: 1}).Proto(); p != "HTTP/1.1" {
		t.Error(p)
	}
	got := fmt.Sprint(FormOrigin, FormAbsolute, FormAuthority, FormAsterisk, TargetForm(0))
	if got != "origin-form absolute-form authority-form asterisk-form unknown-form" {
		t.Error(got)
	}
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errURITooLong, 414},
		{fmt.Errorf("reading: %w", errHeaderTooLarge), 431},
		{ErrBodyTooLarge, 413},
		{io.ErrUnexpectedEOF, 500},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", ErrBodyTooLarge), ErrBodyTooLarge) {
		t.Error("ErrBodyTooLarge does not match through wrapping")
	}
	if s := errUnsupportedTE.Error(); s != "http1: unsupported transfer coding (501)" {
		t.Error(s)
	}
}

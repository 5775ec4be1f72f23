package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// contentRangeModel is what parseContentRange must make of s, written another way: the header's two
// forms of a single range as a regular expression over the trimmed value, every number in range of
// int64, first <= last < total when the total is known, and a known total for "*/total".
var contentRangeForm = regexp.MustCompile(`^bytes [ \t\r\n]*(?:(\*)|([0-9]+)-([0-9]+))/(\*|[0-9]+)$`)

func contentRangeModel(s string) (first, last, total int64, ok bool) {
	m := contentRangeForm.FindStringSubmatch(strings.Trim(s, " \t\r\n"))
	if m == nil || m[1] == "*" && m[4] == "*" {
		return 0, 0, 0, false
	}
	num := func(d string) (int64, bool) {
		n, err := strconv.ParseInt(d, 10, 64)
		return n, err == nil
	}
	total = -1
	if m[4] != "*" {
		if total, ok = num(m[4]); !ok {
			return 0, 0, 0, false
		}
	}
	if m[1] == "*" {
		return -1, -1, total, true
	}
	var okA, okB bool
	first, okA = num(m[2])
	last, okB = num(m[3])
	if !okA || !okB || last < first || total >= 0 && last >= total {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// FuzzParseContentRange checks parseContentRange, which reads a server's Content-Range header, against
// contentRangeModel on arbitrary input. Seeds here and in
// testdata/fuzz/FuzzParseContentRange.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/10", "bytes 5-9/10", "bytes 0-0/*", "bytes */0", "bytes */*",
		"bytes 9-5/10", " bytes  1-2/3 ", "bytes 0-9223372036854775807/*", "bytes 0-5/9223372036854775808",
		"bytes \t0-0/1", "bytes \u00a00-0/1", "\u00a0bytes 0-0/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, ok := parseContentRange(s)
		wf, wl, wt, wok := contentRangeModel(s)
		if ok != wok || ok && (first != wf || last != wl || total != wt) {
			t.Fatalf("parseContentRange(%q) = %d, %d, %d, %v; the model says %d, %d, %d, %v", s, first, last, total, ok, wf, wl, wt, wok)
		}
	})
}

// FuzzParseByteSize checks parseByteSize (--chunk) on arbitrary input (seeds here and in
// testdata/fuzz/FuzzParseByteSize): a size it takes is in
// [1, 1 TiB) and is the digits it was given times the unit's factor; it takes back what it would print.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"1", "4096", "1MiB", "2 GiB", "1kb", "0", "-1", "1.5MiB", "1099511627775", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("parseByteSize(%q) = %d with the error %v", s, n, err)
			}
			return
		}
		if n < 1 || n >= 1<<40 {
			t.Fatalf("parseByteSize(%q) = %d, out of [1, 1 TiB)", s, n)
		}
		if m, err := parseByteSize(fmt.Sprint(n)); m != n || err != nil {
			t.Fatalf("parseByteSize(%q) = %d, but parseByteSize(%q) = %d, %v", s, n, fmt.Sprint(n), m, err)
		}
	})
}

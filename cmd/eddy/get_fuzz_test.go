package main

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
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
		checkByteSize(t, s)
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

// FuzzDefaultGetName checks that the name a download is saved under by default is a plain file name in
// the current directory, on every system (filepath.IsLocal, no separator, not . or ..), whatever the
// URL's path: on Windows a decoded %5C is a separator and "C:" a drive, which path.Base leaves in.
// Where '/' is the only separator, the name is the path's last element as it was before.
func FuzzDefaultGetName(f *testing.F) {
	for _, s := range []string{"/a/b.txt", "/", "", "/..%5C..%5Cx", "/C:x", "/dir/NUL", "/%2e%2e", "/a%2Fb", "/x/..", "/%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawPath string) {
		u, err := url.Parse("http://h" + rawPath)
		if err != nil {
			return
		}
		name := defaultGetName(u)
		checkIndexName(t, u, name)
		if name == "index.html" {
			return
		}
		if !filepath.IsLocal(name) || filepath.Base(name) != name || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			t.Fatalf("path %q: name %q is not a file of the current directory", u.Path, name)
		}
		if runtime.GOOS != "windows" && name != path.Base(u.Path) {
			t.Fatalf("path %q: name %q, want %q", u.Path, name, path.Base(u.Path))
		}
	})
}

// TestDefaultGetNameOnThisSystem spells out the cases FuzzDefaultGetName guards, for this system.
func TestDefaultGetNameOnThisSystem(t *testing.T) {
	windows := runtime.GOOS == "windows"
	pick := func(elsewhere, onWindows string) string {
		if windows {
			return onWindows
		}
		return elsewhere
	}
	for _, tt := range []struct{ path, want string }{
		{"/dir/file.bin", "file.bin"},
		{"/..%5C..%5Cx", pick(`..\..\x`, "x")},
		{"/C:x", pick("C:x", "x")},
		{"/dir/NUL", pick("NUL", "index.html")},
		{"/a/..", "index.html"},
		{"/a/%2e%2e", "index.html"},
		{"/%00", "index.html"},
		{"/dir/a%00b", "index.html"},
	} {
		u, err := url.Parse("http://h" + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultGetName(u); got != tt.want {
			t.Errorf("defaultGetName(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

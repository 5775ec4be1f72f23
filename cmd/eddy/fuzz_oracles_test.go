package main

import (
	"math/big"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// byteSizeForm is parseByteSize's grammar, written out afresh from its doc: digits, then optionally
// a unit in any case, with white space (as strings.TrimSpace knows it) around the whole and before
// the unit.
var byteSizeForm = regexp.MustCompile(`^(?i)[\t\n\v\f\r\x{85}\p{Z}]*([0-9]+)[\t\n\v\f\r\x{85}\p{Z}]*(b|k|kib|m|mib|g|gib|kb|mb|gb)?[\t\n\v\f\r\x{85}\p{Z}]*$`)

// byteSizeModel is what parseByteSize must make of s: the digits times the unit's factor, taken when
// that is at least 1 and less than 1 TiB, counted without overflow.
func byteSizeModel(s string) (int64, bool) {
	m := byteSizeForm.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	factor := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gib": 1 << 30, "kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000}[strings.ToLower(m[2])]
	if factor == 0 { // a unit (?i) folds that ToLower does not: not one of the units
		return 0, false
	}
	n, _ := new(big.Int).SetString(m[1], 10)
	n.Mul(n, big.NewInt(factor))
	if n.Sign() <= 0 || n.Cmp(big.NewInt(1<<40)) >= 0 {
		return 0, false
	}
	return n.Int64(), true
}

// checkByteSize checks parseByteSize(s) against byteSizeModel; FuzzParseByteSize calls it, where
// its own checks (a range, a round trip) would take a size off by its unit's factor.
func checkByteSize(t *testing.T, s string) {
	n, err := parseByteSize(s)
	want, ok := byteSizeModel(s)
	if (err == nil) != ok || n != want {
		t.Fatalf("parseByteSize(%q) = %d, %v; the model says %d, taken: %t", s, n, err, want, ok)
	}
}

func TestByteSizeModel(t *testing.T) {
	for _, s := range []string{"1", " 2 KiB ", "3k", "4MB", "5 gib", "1023GiB", "1024GiB", "1099511627775", "1099511627776",
		"0", "0k", "-1", "1.5k", "1 k b", "k", "", "1\u00a0MiB", "1\u212a", "99999999999999999999999k", "1 TiB"} {
		checkByteSize(t, s)
	}
}

// closeLikeNetHTTP checks, for a stream whose first response the parser read whole (first, of
// status code status, closing the connection if closes) and that net/http reads whole too (resp,
// its body read without error), that the two agree on whether the server closes the connection
// after it. FuzzParseResponse calls it, where it compared only the status.
func closeLikeNetHTTP(t *testing.T, in []byte, status int, closes bool, resp *http.Response, bodyErr error) {
	if bodyErr != nil || resp.StatusCode != status || status < 200 {
		return
	}
	if closes != resp.Close {
		t.Fatalf("%q: the parser says close %t; net/http %t", in, closes, resp.Close)
	}
}

// checkIndexName checks, where '/' is the only separator, that defaultGetName(u) gives index.html
// only when its doc says so: an empty path or one ending in '/', or a last element that is no file
// name ("." or "..", or one with a NUL). FuzzDefaultGetName calls it, where it took index.html for
// any path.
func checkIndexName(t *testing.T, u *url.URL, name string) {
	if runtime.GOOS == "windows" || name != "index.html" {
		return
	}
	p := u.Path
	base := path.Base(p)
	if p == "" || strings.HasSuffix(p, "/") || base == "." || base == ".." || strings.IndexByte(base, 0) >= 0 ||
		base == "index.html" {
		return
	}
	t.Fatalf("path %q: name index.html, want %q", p, base)
}

// endLikeNetHTTP checks, for a stream whose first response the parser read whole (of status code
// status, ending at the offset end) and that net/http reads whole too (resp, its body read without
// error, having consumed used bytes of the stream), that the two end the response at the same byte:
// the same head, and the same body by Content-Length, chunked coding (trailer included), or none.
// FuzzParseResponse calls it, where it compared only the status and the close: a body framed a byte
// short or long changed neither for a stream of one response.
func endLikeNetHTTP(t *testing.T, in []byte, status, end int, resp *http.Response, bodyErr error, used int) {
	t.Helper()
	if bodyErr != nil || resp.StatusCode != status || status < 200 {
		return // net/http returns a 1xx response itself, where the parser skips it
	}
	if end != used {
		t.Fatalf("%q: the parser ends the first response at byte %d; net/http at %d", in, end, used)
	}
}

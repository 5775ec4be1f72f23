package http1

import (
	"fmt"
	"strings"
	"testing"
)

// decodeChunked runs d over in, delivered in pieces that end at each cut
// (in increasing order) and then whole, as a connection would: each call
// gets the bytes received and not yet discarded. It returns the decoded
// body, the trailers and the bytes left after the body, or the error.
func decodeChunked(d *ChunkedDecoder, in []byte, cuts ...int) (body, trailers, rest string, err error) {
	var out []byte
	start := 0
	for _, end := range append(cuts, len(in)) {
		for {
			data, n, done, err := d.Decode(in[start:end:end])
			if err != nil {
				return "", "", "", err
			}
			if n < 0 || start+n > end || len(data) > n {
				return "", "", "", fmt.Errorf("Decode used %d of %d bytes, data %d", n, end-start, len(data))
			}
			out = append(out, data...)
			start += n
			if done {
				var tr []string
				for _, f := range d.Trailers() {
					tr = append(tr, string(f.Name)+": "+string(f.Value))
				}
				return string(out), strings.Join(tr, "|"), string(in[start:]), nil
			}
			if n == 0 {
				break
			}
		}
	}
	return string(out), "", "", fmt.Errorf("incomplete after %d bytes", start)
}

var validChunked = []struct {
	name, in, body, trailers, rest string
}{
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", "", ""},
	{"empty body", "0\r\n\r\n", "", "", ""},
	{"several chunks", "5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n", "hello world!", "", ""},
	{"hex sizes any case", "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", "", ""},
	{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", "", ""},
	{"extensions ignored", "5;name=value;flag\r\nhello\r\n0;last=\"yes\"\r\n\r\n", "hello", "", ""},
	{"whitespace before extension", "5 ;a=b\r\nhello\r\n0\t;x\r\n\r\n", "hello", "", ""},
	{"whitespace after size", "5 \r\nhello\r\n0\r\n\r\n", "hello", "", ""},
	{"trailers", "5\r\nhello\r\n0\r\nChecksum: abc\r\nX-Other:  two words \r\n\r\n", "hello", "Checksum: abc|X-Other: two words", ""},
	{"data holding CRLF and digits", "4\r\n\r\n0\r\r\n0\r\n\r\n", "\r\n0\r", "", ""},
	{"bytes after the body", "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "a", "", "GET / HTTP/1.1\r\n"},
	{"binary data", "3\r\n\x00\xff\n\r\n0\r\n\r\n", "\x00\xff\n", "", ""},
}

func TestChunkedDecodesValidBodies(t *testing.T) {
	for _, tc := range validChunked {
		t.Run(tc.name, func(t *testing.T) {
			var d ChunkedDecoder
			body, tr, rest, err := decodeChunked(&d, []byte(tc.in))
			if err != nil || body != tc.body || tr != tc.trailers || rest != tc.rest {
				t.Errorf("got body %q trailers %q rest %q err %v\nwant body %q trailers %q rest %q",
					body, tr, rest, err, tc.body, tc.trailers, tc.rest)
			}
		})
	}
}

func TestChunkedSplitAtEveryByte(t *testing.T) {
	for _, tc := range validChunked {
		in := []byte(tc.in)
		for cut := 0; cut <= len(in); cut++ {
			var d ChunkedDecoder
			body, tr, rest, err := decodeChunked(&d, in, cut)
			if err != nil || body != tc.body || tr != tc.trailers || rest != tc.rest {
				t.Errorf("%s split at %d: body %q trailers %q rest %q err %v", tc.name, cut, body, tr, rest, err)
			}
		}
		cuts := make([]int, len(in))
		for i := range cuts {
			cuts[i] = i
		}
		var d ChunkedDecoder
		if body, _, _, err := decodeChunked(&d, in, cuts...); err != nil || body != tc.body {
			t.Errorf("%s byte by byte: body %q err %v", tc.name, body, err)
		}
	}
}

func TestChunkedRefusesBadFraming(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
	}{
		{"empty size", "\r\nhello\r\n0\r\n\r\n", 400},
		{"extension without size", ";a\r\n0\r\n\r\n", 400},
		{"non-hex size", "g\r\n", 400},
		{"sign", "+5\r\nhello\r\n0\r\n\r\n", 400},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400},
		{"space before size", " 5\r\nhello\r\n0\r\n\r\n", 400},
		{"space inside size", "5 5\r\n", 400},
		{"size overflow", "8000000000000000\r\n", 400},
		{"size overflow long", "fffffffffffffffff\r\n", 400},
		{"size line too long", "5;" + strings.Repeat("a", maxChunkLineBytes) + "\r\n", 400},
		{"leading zeros too long", strings.Repeat("0", maxChunkLineBytes+1) + "\r\n", 400},
		{"control in extension", "5;a\x00\r\nhello\r\n0\r\n\r\n", 400},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", 400},
		{"bare LF in extension", "5;a\nhello\r\n0\r\n\r\n", 400},
		{"bare CR after size", "5\rhello\r\n0\r\n\r\n", 400},
		{"data too long", "5\r\nhello!\r\n0\r\n\r\n", 400},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", 400},
		{"no CRLF after data", "5\r\nhello0\r\n\r\n", 400},
		{"bare LF ends trailers", "0\r\n\n", 400},
		{"bare LF after trailer", "0\r\nX: y\n\r\n", 400},
		{"trailer obs-fold", "0\r\nX: y\r\n z\r\n\r\n", 400},
		{"trailer space before colon", "0\r\nX : y\r\n\r\n", 400},
		{"trailer without colon", "0\r\nXy\r\n\r\n", 400},
		{"trailer bad value", "0\r\nX: a\x01b\r\n\r\n", 400},
		{"trailers too large", "0\r\nX: " + strings.Repeat("a", DefaultMaxTrailerBytes) + "\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d ChunkedDecoder
			_, _, _, err := decodeChunked(&d, []byte(tc.in))
			if StatusOf(err) != tc.status {
				t.Fatalf("err = %v, want status %d", err, tc.status)
			}
			if _, n, _, again := d.Decode([]byte("0\r\n\r\n")); again != err || n != 0 {
				t.Errorf("error not sticky: %v, %d", again, n)
			}
		})
	}
}

func TestChunkedTrailerLimit(t *testing.T) {
	tr := "X: abc\r\n\r\n"
	d := ChunkedDecoder{MaxTrailerBytes: len(tr)}
	if _, got, _, err := decodeChunked(&d, []byte("0\r\n"+tr)); err != nil || got != "X: abc" {
		t.Fatalf("trailer of exactly the limit: %q, %v", got, err)
	}
	d = ChunkedDecoder{MaxTrailerBytes: len(tr) - 1}
	if _, _, _, err := decodeChunked(&d, []byte("0\r\n"+tr)); StatusOf(err) != 431 {
		t.Errorf("trailer over the limit: %v, want 431", err)
	}
}

func TestChunkedBodyLimit(t *testing.T) {
	in := []byte("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n")
	d := ChunkedDecoder{MaxBodyBytes: 10}
	if body, _, _, err := decodeChunked(&d, in); err != nil || body != "helloworld" {
		t.Fatalf("body of exactly the limit: %q, %v", body, err)
	}
	d = ChunkedDecoder{MaxBodyBytes: 9}
	data, n, _, err := d.Decode(in)
	if string(data) != "hello" || err != nil {
		t.Fatalf("first chunk: %q, %v", data, err)
	}
	// The second chunk is refused as soon as its size is read, before
	// any of its data is returned.
	if data, _, _, err = d.Decode(in[n:]); err != ErrBodyTooLarge || data != nil || StatusOf(err) != 413 {
		t.Errorf("second chunk: %q, %v; want ErrBodyTooLarge", data, err)
	}
}

func TestChunkedDataIsNotCopied(t *testing.T) {
	in := []byte("5\r\nhello\r\n0\r\n\r\n")
	var d ChunkedDecoder
	data, n, done, err := d.Decode(in)
	if err != nil || !done || n != len(in) || &data[0] != &in[3] || cap(data) != 5 {
		t.Errorf("Decode = %q (cap %d), %d, %t, %v; want a sub-slice of the input", data, cap(data), n, done, err)
	}
}

func TestChunkedResetReusesDecoder(t *testing.T) {
	var d ChunkedDecoder
	d.MaxBodyBytes = 100
	decodeChunked(&d, []byte("3\r\nabc\r\n0\r\nA: 1\r\n\r\n"))
	d.Reset()
	body, tr, _, err := decodeChunked(&d, []byte("2\r\nde\r\n0\r\nB: 2\r\n\r\n"))
	if err != nil || body != "de" || tr != "B: 2" || d.MaxBodyBytes != 100 {
		t.Errorf("after Reset: %q %q %v limit %d", body, tr, err, d.MaxBodyBytes)
	}
	allocs := testing.AllocsPerRun(100, func() {
		d.Reset()
		in := []byte("2\r\nde\r\n0\r\nB: 2\r\n\r\n")
		for len(in) > 0 {
			_, n, done, err := d.Decode(in)
			if err != nil || done {
				break
			}
			in = in[n:]
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per reused body, want 0", allocs)
	}
}

func TestLengthDecoderCountsDown(t *testing.T) {
	var d LengthDecoder
	d.Reset(7)
	data, n, done := d.Decode([]byte("abc"))
	if string(data) != "abc" || n != 3 || done || d.Remaining() != 4 {
		t.Fatalf("first: %q %d %t remaining %d", data, n, done, d.Remaining())
	}
	data, n, done = d.Decode([]byte("defgGET"))
	if string(data) != "defg" || n != 4 || !done || cap(data) != 4 {
		t.Fatalf("second: %q %d %t", data, n, done)
	}
	d.Reset(0)
	if _, n, done := d.Decode(nil); n != 0 || !done {
		t.Errorf("empty body: %d %t", n, done)
	}
}

func TestBodyDecoderFollowsTheHead(t *testing.T) {
	var p Parser
	b := BodyDecoder{MaxBodyBytes: 10}
	in := []byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n" +
		"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde" +
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
	var bodies []string
	for len(in) > 0 {
		h, n, err := p.Parse(in)
		if err != nil || h == nil {
			t.Fatalf("Parse: %v", err)
		}
		in = in[n:]
		if err := b.Reset(h); err != nil {
			bodies = append(bodies, fmt.Sprint(StatusOf(err)))
			break
		}
		var body []byte
		for {
			data, n, done, err := b.Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			body = append(body, data...)
			in = in[n:]
			if done {
				break
			}
		}
		if tr := b.Trailers(); tr != nil {
			body = fmt.Appendf(body, "+%s", tr[0].Name)
		}
		bodies = append(bodies, string(body))
	}
	if got := strings.Join(bodies, ","); got != "abc+T,de,,413" {
		t.Errorf("bodies %q, want %q", got, "abc+T,de,,413")
	}
}

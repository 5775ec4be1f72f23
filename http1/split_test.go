package http1

import (
	"testing"
)

// splitCases are the inputs whose outcome must not depend on how their
// bytes arrive: every valid and malformed request of the tables.
func splitCases() []string {
	var all []string
	for _, tc := range validRequests {
		all = append(all, tc.in)
	}
	for _, tc := range malformedRequests {
		all = append(all, tc.in)
	}
	return all
}

func TestParseSplitAtEveryByte(t *testing.T) {
	for _, in := range splitCases() {
		buf := []byte(in)
		want := parseWhole(buf)
		for cut := 0; cut <= len(buf); cut++ {
			if got := parseGrowing(buf, cut); got != want {
				t.Errorf("%q split at %d:\n got %s\nwant %s", in, cut, got, want)
			}
		}
	}
}

func TestParseOneByteAtATime(t *testing.T) {
	for _, in := range splitCases() {
		buf := []byte(in)
		if got, want := parseByteByByte(buf), parseWhole(buf); got != want {
			t.Errorf("%q byte by byte:\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestParseResumesWhereItStopped checks that the parser keeps its scan
// position: after an incomplete call it has looked at every byte it was
// given and will start the next call after them, so feeding a head one byte
// at a time costs linear work, not quadratic.
func TestParseResumesWhereItStopped(t *testing.T) {
	head := []byte("GET / HTTP/1.1\r\nHost: x\r\nX: ")
	for len(head) < 64<<10 {
		head = append(head, "0123456789abcdef"...)
	}
	head = append(head, "\r\n\r\n"...)
	var p Parser
	for i := 1; i <= len(head); i++ {
		h, _, err := p.Parse(head[:i])
		if h != nil || err != nil {
			if i != len(head) || err != nil {
				t.Fatalf("done after %d of %d bytes: %v", i, len(head), err)
			}
			return
		}
		if p.r.scan != i {
			t.Fatalf("after %d bytes the next scan starts at %d", i, p.r.scan)
		}
	}
	t.Fatal("head never completed")
}

const typicalRequest = "GET /static/css/site.css?v=20240611 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/css,*/*;q=0.1\r\n" +
	"Accept-Language: en-GB,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=4f2a9c1e7b; theme=dark\r\n" +
	"\r\n"

func TestParseAllocatesNothing(t *testing.T) {
	buf := []byte(typicalRequest)
	var p Parser
	p.Parse(buf) // warm-up grows the field storage
	allocs := testing.AllocsPerRun(1000, func() {
		h, _, err := p.Parse(buf)
		if h == nil || err != nil {
			t.Fatal(err)
		}
		if h.Get("accept-encoding") == nil {
			t.Fatal("no Accept-Encoding")
		}
		for v := range h.Values("ACCEPT") {
			_ = v
		}
		_ = h.MethodString()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per parse, want 0", allocs)
	}
	// Split arrival and errors allocate nothing either.
	bad := []byte("GET / HTTP/1.1\r\nHost : x\r\n\r\n")
	allocs = testing.AllocsPerRun(1000, func() {
		p.Reset()
		p.Parse(buf[:50])
		p.Parse(buf)
		p.Reset()
		p.Parse(bad)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per split parse and error, want 0", allocs)
	}
}

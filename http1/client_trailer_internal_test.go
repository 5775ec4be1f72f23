package http1

import (
	"net/http"
	"testing"
)

// A trailer field whose name is no token (added to Request.Trailer while the body streams, after
// the head's check) is dropped, not written raw: a name with CR LF would inject fields.
func TestAppendTrailerDropsInvalidNames(t *testing.T) {
	tr := http.Header{
		"X-Sum":           {"1"},
		"X-Bad\r\nInject": {"2"},
		"":                {"3"},
		"X-Bad Name":      {"4"},
	}
	if got := string(appendTrailer(nil, tr)); got != "X-Sum: 1\r\n" {
		t.Fatalf("trailer %q, want only the valid field", got)
	}
}

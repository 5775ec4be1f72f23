package http1_test

import (
	"bufio"
	"io"
	"net/http"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// Connection options are tokens, compared ignoring ASCII case only (RFC 9110 §5.6.2, §7.6.1), as
// net/http and the request parser compare them. The server's own check of the request's Connection
// field folded Unicode case (strings.EqualFold): "cloſe" (U+017F, long s) asked it to close the
// connection after its response, and an HTTP/1.0 request's "Keep-Alive" spelt with U+212A (the
// Kelvin sign) to keep it open, where net/http does neither. FuzzFieldNumberAndList found it.
func TestConnectionTokensFoldASCIIOnly(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	servers := map[string]string{
		"eddy":     start(t, eddy.EngineStd, &http1.Server{Handler: h}),
		"net/http": netHTTPRef(t, h, nil),
	}
	for name, addr := range servers {
		// Two requests in one write: both are answered, the first without asking to close.
		rs := exchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: clo\u017fe\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "GET")
		if rs[0].close || rs[0].status != 200 || rs[1].status != 200 {
			t.Errorf("%s: Connection: clo\u017fe: responses %+v, %+v; want two 200s, the first not closing", name, rs[0], rs[1])
		}
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.0\r\nConnection: \u212aeep-alive\r\n\r\n")
		r, err := readResponse(bufio.NewReader(c), "GET")
		if err != nil || !r.close {
			t.Errorf("%s: HTTP/1.0 with Connection: \u212aeep-alive: response %+v, %v; want one that closes", name, r, err)
		}
	}
}

package http1_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A handler that moves the body's read deadline far into the future (a "never" of its own: year 3000,
// or time.Now().Add(math.MaxInt64)) and leaves part of the body unread keeps the connection, as with
// net/http: the drain waits for the rest and the pipelined request behind it is served. The drain's
// deadline on the server's clock overflowed into the past, and the connection was closed at once,
// behind a head that promised to keep it.
func TestFarReadDeadlineKeepsTheDrain(t *testing.T) {
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetReadDeadline(far)
		if r.Method == http.MethodPost {
			io.ReadFull(r.Body, make([]byte, 10))
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	const size = 200 << 10 // more than the body pipe holds, less than the drain's limit
	check := func(t *testing.T, addr string) {
		c := dial(t, addr)
		// The body, more than the server's body pipe holds, and a pipelined request behind it: the
		// handler reads 10 bytes, and the rest is drained after it returns.
		go io.WriteString(c, "POST /far HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"+
			strings.Repeat("b", size)+"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		first, err := readResponse(br, "POST")
		if err != nil {
			t.Fatal(err)
		}
		if first.close {
			t.Fatal("the response says Connection: close, with a read deadline in the year 3000")
		}
		second, err := readResponse(br, "GET")
		if err != nil || second.body != "ok /next" {
			t.Errorf("the request after the drained body: %+v, %v", second, err)
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, h, nil))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}))
	})
}

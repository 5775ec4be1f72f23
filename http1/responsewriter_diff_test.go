package http1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// A differential test of the response side of http1's ResponseWriter, as a net/http handler
// drives it: the same handler on net/http's server and on http1.Server (every engine), the same raw
// request, and the raw answer compared (heads byte for byte, Date normalised; chunked bodies
// decoded, since chunk boundaries are no contract; trailers byte for byte), with what the handler
// observed (the results of Write, Flush, the ResponseController's calls), what the server logged,
// and whether the connection stays open. The differences doc.go lists are named by the cases that
// meet them (doc), and checked for what eddy does instead (eddyHas); any other difference fails.

// rwdCase is one handler and the raw request sent to it.
type rwdCase struct {
	name    string
	h       func(n *r85Notes, w http.ResponseWriter, r *http.Request)
	raw     string   // the request; "PATH" is replaced by the case's own path
	methods []string // of the requests in raw, one final response read for each
	after   string   // sent once the responses are read (the body of a 100-continue, say)
	on100   string   // sent when a "100 Continue" arrives
	doc     string   // the difference doc.go lists, if the transcripts may differ
	eddyHas []string // what eddy's transcript must contain where they differ (doc)
}

// rwdTranscript reads the answers to c's requests from conn and describes them.
func rwdTranscript(conn net.Conn, c *rwdCase, path string) string {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, strings.ReplaceAll(c.raw, "PATH", path))
	br := bufio.NewReader(conn)
	var out strings.Builder
	for _, m := range c.methods {
		for {
			status, ok := rwdResponse(br, m, &out)
			if !ok {
				return out.String()
			}
			if status == http.StatusSwitchingProtocols {
				// The connection is the handler's: what it sends, to the end.
				b, err := io.ReadAll(br)
				fmt.Fprintf(&out, "after the switch: %q (%s)\n", b, rwdErr(err))
				return out.String()
			}
			if status >= 200 {
				break
			}
			if status == http.StatusContinue && c.on100 != "" {
				io.WriteString(conn, c.on100)
			}
		}
	}
	if c.after != "" {
		io.WriteString(conn, c.after)
	}
	// The connection's fate: a probe request is answered on a connection kept open.
	rwdProbe(conn, br, &out)
	return out.String()
}

// rwdResponse reads one response to a request of method m into out: the head as it came (Date
// normalised), the body decoded from its framing, and the trailer section as it came. It returns
// the status, and false if the stream ended or broke.
func rwdResponse(br *bufio.Reader, m string, out *strings.Builder) (int, bool) {
	line, err := br.ReadString('\n')
	if err != nil {
		fmt.Fprintf(out, "<no response: %s %q>\n", rwdErr(err), line)
		return 0, false
	}
	out.WriteString(line)
	status := 0
	if f := strings.Fields(line); len(f) >= 2 {
		status, _ = strconv.Atoi(f[1])
	}
	var te, cl string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			fmt.Fprintf(out, "<head cut: %s>\n", rwdErr(err))
			return status, false
		}
		k, v, _ := strings.Cut(strings.TrimRight(l, "\r\n"), ":")
		v = strings.TrimSpace(v)
		switch http.CanonicalHeaderKey(k) {
		case "Date":
			l = "Date: <date>\r\n"
		case "Transfer-Encoding":
			te = v
		case "Content-Length":
			cl = v
		}
		out.WriteString(l)
		if l == "\r\n" {
			break
		}
	}
	if status < 200 || status == 204 || status == 304 || m == "HEAD" {
		return status, true
	}
	var body []byte
	switch {
	case te == "chunked":
		return status, rwdChunked(br, out)
	case cl != "" && func() bool { _, err := strconv.ParseUint(cl, 10, 31); return err == nil }():
		n, _ := strconv.Atoi(cl)
		body = make([]byte, n)
		k, err := io.ReadFull(br, body)
		if err != nil {
			fmt.Fprintf(out, "body %q <cut at %d of %d: %s>\n", body[:k], k, n, rwdErr(err))
			return status, false
		}
	default:
		b, err := io.ReadAll(br)
		fmt.Fprintf(out, "body %q (to the end of the connection: %s)\n", b, rwdErr(err))
		return status, false
	}
	fmt.Fprintf(out, "body %q\n", body)
	return status, true
}

// rwdProbe tells the connection's fate after the case's responses: a probe request is answered on a
// connection kept open.
func rwdProbe(conn net.Conn, br *bufio.Reader, out *strings.Builder) {
	io.WriteString(conn, "GET /probe HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		out.WriteString("connection closed\n")
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(out, "connection kept (probe %d %q)\n", resp.StatusCode, b)
}

// rwdChunked reads a chunked body and its trailer section from br into out (the body decoded, since
// servers cut chunks in different places; the trailer section as sent), and reports whether it ended
// whole, so that the connection can carry another response.
func rwdChunked(br *bufio.Reader, out *strings.Builder) bool {
	var body []byte
	for {
		sz, err := br.ReadString('\n')
		if err != nil {
			fmt.Fprintf(out, "body %q <chunked body cut: %s>\n", body, rwdErr(err))
			return false
		}
		n, perr := strconv.ParseInt(strings.TrimRight(sz, "\r\n"), 16, 64)
		if perr != nil {
			fmt.Fprintf(out, "body %q <bad chunk size %q>\n", body, sz)
			return false
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			fmt.Fprintf(out, "body %q <chunk cut: %s>\n", body, rwdErr(err))
			return false
		}
		body = append(body, chunk[:n]...)
	}
	fmt.Fprintf(out, "body %q\ntrailer section:\n", body)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			fmt.Fprintf(out, "<trailers cut: %s>\n", rwdErr(err))
			return false
		}
		out.WriteString(l)
		if l == "\r\n" {
			return true
		}
	}
}

func rwdErr(err error) string {
	switch {
	case err == nil:
		return "EOF"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case strings.Contains(err.Error(), "reset"):
		return "RST"
	}
	return err.Error()
}

// rwdServer is one server under comparison, its log and the notes of the case it runs.
type rwdServer struct {
	name  string
	addr  string
	mu    sync.Mutex
	notes *r85Notes
	done  chan struct{} // a handler has ended (returned or panicked)
}

func (s *rwdServer) current() *r85Notes {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notes
}

// Write is the server's log: the first line of each entry, in the notes of the running case.
func (s *rwdServer) Write(p []byte) (int, error) { return s.current().Write(p) }

func TestResponseWriterAsNetHTTP(t *testing.T) {
	cases := rwdCases()
	handler := func(s *rwdServer) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/probe" {
				io.WriteString(w, "probe")
				return
			}
			i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/case"))
			if err != nil || i < 0 || i >= len(cases) {
				http.NotFound(w, r)
				return
			}
			defer func() { s.done <- struct{}{} }()
			cases[i].h(s.current(), w, r)
		})
	}
	var servers []*rwdServer
	ref := &rwdServer{name: "net/http", notes: new(r85Notes), done: make(chan struct{}, 4)}
	hs := httptest.NewUnstartedServer(handler(ref))
	hs.Config.ErrorLog = log.New(ref, "", 0)
	hs.Start()
	t.Cleanup(hs.Close)
	ref.addr = hs.Listener.Addr().String()
	servers = append(servers, ref)
	for _, e := range testEngines() {
		s := &rwdServer{name: string(e), notes: new(r85Notes), done: make(chan struct{}, 4)}
		s.addr = start(t, e, &http1.Server{Handler: handler(s), ErrorLog: log.New(s, "", 0)})
		servers = append(servers, s)
	}
	skipMissingUring(t)

	for i := range cases {
		c := &cases[i]
		t.Run(c.name, func(t *testing.T) {
			path := "/case" + strconv.Itoa(i)
			var want string
			for j, s := range servers {
				n := new(r85Notes)
				s.mu.Lock()
				s.notes = n
				s.mu.Unlock()
				conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				got := rwdTranscript(conn, c, path)
				conn.Close()
				for range strings.Count(c.raw, "PATH") { // one handler per request
					select {
					case <-s.done:
					case <-time.After(5 * time.Second):
						t.Fatalf("%s: the handler did not end", s.name)
					}
				}
				// The server logs a panic after the handler has ended.
				for k := 0; k < 100 && strings.Contains(c.name, "panic") && !strings.Contains(n.String(), "panic") && !strings.Contains(c.name, "ErrAbortHandler"); k++ {
					time.Sleep(10 * time.Millisecond)
				}
				got += "notes:\n" + n.String()
				if testing.Verbose() {
					t.Logf("%s:\n%s", s.name, got)
				}
				if j == 0 {
					want = got
					continue
				}
				if got == want {
					continue
				}
				if c.doc == "" {
					t.Errorf("%s differs from net/http:\n%s\nnet/http:\n%s", s.name, got, want)
					continue
				}
				for _, sub := range c.eddyHas {
					if !strings.Contains(got, sub) {
						t.Errorf("%s: documented difference (%s), but %q is missing:\n%s\nnet/http:\n%s", s.name, c.doc, sub, got, want)
					}
				}
			}
		})
	}
}

func rwdCases() []rwdCase {
	get := "GET PATH HTTP/1.1\r\nHost: x\r\n\r\n"
	post := func(body, extra string) string {
		return fmt.Sprintf("POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
	}
	type (
		W = http.ResponseWriter
		R = *http.Request
		N = *r85Notes
	)
	one := []string{"GET"}
	return []rwdCase{
		// Headers the server adds.
		{name: "sniffed HTML, one write", h: func(n N, w W, r R) {
			_, err := io.WriteString(w, "<!DOCTYPE html><html><body>x")
			n.add("write: %v", err)
		}, raw: get, methods: one},
		{name: "sniffed in spite of nosniff", h: func(n N, w W, r R) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			io.WriteString(w, "<html><body>x")
		}, raw: get, methods: one},
		{name: "explicit empty Content-Type is kept", h: func(n N, w W, r R) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html><body>x")
		}, raw: get, methods: one},
		{name: "small body in several writes", h: func(n N, w W, r R) {
			for _, s := range []string{"%PDF-", "1.4 ", "rest"} {
				k, err := io.WriteString(w, s)
				n.add("write: %d %v", k, err)
			}
		}, raw: get, methods: one},
		{name: "writes crossing 2048 bytes", h: func(n N, w W, r R) {
			for _, k := range []int{1500, 1000, 7000} {
				k, err := w.Write([]byte(strings.Repeat("x", k)))
				n.add("write: %d %v", k, err)
			}
		}, raw: get, methods: one},
		{name: "a large write, HTTP/1.0", h: func(n N, w W, r R) {
			io.WriteString(w, strings.Repeat("y", 40000))
		}, raw: "GET PATH HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", methods: one},
		{name: "empty body", h: func(n N, w W, r R) {}, raw: get, methods: one},
		{name: "flush with nothing written", h: func(n N, w W, r R) {
			n.add("flush: %v", http.NewResponseController(w).Flush())
		}, raw: get, methods: one},
		{name: "Transfer-Encoding chunked set by the handler", h: func(n N, w W, r R) {
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "abc")
		}, raw: get, methods: one},
		{name: "Transfer-Encoding gzip set by the handler", h: func(n N, w W, r R) {
			w.Header().Set("Transfer-Encoding", "gzip")
			io.WriteString(w, "abc")
		}, raw: get, methods: one},
		{name: "Transfer-Encoding and Content-Length set by the handler", h: func(n N, w W, r R) {
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "abc")
		}, raw: get, methods: one},
		{name: "Content-Length, body shorter", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "10")
			k, err := io.WriteString(w, "short")
			n.add("write: %d %v", k, err)
		}, raw: get, methods: one,
			doc:     "a declared Content-Length longer than the body gets Connection: close",
			eddyHas: []string{"Content-Length: 10\r\n", "Connection: close\r\n", "<cut at 5 of 10: EOF>"}},
		{name: "Content-Length, body shorter, flushed", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "short")
			n.add("flush: %v", http.NewResponseController(w).Flush())
		}, raw: get, methods: one},
		{name: "Content-Length, body longer", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "3")
			k, err := io.WriteString(w, "ab")
			n.add("write: %d %v", k, err)
			k, err = io.WriteString(w, "cd")
			n.add("write: %d %v", k, err)
			k, err = io.WriteString(w, "")
			n.add("write: %d %v", k, err)
		}, raw: get, methods: one,
			doc:     "a declared Content-Length longer than what was written gets Connection: close",
			eddyHas: []string{"Content-Length: 3\r\n", "Connection: close\r\n", "write: 0 http: wrote more than the declared Content-Length", "<cut at 2 of 3: EOF>"}},
		{name: "Content-Length exact, in several writes past 2048", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "5000")
			for range 5 {
				w.Write([]byte(strings.Repeat("z", 1000)))
			}
		}, raw: get, methods: one},
		{name: "invalid Content-Length set by the handler", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "abc")
			io.WriteString(w, "hi")
		}, raw: get, methods: one,
			doc:     "an invalid Content-Length is dropped before the framing is decided",
			eddyHas: []string{"Content-Length: 2\r\n", `log: http: invalid Content-Length of "abc"`, "connection kept"}},
		{name: "invalid Content-Length, HTTP/1.0", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "-1")
			io.WriteString(w, "hi")
		}, raw: "GET PATH HTTP/1.0\r\n\r\n", methods: one,
			doc:     "an invalid Content-Length is dropped before the framing is decided",
			eddyHas: []string{"HTTP/1.0 200 OK\r\nDate: <date>\r\nContent-Length: 2\r\n", `log: http: invalid Content-Length of "-1"`}},
		{name: "invalid Content-Length, HEAD", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "five")
			io.WriteString(w, "hello")
		}, raw: "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"HEAD"},
			doc:     "an invalid Content-Length is dropped before the framing is decided",
			eddyHas: []string{"Date: <date>\r\nContent-Length: 5\r\n", `log: http: invalid Content-Length of "five"`}},
		{name: "HEAD, Content-Length kept, body written", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "5")
			k, err := io.WriteString(w, "hello")
			n.add("write: %d %v", k, err)
		}, raw: "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"HEAD"}},
		{name: "HEAD, small body written", h: func(n N, w W, r R) {
			k, err := io.WriteString(w, "<html>hello")
			n.add("write: %d %v", k, err)
		}, raw: "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n" + "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"HEAD", "HEAD"}},
		{name: "HEAD, flushed", h: func(n N, w W, r R) {
			io.WriteString(w, "<html>hello")
			n.add("flush: %v", http.NewResponseController(w).Flush())
			k, err := io.WriteString(w, "more")
			n.add("write: %d %v", k, err)
		}, raw: "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"HEAD"}},
		{name: "204 with Content-Length and a write, flushed", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "3")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.WriteHeader(http.StatusNoContent)
			k, err := io.WriteString(w, "abc")
			n.add("write: %d %v", k, err)
			n.add("flush: %v", http.NewResponseController(w).Flush())
		}, raw: get, methods: one},
		{name: "304 with Content-Length", h: func(n N, w W, r R) {
			w.Header().Set("Content-Length", "3")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotModified)
			k, err := io.WriteString(w, "abc")
			n.add("write: %d %v", k, err)
		}, raw: get, methods: one},
		{name: "1xx: 100, 102, 103 with Link, then 200", h: func(n N, w W, r R) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusProcessing)
			w.Header().Add("Link", "</b.js>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Transfer-Encoding")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "ok")
		}, raw: get, methods: one},
		{name: "1xx, then a status not known to net/http", h: func(n N, w W, r R) {
			w.WriteHeader(199)
			w.WriteHeader(299)
			io.WriteString(w, "odd")
		}, raw: get, methods: one},
		{name: "status 999", h: func(n N, w W, r R) {
			w.WriteHeader(999)
		}, raw: get, methods: one},
		{name: "WriteHeader twice, then a write", h: func(n N, w W, r R) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "x")
		}, raw: get, methods: one},
		{name: "WriteHeader(99) panics", h: func(n N, w W, r R) {
			w.WriteHeader(99)
		}, raw: get, methods: one,
			doc:     "a handler that panics gets 500 if nothing was sent",
			eddyHas: []string{"HTTP/1.1 500 Internal Server Error", "log: http: panic serving ADDR: invalid WriteHeader code 99", "connection closed"}},
		{name: "WriteHeader(1000) panics", h: func(n N, w W, r R) {
			defer func() {
				v := recover()
				n.add("recovered: %v", v)
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, "after")
			}()
			w.WriteHeader(1000)
		}, raw: get, methods: one},
		{name: "Header changes after WriteHeader and after a flush", h: func(n N, w W, r R) {
			w.WriteHeader(http.StatusCreated)
			w.Header().Set("X-After-WriteHeader", "1")
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			w.Header().Set("X-After-Flush", "1")
			w.Header().Set("Trailer", "X-After-Flush")
			io.WriteString(w, "b")
		}, raw: get, methods: one},
		{name: "Header first asked after WriteHeader", h: func(n N, w W, r R) {
			w.WriteHeader(http.StatusOK)
			w.Header().Set("Content-Type", "text/x-late")
			io.WriteString(w, "x")
		}, raw: get, methods: one},
		{name: "trailers declared, two values, forbidden and undeclared keys", h: func(n N, w W, r R) {
			w.Header().Add("Trailer", "X-One")
			w.Header().Add("Trailer", "x-two, Content-Type")
			io.WriteString(w, "body")
			w.Header().Add("X-One", "1a")
			w.Header().Add("X-One", "1b")
			w.Header().Set("X-Two", "2")
			w.Header().Set("X-Undeclared", "u")
			w.Header().Set("Content-Type", "late")
		}, raw: get, methods: one},
		{name: "trailers via TrailerPrefix only", h: func(n N, w W, r R) {
			w.Header().Set(http.TrailerPrefix+"X-Sum", "42")
			io.WriteString(w, "body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		}, raw: get, methods: one},
		{name: "trailers with a declared Content-Length", h: func(n N, w W, r R) {
			w.Header().Set("Trailer", "X-T")
			w.Header().Set("Content-Length", "4")
			io.WriteString(w, "body")
			w.Header().Set("X-T", "dropped")
		}, raw: get, methods: one},
		{name: "trailers to HTTP/1.0", h: func(n N, w W, r R) {
			w.Header().Set("Trailer", "X-T")
			io.WriteString(w, "body")
			w.Header().Set("X-T", "dropped")
		}, raw: "GET PATH HTTP/1.0\r\n\r\n", methods: one},
		{name: "Connection: close set by the handler, flushed", h: func(n N, w W, r R) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
		}, raw: get, methods: one},
		{name: "Connection: keep-alive set by the handler to a closing HTTP/1.1 request", h: func(n N, w W, r R) {
			w.Header().Set("Connection", "keep-alive")
			io.WriteString(w, "a")
		}, raw: "GET PATH HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", methods: one},
		{name: "Connection: close set by the handler, HTTP/1.0 keep-alive", h: func(n N, w W, r R) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "a")
		}, raw: "GET PATH HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", methods: one},
		{name: "header values and keys that need care", h: func(n N, w W, r R) {
			w.Header()["bad key"] = []string{"x"}
			w.Header()["lower"] = []string{"v"}
			w.Header().Set("X-Spaces", "  padded  ")
			w.Header().Set("X-Lf", "a\nb")
			w.Header()["X-Empty"] = []string{""}
			io.WriteString(w, "x")
		}, raw: get, methods: one},

		// http.ResponseController.
		{name: "SetWriteDeadline in the future, then writes", h: func(n N, w W, r R) {
			rc := http.NewResponseController(w)
			n.add("set: %v", rc.SetWriteDeadline(time.Now().Add(time.Minute)))
			io.WriteString(w, "a")
			n.add("flush: %v", rc.Flush())
			n.add("clear: %v", rc.SetWriteDeadline(time.Time{}))
			io.WriteString(w, "b")
		}, raw: get, methods: one},
		{name: "SetWriteDeadline passed, then a flush", h: func(n N, w W, r R) {
			rc := http.NewResponseController(w)
			n.add("set: %v", rc.SetWriteDeadline(time.Now().Add(-time.Second)))
			k, err := io.WriteString(w, "a")
			n.add("write: %d %v", k, err)
			err = rc.Flush()
			n.add("flush: deadline=%v", errors.Is(err, os.ErrDeadlineExceeded))
			k, err = io.WriteString(w, "b")
			n.add("write after: %d deadline=%v", k, errors.Is(err, os.ErrDeadlineExceeded))
			n.add("context: %v", r.Context().Err())
		}, raw: get, methods: one,
			doc:     "once a write to the connection has failed, every later Write fails",
			eddyHas: []string{"<no response: EOF", "flush: deadline=true", "write after: 0 deadline=true"}},
		{name: "io.Copy from a reader, small and large", h: func(n N, w W, r R) {
			k, err := io.Copy(w, strings.NewReader("<html>copied"))
			n.add("copy: %d %v", k, err)
			if r.URL.Query().Has("large") {
				k, err = io.Copy(w, io.LimitReader(rwdRepeat('c'), 70000))
				n.add("copy: %d %v", k, err)
			}
		}, raw: get + "GET PATH?large HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"GET", "GET"}},
		{name: "SetReadDeadline in the future, body read", h: func(n N, w W, r R) {
			rc := http.NewResponseController(w)
			n.add("set: %v", rc.SetReadDeadline(time.Now().Add(time.Minute)))
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v", b, err)
			io.WriteString(w, "got it")
		}, raw: post("hello", ""), methods: []string{"POST"}},
		{name: "EnableFullDuplex, body read after a flush, more written", h: func(n N, w W, r R) {
			rc := http.NewResponseController(w)
			n.add("full duplex: %v", rc.EnableFullDuplex())
			w.WriteHeader(http.StatusAccepted)
			n.add("flush: %v", rc.Flush())
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v", b, err)
			io.WriteString(w, "echo:"+string(b))
		}, raw: post("hello", ""), methods: []string{"POST"}},
		{name: "a wrapped writer: Unwrap or ErrNotSupported", h: func(n N, w W, r R) {
			bare := struct{ http.ResponseWriter }{w}
			rc := http.NewResponseController(bare)
			err := rc.Flush()
			n.add("bare flush: %v %v", err, errors.Is(err, http.ErrNotSupported))
			err = rc.SetWriteDeadline(time.Now().Add(time.Minute))
			n.add("bare deadline: %v", errors.Is(err, http.ErrNotSupported))
			err = rc.EnableFullDuplex()
			n.add("bare duplex: %v", errors.Is(err, http.ErrNotSupported))
			_, _, err = rc.Hijack()
			n.add("bare hijack: %v", errors.Is(err, http.ErrNotSupported))
			rc = http.NewResponseController(&rwdUnwrapper{w})
			n.add("unwrap flush: %v", rc.Flush())
			n.add("unwrap deadlines: %v %v", rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{}))
			n.add("unwrap duplex: %v", rc.EnableFullDuplex())
			_, isFlusher := w.(http.Flusher)
			_, isHijacker := w.(http.Hijacker)
			_, isCloseNotifier := w.(http.CloseNotifier)
			_, isReaderFrom := w.(io.ReaderFrom)
			_, isStringWriter := w.(io.StringWriter)
			n.add("interfaces: %v %v %v %v %v", isFlusher, isHijacker, isCloseNotifier, isReaderFrom, isStringWriter)
			io.WriteString(w, "x")
		}, raw: get, methods: one},
		{name: "Hijack after WriteHeader(101), pipelined bytes read", h: func(n N, w W, r R) {
			w.Header().Set("Upgrade", "test")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				n.add("hijack: %v", err)
				return
			}
			defer c.Close()
			// What the client sent after the request: in the bufio.Reader (net/http) or the
			// net.Conn (doc.go).
			p := make([]byte, 5)
			_, err = io.ReadFull(io.MultiReader(io.LimitReader(brw, int64(brw.Reader.Buffered())), c), p)
			n.add("read after hijack: %q %v", p, err)
			_, err = w.Write([]byte("x"))
			n.add("write after hijack: %v", err)
			_, _, err = http.NewResponseController(w).Hijack()
			n.add("second hijack: %v", err)
			io.WriteString(c, "raw bytes, then the end\r\n")
		}, raw: "GET PATH HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello", methods: one},
		{name: "Hijack with a body written before it", h: func(n N, w W, r R) {
			io.WriteString(w, "buffered body")
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				n.add("hijack: %v", err)
				return
			}
			defer c.Close()
			brw.WriteString("raw after hijack\r\n")
			brw.Flush()
		}, raw: get, methods: one,
			doc:     "body bytes written before Hijack are sent ahead of the connection's own",
			eddyHas: []string{`body "buffered body" <bad chunk size "raw after hijack\r\n">`}},

		// Panics.
		{name: "panic before writing", h: func(n N, w W, r R) {
			panic("boom")
		}, raw: get, methods: one,
			doc:     "a handler that panics gets 500 if nothing was sent",
			eddyHas: []string{"HTTP/1.1 500 Internal Server Error", "log: http: panic serving ADDR: boom", "connection closed"}},
		{name: "panic after a flush", h: func(n N, w W, r R) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("boom")
		}, raw: get, methods: one},
		{name: "panic after a large write, flushed", h: func(n N, w W, r R) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, strings.Repeat("p", 3000))
			w.(http.Flusher).Flush()
			panic("boom")
		}, raw: get, methods: one},
		{name: "ErrAbortHandler before writing", h: func(n N, w W, r R) {
			w.Header().Set("X-A", "1")
			panic(http.ErrAbortHandler)
		}, raw: get, methods: one},

		// Bodies partly read.
		{name: "body partly read, rest small", h: func(n N, w W, r R) {
			b := make([]byte, 1000)
			k, err := io.ReadFull(r.Body, b)
			n.add("read: %d %v", k, err)
			io.WriteString(w, "partial read")
		}, raw: post(strings.Repeat("q", 50000), ""), methods: []string{"POST"}},
		{name: "body partly read, rest over 256 KiB", h: func(n N, w W, r R) {
			b := make([]byte, 1000)
			k, err := io.ReadFull(r.Body, b)
			n.add("read: %d %v", k, err)
			io.WriteString(w, "partial read")
		}, raw: post(strings.Repeat("q", 400<<10), ""), methods: []string{"POST"}},

		// Expect: 100-continue.
		{name: "100-continue, body read", h: func(n N, w W, r R) {
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v", b, err)
			io.WriteString(w, "thanks")
		}, raw: "POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
			methods: []string{"POST"}, on100: "hello"},
		{name: "100-continue, answered without reading", h: func(n N, w W, r R) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "no")
		}, raw: "POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
			methods: []string{"POST"}, after: "hello"},
		{name: "100-continue, explicit WriteHeader(100), then read", h: func(n N, w W, r R) {
			w.WriteHeader(http.StatusContinue)
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v", b, err)
		}, raw: "POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
			methods: []string{"POST"}, on100: "hello"},
	}
}

// rwdRepeat is an endless reader of one byte, which is not a strings.Reader or an *os.File.
type rwdRepeat byte

func (z rwdRepeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(z)
	}
	return len(p), nil
}

// rwdUnwrapper hides the ResponseWriter's methods but lets ResponseController find them.
type rwdUnwrapper struct{ http.ResponseWriter }

func (u *rwdUnwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

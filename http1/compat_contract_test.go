package http1_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// r85Notes collects what a handler observed (and what the server logged), for comparison.
type r85Notes struct {
	mu sync.Mutex
	b  strings.Builder
}

func (n *r85Notes) add(format string, args ...any) {
	n.mu.Lock()
	fmt.Fprintf(&n.b, format+"\n", args...)
	n.mu.Unlock()
}

func (n *r85Notes) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// Only the first line of each log entry: panics log stacks.
	line, _, _ := strings.Cut(string(p), "\n")
	n.b.WriteString("log: " + r85Addr.ReplaceAllString(line, "ADDR") + "\n")
	return len(p), nil
}

func (n *r85Notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.b.String()
}

var r85Addr = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// r85Read reads what the server sends until it closes the connection ("<EOF>"), or until quiet of
// silence ("<open>"), Date lines removed.
func r85Read(c net.Conn, quiet time.Duration) string {
	var buf bytes.Buffer
	b := make([]byte, 64<<10)
	end := "<open>"
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(b)
		buf.Write(b[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			if err == io.EOF {
				end = "<EOF>"
			} else {
				end = "<" + r85ErrClass(err) + ">"
			}
			break
		}
	}
	return dateLine.ReplaceAllString(buf.String(), "") + end
}

func r85ErrClass(err error) string {
	if strings.Contains(err.Error(), "reset") {
		return "RST"
	}
	return err.Error()
}

// r85Server is one server of a comparison: net/http's or http1's on an engine.
type r85Server struct {
	name string
	addr string
}

// r85Servers starts mk's handler on net/http and on http1 with every engine; each gets its own
// notes.
func r85Servers(t *testing.T, mk func(n *r85Notes) http.Handler, refCfg func(*http.Server), cfg func(*http1.Server)) ([]r85Server, []*r85Notes) {
	t.Helper()
	var out []r85Server
	var notes []*r85Notes
	n := new(r85Notes)
	ref := httptest.NewUnstartedServer(mk(n))
	ref.Config.ErrorLog = log.New(n, "", 0)
	if refCfg != nil {
		refCfg(ref.Config)
	}
	ref.Start()
	t.Cleanup(ref.Close)
	out = append(out, r85Server{"net/http", ref.Listener.Addr().String()})
	notes = append(notes, n)
	for _, e := range testEngines() {
		n := new(r85Notes)
		srv := &http1.Server{Handler: mk(n), ErrorLog: log.New(n, "", 0)}
		if cfg != nil {
			cfg(srv)
		}
		out = append(out, r85Server{string(e), start(t, e, srv)})
		notes = append(notes, n)
	}
	return out, notes
}

// r85Compare runs scenario against every server and reports each transcript (with the notes) that
// differs from net/http's.
func r85Compare(t *testing.T, mk func(n *r85Notes) http.Handler, refCfg func(*http.Server), cfg func(*http1.Server), scenario func(t *testing.T, addr string) string) {
	t.Helper()
	servers, notes := r85Servers(t, mk, refCfg, cfg)
	var want string
	for i, s := range servers {
		got := scenario(t, s.addr)
		time.Sleep(50 * time.Millisecond)
		got += "\nnotes:\n" + notes[i].String()
		if os.Getenv("ZZ_VERBOSE") != "" {
			t.Logf("%s:\n%s", s.name, got)
		}
		if i == 0 {
			want = got
			continue
		}
		if got != want {
			t.Errorf("%s:\n%s\nnet/http:\n%s", s.name, got, want)
		}
	}
}

// r85Raw is a scenario: send raw, read until the server closes the connection (or quiet).
func r85Raw(raw string) func(t *testing.T, addr string) string {
	return func(t *testing.T, addr string) string {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		return r85Read(c, 3*time.Second)
	}
}

// r85Exchange is a scenario: send raw, read a final response to each request of the given methods
// (and the 1xx ones before it), then tell whether the connection is still open with a probe
// request (answered by r85Probe).
func r85Exchange(raw string, methods ...string) func(t *testing.T, addr string) string {
	return func(t *testing.T, addr string) string {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		var out strings.Builder
		for _, m := range methods {
			for {
				resp, err := http.ReadResponse(br, &http.Request{Method: m})
				if err != nil {
					fmt.Fprintf(&out, "read error: %s\n", r85ErrClass(err))
					return out.String()
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				fmt.Fprintf(&out, "%s %s\n", resp.Proto, resp.Status)
				h := resp.Header.Clone()
				h.Del("Date")
				if _, ok := resp.Header["Date"]; !ok && resp.StatusCode >= 200 {
					out.WriteString("(no Date)\n")
				}
				h.Write(&out)
				fmt.Fprintf(&out, "te=%v cl=%d close=%v body=%q err=%v trailer=%v\n", resp.TransferEncoding, resp.ContentLength, resp.Close, b, err, resp.Trailer)
				if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
					break
				}
			}
		}
		// The connection's fate: a probe is answered on a connection kept open.
		io.WriteString(c, "GET /r85probe HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			out.WriteString("connection closed\n")
			return out.String()
		}
		resp.Body.Close()
		out.WriteString("connection kept\n")
		return out.String()
	}
}

// r85Probe answers r85Exchange's probe, and serves h otherwise.
func r85Probe(h func(n *r85Notes, w http.ResponseWriter, r *http.Request)) func(n *r85Notes) http.Handler {
	return func(n *r85Notes) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/r85probe" {
				io.WriteString(w, "probe")
				return
			}
			h(n, w, r)
		})
	}
}

// The server's complaints about a handler's misuse of its ResponseWriter (a superfluous
// WriteHeader, a Write or WriteHeader on a hijacked connection) name the handler's code that made
// the call, as net/http's do ("http: superfluous response.WriteHeader call from main.handler
// (main.go:42)"), skipping the frames of net/http's helpers such as http.Error. They named only the
// status codes or the client's address, so the misuse could not be found from the log (found by a
// differential review).
func TestCompatMisuseLogsNameTheCaller(t *testing.T) {
	cases := []struct {
		name string
		h    func(n *r85Notes, w http.ResponseWriter, r *http.Request)
	}{
		{"WriteHeader twice", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusAccepted)
		}},
		{"WriteHeader after Write", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.WriteHeader(http.StatusInternalServerError)
		}},
		{"http.Error after Write", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("body"))
			http.Error(w, "oops", http.StatusInternalServerError)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r85Compare(t, r85Probe(c.h), nil, nil, r85Exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
		})
	}
	t.Run("Write and WriteHeader after Hijack", func(t *testing.T) {
		r85Compare(t, r85Probe(func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				n.add("hijack: %v", err)
				return
			}
			defer c.Close()
			_, err = w.Write([]byte("x"))
			n.add("write: %v", err)
			w.WriteHeader(http.StatusOK)
			io.WriteString(c, "raw")
		}), nil, nil, r85Raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	})
}

// The less-trodden parts of the handler contract, side by side with net/http on every engine: the
// answer (status, header fields but Date, body, trailers), what the handler saw, what the server
// logged, and whether the connection stays. Checked by a differential review, which found them the
// same (the differences doc.go lists aside).
func TestCompatHandlerContract(t *testing.T) {
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	post := func(body string, extra string) string {
		return fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
	}
	type handler = func(n *r85Notes, w http.ResponseWriter, r *http.Request)
	cases := []struct {
		name   string
		h      handler
		raw    string
		method string
	}{
		{"103 Early Hints then 200", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.Header().Set("Content-Length", "2") // not in a 1xx head
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Add("Link", "</b.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "hi")
		}, get, "GET"},
		{"trailers declared, prefixed, after a flush", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-A, Content-Length, X-B")
			io.WriteString(w, "hi")
			w.(http.Flusher).Flush()
			w.Header().Set("X-A", "1")
			w.Header().Set(http.TrailerPrefix+"X-C", "3")
		}, get, "GET"},
		{"trailer declared, body unflushed", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-A")
			io.WriteString(w, "hi")
			w.Header().Set("X-A", "1")
		}, get, "GET"},
		{"HEAD with writes past the buffer", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			_, err := io.WriteString(w, strings.Repeat("z", 3000))
			n.add("write: %v", err)
		}, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"},
		{"HEAD with a Content-Length, no write", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
		}, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"},
		{"204 and a write", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.WriteHeader(http.StatusNoContent)
			_, err := io.WriteString(w, "abc")
			n.add("write: %v", err)
		}, get, "GET"},
		{"304 and a write", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
			_, err := io.WriteString(w, "abc")
			n.add("write: %v", err)
		}, get, "GET"},
		{"sniffed after a flush", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			io.WriteString(w, "<html><body>x")
		}, get, "GET"},
		{"no sniffing with Content-Encoding, Date kept", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Date", "yesterday")
			io.WriteString(w, "<html><body>x")
		}, get, "GET"},
		{"2048 bytes get a Content-Length, 2049 are chunked", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("a", 2048))
			if r.URL.Query().Has("more") {
				io.WriteString(w, "b")
			}
		}, get + "GET /?more HTTP/1.1\r\nHost: x\r\n\r\n", "GET GET"},
		{"ErrAbortHandler after a flush", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hi")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, get, "GET"},
		{"full duplex: the body read after the head", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			n.add("full duplex: %v", rc.EnableFullDuplex())
			io.WriteString(w, "hi")
			n.add("flush: %v", rc.Flush())
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v", b, err)
		}, post("hello", ""), "POST"},
		{"read deadline passed", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			n.add("set: %v", rc.SetReadDeadline(time.Now().Add(-time.Second)))
			_, err := io.ReadAll(r.Body)
			n.add("read: deadline=%v", errors.Is(err, os.ErrDeadlineExceeded))
		}, post("hello", ""), "POST"},
		{"100-continue, body read", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints) // does not stand for 100 Continue
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v", b, err)
		}, post("hello", "Expect: 100-continue\r\n"), "POST"},
		{"HTTP/1.0 keep-alive", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hi")
		}, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET"},
		{"Transfer-Encoding identity", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "identity")
			io.WriteString(w, "hi")
		}, get, "GET"},
		{"a chunked request's trailers", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			n.add("before: %v", r.Trailer)
			b, err := io.ReadAll(r.Body)
			n.add("read: %q %v trailer: %v", b, err, r.Trailer)
		}, "POST / HTTP/1.1\r\nHost: x\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: v\r\nX-U: u\r\n\r\n", "POST"},
		{"a small body left unread", func(n *r85Notes, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hi")
		}, post("hello", "") + get, "POST GET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r85Compare(t, r85Probe(c.h), nil, nil, r85Exchange(c.raw, strings.Fields(c.method)...))
		})
	}
}

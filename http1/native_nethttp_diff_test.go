package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A differential test of the native handler path (Server.Native) against the net/http handler path
// of the same server (Server.Handler), and of that path against net/http's own server: equivalent
// handlers, the same raw requests, and the raw answers compared: heads with Date normalised and
// their field lines in a stable order by name (the order of fields with different names carries
// no meaning, RFC 9110 §5.3, and the native path writes its handler's fields in the order they were
// added), bodies decoded from their framing, then the connection's fate, probed with a second
// request. Where the paths differ on purpose the case names the documentation that says so (doc) and
// what the native answer must hold instead (natHas); any other difference fails.

type ndCase struct {
	name    string
	nat     func(w *http1.ResponseBuffer, r *http1.NativeRequest)
	h       func(w http.ResponseWriter, r *http.Request)
	raw     string   // "PATH" is replaced by the case's path
	methods []string // one final response read for each; nil: one GET
	on100   string   // sent when a 100 Continue arrives
	doc     string   // a documented difference between the native path and the net/http path
	natHas  []string // what the native transcript must contain then
	// natIs, with doc: the native transcript, made from the net/http path's.
	natIs  func(viaHTTP string) string
	refDoc string   // a documented difference between the net/http path and net/http's server
	refHas []string // what the net/http path's transcript must contain then
	// statusOnly: against net/http's server, compare the statuses and the connection's fate only
	// (refusals, whose reason texts are compared by request_parse_diff_test.go).
	statusOnly bool
	// noInject: the transcripts must not hold a field line named X-Injected.
	noInject bool
}

// ndTranscript sends c.raw to addr, reads the answers and probes the connection.
func ndTranscript(addr string, c *ndCase, path string) string {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	raw := strings.ReplaceAll(c.raw, "PATH", path)
	wrote := make(chan struct{})
	go func() { // a server refusing a large request stops reading it
		defer close(wrote)
		io.WriteString(conn, raw)
	}()
	br := bufio.NewReader(conn)
	var out strings.Builder
	methods := c.methods
	if methods == nil {
		methods = []string{"GET"}
	}
	alive := true
	for _, m := range methods {
		for alive {
			status, ok := ndResponse(br, m, &out)
			if !ok {
				alive = false
				break
			}
			if status >= 200 {
				break
			}
			if status == http.StatusContinue && c.on100 != "" {
				io.WriteString(conn, c.on100)
			}
		}
	}
	<-wrote
	if !alive {
		return out.String()
	}
	rwdProbe(conn, br, &out)
	return out.String()
}

// ndResponse reads one response to a request of method m into out: the status line, the field
// lines (Date normalised) stably sorted by name, the body decoded, and the trailer section. It
// returns the status, and false if the stream ended or broke.
func ndResponse(br *bufio.Reader, m string, out *strings.Builder) (int, bool) {
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
	var fields []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			fmt.Fprintf(out, "%s<head cut: %s>\n", strings.Join(fields, ""), rwdErr(err))
			return status, false
		}
		if l == "\r\n" {
			break
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
		fields = append(fields, l)
	}
	slices.SortStableFunc(fields, func(a, b string) int {
		ka, _, _ := strings.Cut(a, ":")
		kb, _, _ := strings.Cut(b, ":")
		return strings.Compare(strings.ToLower(ka), strings.ToLower(kb))
	})
	out.WriteString(strings.Join(fields, "") + "\r\n")
	if status < 200 || status == 204 || status == 304 || m == "HEAD" {
		return status, true
	}
	var body []byte
	switch {
	case te == "chunked":
		return status, rwdChunked(br, out)
	case cl != "":
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 1<<24 {
			fmt.Fprintf(out, "<bad Content-Length %q>\n", cl)
			return status, false
		}
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
	if len(body) > 64 {
		fmt.Fprintf(out, "body of %d bytes %q...\n", len(body), body[:64])
	} else {
		fmt.Fprintf(out, "body %q\n", body)
	}
	return status, true
}

// ndSummary is the statuses of a transcript and the connection's fate.
func ndSummary(tr string) string {
	var b strings.Builder
	for _, l := range strings.Split(tr, "\n") {
		if strings.HasPrefix(l, "HTTP/") {
			if f := strings.Fields(l); len(f) >= 2 {
				b.WriteString(f[1] + " ")
			}
		}
		if strings.HasPrefix(l, "connection ") {
			b.WriteString(strings.Fields(l)[1])
		}
	}
	if !strings.Contains(tr, "connection kept") {
		b.WriteString(" closed")
	}
	return b.String()
}

func TestNativePathAsNetHTTPPath(t *testing.T) {
	cases := ndCases()
	caseOf := func(path string) (*ndCase, bool) {
		i, err := strconv.Atoi(strings.TrimPrefix(path, "/case"))
		if err != nil || i < 0 || i >= len(cases) {
			return nil, false
		}
		return &cases[i], true
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := caseOf(r.URL.Path)
		if !ok || c.h == nil {
			io.WriteString(w, "probe")
			return
		}
		c.h(w, r)
	})
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		c, ok := caseOf(string(r.Path()))
		if !ok || c.nat == nil {
			w.WriteString("probe")
			return
		}
		c.nat(w, r)
	})
	const maxHead = 4096
	refLog := new(syncLog)
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ErrorLog = newLogger(refLog)
	hs.Config.MaxHeaderBytes = maxHead
	hs.Start()
	t.Cleanup(hs.Close)
	ref := hs.Listener.Addr().String()
	refs := make([]string, len(cases))
	for i := range cases {
		refs[i] = ndTranscript(ref, &cases[i], "/case"+strconv.Itoa(i))
	}

	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		httpLog, natLog := new(syncLog), new(syncLog)
		httpAddr := start(t, engine, &http1.Server{Handler: h, MaxHeaderBytes: maxHead, ErrorLog: newLogger(httpLog)})
		natAddr := start(t, engine, &http1.Server{Native: nat, MaxHeaderBytes: maxHead, ErrorLog: newLogger(natLog)})
		for i := range cases {
			c := &cases[i]
			t.Run(c.name, func(t *testing.T) {
				path := "/case" + strconv.Itoa(i)
				want, viaHTTP := refs[i], ndTranscript(httpAddr, c, path)
				got := ndTranscript(natAddr, c, path)
				if testing.Verbose() {
					t.Logf("native:\n%s\nnet/http path:\n%s\nnet/http:\n%s", got, viaHTTP, want)
				}
				if c.noInject {
					for name, tr := range map[string]string{"native": got, "net/http path": viaHTTP, "net/http": want} {
						if strings.Contains(tr, "\nX-Injected") || strings.Contains(tr, "\nBad") {
							t.Errorf("%s: a header line was injected:\n%s", name, tr)
						}
					}
				}
				// The net/http path against net/http's server.
				switch {
				case c.statusOnly:
					if a, b := ndSummary(viaHTTP), ndSummary(want); a != b {
						t.Errorf("net/http path: %s; net/http: %s\n%s\nnet/http:\n%s", a, b, viaHTTP, want)
					}
				case viaHTTP == want:
				case c.refDoc == "":
					t.Errorf("net/http path differs from net/http:\n%s\nnet/http:\n%s", viaHTTP, want)
				default:
					for _, sub := range c.refHas {
						if !strings.Contains(viaHTTP, sub) {
							t.Errorf("net/http path: documented difference (%s), but %q is missing:\n%s\nnet/http:\n%s", c.refDoc, sub, viaHTTP, want)
						}
					}
				}
				// The native path against the net/http path.
				switch {
				case got == viaHTTP:
				case c.doc == "":
					t.Errorf("native path differs from the net/http path:\n%s\nnet/http path:\n%s\nnet/http:\n%s", got, viaHTTP, want)
				case c.natIs != nil:
					if want := c.natIs(viaHTTP); got != want {
						t.Errorf("native: documented difference (%s), want\n%s\ngot\n%s", c.doc, want, got)
					}
				default:
					for _, sub := range c.natHas {
						if !strings.Contains(got, sub) {
							t.Errorf("native: documented difference (%s), but %q is missing:\n%s\nnet/http path:\n%s", c.doc, sub, got, viaHTTP)
						}
					}
				}
			})
		}
		// A panic is logged on both paths, http.ErrAbortHandler on neither.
		for name, l := range map[string]*syncLog{"native": natLog, "net/http path": httpLog} {
			if n := strings.Count(l.String(), "http: panic serving"); n != 2 {
				t.Errorf("%s: %d panics logged, want 2 (two panicking cases, one more with ErrAbortHandler):\n%s", name, n, l)
			}
		}
	})
}

func ndCases() []ndCase {
	type (
		W = http.ResponseWriter
		R = *http.Request
		B = *http1.ResponseBuffer
		N = *http1.NativeRequest
	)
	get := "GET PATH HTTP/1.1\r\nHost: x\r\n\r\n"
	post := func(body, extra string) string {
		return fmt.Sprintf("POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
	}
	big := strings.Repeat("0123456789abcdef", 640) // 10 KiB, past net/http's 2 KiB buffer
	const frameDoc = "ResponseBuffer: the server adds Content-Length and writes the response whole when ServeNative returns"
	const bodyDoc = "NativeHandler: the whole body has arrived before ServeNative is called"
	const panicDoc = "doc.go: a handler that panics gets a 500 answer if nothing was sent yet"
	const earlyDoc = "doc.go: no informational (1xx) response goes to an HTTP/1.0 client"
	injected := "v\r\nX-Injected: 1"
	return []ndCase{
		{name: "200 small body",
			nat: func(w B, r N) { w.AddHeader("Content-Type", "text/plain"); w.WriteString("hello") },
			h:   func(w W, r R) { w.Header().Set("Content-Type", "text/plain"); io.WriteString(w, "hello") },
			raw: get},
		{name: "sniffed type",
			nat: func(w B, r N) { w.WriteString("<html><body>x</body></html>") },
			h:   func(w W, r R) { io.WriteString(w, "<html><body>x</body></html>") },
			raw: get},
		{name: "empty 200",
			nat: func(w B, r N) {},
			h:   func(w W, r R) {},
			raw: get},
		{name: "body in several writes",
			nat: func(w B, r N) { w.WriteString("a"); w.Write([]byte("bc")); w.WriteString("def") },
			h:   func(w W, r R) { io.WriteString(w, "a"); w.Write([]byte("bc")); io.WriteString(w, "def") },
			raw: get},
		{name: "404 with fields",
			nat: func(w B, r N) {
				w.AddHeader("X-A", "1")
				w.AddHeader("X-A", "2")
				w.SetStatus(404)
				w.WriteString("nope")
			},
			h: func(w W, r R) {
				w.Header().Add("X-A", "1")
				w.Header().Add("X-A", "2")
				w.WriteHeader(404)
				io.WriteString(w, "nope")
			},
			raw: get},
		{name: "unknown status 599",
			nat: func(w B, r N) { w.SetStatus(599); w.WriteString("x") },
			h:   func(w W, r R) { w.WriteHeader(599); io.WriteString(w, "x") },
			raw: get},
		{name: "204 with a body written",
			nat: func(w B, r N) { w.SetStatus(204); w.WriteString("dropped") },
			h:   func(w W, r R) { w.WriteHeader(204); io.WriteString(w, "dropped") },
			raw: get},
		{name: "304 with ETag and Content-Type",
			nat: func(w B, r N) {
				w.AddHeader("Content-Type", "text/html")
				w.AddHeader("Etag", `"x"`)
				w.SetStatus(304)
			},
			h: func(w W, r R) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Etag", `"x"`)
				w.WriteHeader(304)
			},
			raw: "GET PATH HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\n\r\n"},
		{name: "HEAD with a body written",
			nat: func(w B, r N) { w.WriteString("hello") },
			h:   func(w W, r R) { io.WriteString(w, "hello") },
			raw: "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"HEAD"}},
		{name: "HEAD without a body",
			nat: func(w B, r N) { w.AddHeader("Content-Type", "text/plain") },
			h:   func(w W, r R) { w.Header().Set("Content-Type", "text/plain") },
			raw: "HEAD PATH HTTP/1.1\r\nHost: x\r\n\r\n", methods: []string{"HEAD"}},
		{name: "103 then 200",
			nat: func(w B, r N) { w.AddHeader("Link", "</s.css>; rel=preload"); w.SetStatus(103); w.WriteString("ok") },
			h: func(w W, r R) {
				w.Header().Set("Link", "</s.css>; rel=preload")
				w.WriteHeader(103)
				io.WriteString(w, "ok")
			},
			raw: get},
		{name: "103 to HTTP/1.0",
			nat: func(w B, r N) { w.AddHeader("Link", "</s.css>; rel=preload"); w.SetStatus(103); w.WriteString("ok") },
			h: func(w W, r R) {
				w.Header().Set("Link", "</s.css>; rel=preload")
				w.WriteHeader(103)
				io.WriteString(w, "ok")
			},
			raw:    "GET PATH HTTP/1.0\r\n\r\n",
			refDoc: earlyDoc, refHas: []string{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"}},
		{name: "handler's Content-Length",
			nat: func(w B, r N) { w.AddHeader("Content-Length", "5"); w.WriteString("hello") },
			h:   func(w W, r R) { w.Header().Set("Content-Length", "5"); io.WriteString(w, "hello") },
			raw: get},
		{name: "handler's Content-Length longer than the body",
			nat:    func(w B, r N) { w.AddHeader("Content-Length", "10"); w.WriteString("hello") },
			h:      func(w W, r R) { w.Header().Set("Content-Length", "10"); io.WriteString(w, "hello") },
			raw:    get,
			refDoc: "doc.go: a declared Content-Length longer than what was written gets Connection: close",
			refHas: []string{"Connection: close\r\n", "cut at 5 of 10"},
			doc:    "AddHeader: Content-Length is the server's and is ignored",
			natHas: []string{"Content-Length: 5\r\n", "body \"hello\"", "connection kept"}},
		{name: "body of 10 KiB in pieces",
			nat: func(w B, r N) {
				for i := 0; i < len(big); i += 1000 {
					w.WriteString(big[i:min(i+1000, len(big))])
				}
			},
			h: func(w W, r R) {
				for i := 0; i < len(big); i += 1000 {
					io.WriteString(w, big[i:min(i+1000, len(big))])
				}
			},
			raw: get,
			doc: frameDoc, natHas: []string{"Content-Length: 10240\r\n", "body of 10240 bytes", "connection kept"}},
		{name: "flushed body",
			nat: func(w B, r N) { w.WriteString("a"); w.WriteString("b") },
			h:   func(w W, r R) { io.WriteString(w, "a"); w.(http.Flusher).Flush(); io.WriteString(w, "b") },
			raw: get,
			doc: frameDoc, natHas: []string{"Content-Length: 2\r\n", "body \"ab\"", "connection kept"}},
		{name: "Connection: close from the handler",
			nat: func(w B, r N) { w.AddHeader("Connection", "close"); w.WriteString("bye") },
			h:   func(w W, r R) { w.Header().Set("Connection", "close"); io.WriteString(w, "bye") },
			raw: get},
		{name: "CloseConnection",
			nat: func(w B, r N) { w.CloseConnection(); w.WriteString("bye") },
			h:   func(w W, r R) { w.Header().Set("Connection", "close"); io.WriteString(w, "bye") },
			raw: get},
		{name: "HTTP/1.0",
			nat: func(w B, r N) { w.WriteString("old") },
			h:   func(w W, r R) { io.WriteString(w, "old") },
			raw: "GET PATH HTTP/1.0\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive",
			nat: func(w B, r N) { w.WriteString("old") },
			h:   func(w W, r R) { io.WriteString(w, "old") },
			raw: "GET PATH HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive, the handler closes",
			nat: func(w B, r N) { w.AddHeader("Connection", "close"); w.WriteString("old") },
			h:   func(w W, r R) { w.Header().Set("Connection", "close"); io.WriteString(w, "old") },
			raw: "GET PATH HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive, CloseConnection",
			nat: func(w B, r N) { w.CloseConnection(); w.WriteString("old") },
			h:   func(w W, r R) { w.Header().Set("Connection", "close"); io.WriteString(w, "old") },
			raw: "GET PATH HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.0, the handler closes",
			nat: func(w B, r N) { w.AddHeaderBytes("Connection", []byte("close")); w.WriteString("old") },
			h:   func(w W, r R) { w.Header().Set("Connection", "close"); io.WriteString(w, "old") },
			raw: "GET PATH HTTP/1.0\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive, 10 KiB body",
			nat: func(w B, r N) { w.WriteString(big) },
			h:   func(w W, r R) { io.WriteString(w, big) },
			raw: "GET PATH HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			doc: frameDoc, natHas: []string{"Connection: keep-alive\r\n", "Content-Length: 10240\r\n", "connection kept"}},
		{name: "three pipelined requests",
			nat:     func(w B, r N) { w.Write(r.Query()) },
			h:       func(w W, r R) { io.WriteString(w, r.URL.RawQuery) },
			raw:     "GET PATH?1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD PATH?2 HTTP/1.1\r\nHost: x\r\n\r\nGET PATH?3 HTTP/1.1\r\nHost: x\r\n\r\n",
			methods: []string{"GET", "HEAD", "GET"}},
		{name: "unread small body",
			nat: func(w B, r N) { w.WriteString("ignored") },
			h:   func(w W, r R) { io.WriteString(w, "ignored") },
			raw: post("hello", "")},
		{name: "unread body past the drain limit",
			nat: func(w B, r N) { w.WriteString("ignored") },
			h:   func(w W, r R) { io.WriteString(w, "ignored") },
			raw: post(strings.Repeat("b", 300<<10), ""),
			doc: bodyDoc, natHas: []string{"body \"ignored\"", "connection kept"}},
		{name: "chunked body with trailers",
			nat: func(w B, r N) {
				w.Write(r.Body)
				for _, f := range r.Trailers {
					fmt.Fprintf(w, " %s=%s", f.Name, f.Value)
				}
			},
			h: func(w W, r R) {
				b, _ := io.ReadAll(r.Body)
				w.Write(b)
				for _, k := range slices.Sorted(func(yield func(string) bool) {
					for k := range r.Trailer {
						if !yield(k) {
							return
						}
					}
				}) {
					fmt.Fprintf(w, " %s=%s", k, r.Trailer.Get(k))
				}
			},
			raw: "POST PATH HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"},
		{name: "Expect 100-continue, body read",
			nat: func(w B, r N) { w.Write(r.Body) },
			h:   func(w W, r R) { b, _ := io.ReadAll(r.Body); w.Write(b) },
			raw: "POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", on100: "hello"},
		{name: "Expect 100-continue, body not read",
			nat: func(w B, r N) { w.WriteString("no") },
			h:   func(w W, r R) { io.WriteString(w, "no") },
			raw: "POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", on100: "hello",
			refDoc: "doc.go: a body not read, sent with Expect: 100-continue, is not waited for",
			refHas: []string{"Connection: close\r\n", "connection closed"},
			doc:    "NativeHandler: the whole body has arrived before ServeNative is called; 100 (Continue) goes out automatically",
			natHas: []string{"HTTP/1.1 100 Continue\r\n", "body \"no\"", "connection kept"}},
		{name: "Expect 100-continue, body sent with the head",
			nat:   func(w B, r N) { w.Write(r.Body) },
			h:     func(w W, r R) { b, _ := io.ReadAll(r.Body); w.Write(b) },
			raw:   "POST PATH HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
			doc:   "NativeHandler: 100 (Continue) goes out only while the body is still to come (RFC 9110 §10.1.1 lets a server omit it)",
			natIs: func(s string) string { return strings.TrimPrefix(s, "HTTP/1.1 100 Continue\r\n\r\n") }},
		{name: "OPTIONS *",
			nat: func(w B, r N) { w.WriteString("not called") },
			h:   func(w W, r R) { io.WriteString(w, "not called") },
			raw: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "400 bad field line",
			raw: "GET PATH HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", statusOnly: true},
		{name: "431 head past MaxHeaderBytes",
			raw: "GET PATH HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 100) + "\r\n", statusOnly: true},
		{name: "501 unknown transfer coding",
			raw: "POST PATH HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", statusOnly: true},
		{name: "505 HTTP/2.0",
			raw: "GET PATH HTTP/2.0\r\nHost: x\r\n\r\n", statusOnly: true},
		{name: "417 unknown expectation",
			raw: "GET PATH HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", statusOnly: true},
		{name: "panic",
			nat: func(w B, r N) { panic("boom") },
			h:   func(w W, r R) { panic("boom") },
			raw: get, refDoc: panicDoc, refHas: []string{"HTTP/1.1 500 Internal Server Error\r\n", "connection closed"}},
		{name: "panic after writing",
			nat: func(w B, r N) { w.AddHeader("X-A", "1"); w.WriteString("partial"); panic("boom") },
			h:   func(w W, r R) { w.Header().Set("X-A", "1"); io.WriteString(w, "partial"); panic("boom") },
			raw: get, refDoc: panicDoc, refHas: []string{"HTTP/1.1 500 Internal Server Error\r\n", "connection closed"}},
		{name: "panic with ErrAbortHandler",
			nat: func(w B, r N) { w.WriteString("partial"); panic(http.ErrAbortHandler) },
			h:   func(w W, r R) { io.WriteString(w, "partial"); panic(http.ErrAbortHandler) },
			raw: get},
		{name: "status set twice",
			nat:    func(w B, r N) { w.SetStatus(201); w.SetStatus(202); w.WriteString("x") },
			h:      func(w W, r R) { w.WriteHeader(201); w.WriteHeader(202); io.WriteString(w, "x") },
			raw:    get,
			doc:    "ResponseBuffer: the response is built in a buffer, so the last SetStatus before ServeNative returns is the status",
			natHas: []string{"HTTP/1.1 202 Accepted\r\n"}},
		{name: "status after the body",
			nat:    func(w B, r N) { w.WriteString("x"); w.SetStatus(404) },
			h:      func(w W, r R) { io.WriteString(w, "x"); w.WriteHeader(404) },
			raw:    get,
			doc:    "ResponseBuffer: the response is built in a buffer, so the last SetStatus before ServeNative returns is the status",
			natHas: []string{"HTTP/1.1 404 Not Found\r\n"}},
		{name: "Date set by the handler",
			nat: func(w B, r N) { w.AddHeader("Date", "yesterday"); w.WriteString("x") },
			h:   func(w W, r R) { w.Header().Set("Date", "yesterday"); io.WriteString(w, "x") },
			raw: get},
		{name: "CR LF in values",
			nat: func(w B, r N) {
				w.AddHeader("X-A", injected)
				w.AddHeaderBytes("X-B", []byte(injected))
				w.AddHeader("X-C", "\r\nX-Injected: 2\r\n")
				w.AddHeader("X-D", "a\nX-Injected: 3")
			},
			h: func(w W, r R) {
				w.Header().Set("X-A", injected)
				w.Header().Set("X-B", injected)
				w.Header().Set("X-C", "\r\nX-Injected: 2\r\n")
				w.Header().Set("X-D", "a\nX-Injected: 3")
			},
			raw: get, noInject: true},
		{name: "CR LF in Connection and 1xx values",
			nat: func(w B, r N) {
				w.AddHeader("Link", injected)
				w.SetStatus(103)
				w.AddHeader("Connection", "upgrade\r\nX-Injected: 1")
				w.AddHeader("Upgrade", "h2c")
				w.SetStatus(426)
			},
			h: func(w W, r R) {
				w.Header().Set("Link", injected)
				w.WriteHeader(103)
				w.Header().Set("Connection", "upgrade\r\nX-Injected: 1")
				w.Header().Set("Upgrade", "h2c")
				w.WriteHeader(426)
			},
			raw: get, noInject: true},
		{name: "CR LF in Connection bytes",
			nat: func(w B, r N) {
				w.AddHeaderBytes("Connection", []byte("upgrade\r\nX-Injected: 1"))
				w.AddHeader("Upgrade", "h2c")
				w.SetStatus(426)
			},
			h: func(w W, r R) {
				w.Header().Set("Connection", "upgrade\r\nX-Injected: 1")
				w.Header().Set("Upgrade", "h2c")
				w.WriteHeader(426)
			},
			raw: get, noInject: true},
		{name: "invalid field names",
			nat: func(w B, r N) {
				w.AddHeader("Bad Name", "1")
				w.AddHeader("X-Ok\r\nX-Injected", "2")
				w.AddHeader("", "3")
				w.AddHeader("Bad:Colon", "4")
				w.AddHeaderBytes("Bad\nNL", []byte("5"))
				w.AddHeaderBytes("X-Fine", []byte("6"))
			},
			h: func(w W, r R) {
				w.Header()["Bad Name"] = []string{"1"}
				w.Header()["X-Ok\r\nX-Injected"] = []string{"2"}
				w.Header()[""] = []string{"3"}
				w.Header()["Bad:Colon"] = []string{"4"}
				w.Header()["Bad\nNL"] = []string{"5"}
				w.Header()["X-Fine"] = []string{"6"}
			},
			raw: get, noInject: true},
	}
}

package http1_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A differential test of the request body as a net/http handler reads it: the same raw requests go
// to net/http's server and to an http1.Server on every engine, with a handler that reads the body
// in some way (zero-length reads, reads after EOF and after Close, io.Copy, trailers,
// http.MaxBytesReader, Expect: 100-continue after WriteHeader, a replaced Body, a body the client
// cuts short, ParseForm and ParseMultipartForm) and answers with what it saw. Compared per case:
// every status (1xx included), the handler's reports, the Connection: close of each response, and
// whether a probe request sent afterwards is answered. Cases where http1 differs on purpose (doc.go)
// give http1's outcome and the reason; any other difference fails.

// qbBodies holds bodies the /keep handler left behind, for the /late handler to read on the same
// connection once the first exchange is over; qbReports holds the reports of handlers whose client
// went away before their answer could be read.
var (
	qbMu      sync.Mutex
	qbBodies  = map[string]io.ReadCloser{}
	qbReports = map[string]chan string{}
)

func qbReportChan(id string) chan string {
	qbMu.Lock()
	defer qbMu.Unlock()
	if qbReports[id] == nil {
		qbReports[id] = make(chan string, 1)
	}
	return qbReports[id]
}

// qbErr describes a body error as the handler compares it: its text, and what it wraps.
func qbErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("%q", err.Error())
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s += fmt.Sprintf(" (MaxBytesError limit=%d)", mbe.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		s += " (ErrUnexpectedEOF)"
	}
	return s
}

func qbTrailer(h http.Header) string {
	if h == nil {
		return "nil"
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, h[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

var qbHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	id := r.URL.Query().Get("id")
	q := r.URL.Query()
	report := func() {
		select {
		case qbReportChan(id) <- b.String():
		default:
		}
		io.WriteString(w, b.String())
	}
	_, wt := r.Body.(io.WriterTo)
	fmt.Fprintf(&b, "cl=%d te=%q nobody=%v writerto=%v trailer=%s\n", r.ContentLength, r.TransferEncoding, r.Body == http.NoBody, wt, qbTrailer(r.Trailer))
	switch r.URL.Path {
	case "/read": // read to the end, then read again after io.EOF
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(&b, "body=%q err=%s trailer=%s\n", body, qbErr(err), qbTrailer(r.Trailer))
		for range 2 {
			n, err := r.Body.Read(make([]byte, 8))
			fmt.Fprintf(&b, "again n=%d err=%s\n", n, qbErr(err))
		}
	case "/readn": // read a few bytes only
		n, _ := strconv.Atoi(q.Get("n"))
		got, err := io.ReadFull(r.Body, make([]byte, n))
		fmt.Fprintf(&b, "n=%d err=%s trailer=%s\n", got, qbErr(err), qbTrailer(r.Trailer))
	case "/zero": // zero-length reads, before the body is sent (full duplex, so that net/http's
		// head does not wait for the body) and once it is there
		http.NewResponseController(w).EnableFullDuplex()
		n, err := r.Body.Read(nil)
		fmt.Fprintf(&b, "zero n=%d err=%s\n", n, qbErr(err))
		io.WriteString(w, b.String())
		b.Reset()
		w.(http.Flusher).Flush()
		first := make([]byte, 1)
		_, err = io.ReadFull(r.Body, first)
		n, err2 := r.Body.Read([]byte{})
		rest, err3 := io.ReadAll(r.Body)
		n4, err4 := r.Body.Read(nil)
		fmt.Fprintf(&b, "first=%q %s zero n=%d err=%s rest=%q %s zero at end n=%d err=%s\n", first, qbErr(err), n, qbErr(err2), rest, qbErr(err3), n4, qbErr(err4))
	case "/close": // Close, read after it, Close again
		n, err := r.Body.Read(make([]byte, 2))
		fmt.Fprintf(&b, "n=%d err=%s close=%s", n, qbErr(err), qbErr(r.Body.Close()))
		n, err = r.Body.Read(make([]byte, 2))
		fmt.Fprintf(&b, " read after close n=%d err=%s close again=%s\n", n, qbErr(err), qbErr(r.Body.Close()))
	case "/copy":
		var buf bytes.Buffer
		n, err := io.Copy(&buf, r.Body)
		fmt.Fprintf(&b, "copy n=%d err=%s body=%q trailer=%s\n", n, qbErr(err), buf.String(), qbTrailer(r.Trailer))
	case "/copyn":
		n, err := io.CopyN(io.Discard, r.Body, 3)
		rest, err2 := io.ReadAll(r.Body)
		fmt.Fprintf(&b, "copyn n=%d err=%s rest=%q err=%s\n", n, qbErr(err), rest, qbErr(err2))
	case "/keep": // leave the body (read or not) to the next request's handler
		n, _ := strconv.Atoi(q.Get("n"))
		got, err := io.ReadFull(r.Body, make([]byte, n))
		fmt.Fprintf(&b, "kept after n=%d err=%s\n", got, qbErr(err))
		qbMu.Lock()
		qbBodies[id] = r.Body
		qbMu.Unlock()
	case "/late": // read the body of the previous request on the connection, its handler gone
		qbMu.Lock()
		body := qbBodies[id]
		delete(qbBodies, id)
		qbMu.Unlock()
		n, err := body.Read(make([]byte, 8))
		fmt.Fprintf(&b, "late n=%d err=%s close=%s\n", n, qbErr(err), qbErr(body.Close()))
	case "/max": // http.MaxBytesReader, answered with the status the query gives (none: 200)
		lim, _ := strconv.Atoi(q.Get("limit"))
		r.Body = http.MaxBytesReader(w, r.Body, int64(lim))
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(&b, "body=%q err=%s\n", body, qbErr(err))
		if s, _ := strconv.Atoi(q.Get("status")); s != 0 {
			w.WriteHeader(s)
		}
	case "/expect": // the final status first, then the body
		w.WriteHeader(http.StatusOK)
		if q.Get("flush") != "" {
			w.(http.Flusher).Flush()
		}
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(&b, "body=%q err=%s\n", body, qbErr(err))
	case "/replace": // a Body of the handler's own; the request's is left unread
		r.Body = io.NopCloser(strings.NewReader("mine"))
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(&b, "body=%q err=%s\n", body, qbErr(err))
	case "/form":
		err := r.ParseForm()
		fmt.Fprintf(&b, "err=%s a=%q sizes=", qbErr(err), r.FormValue("a"))
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range r.Form {
				if k != "id" && !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, "%s:%d ", k, len(strings.Join(r.Form[k], ",")))
		}
		b.WriteString("\n")
	case "/multipart":
		err := r.ParseMultipartForm(64)
		fmt.Fprintf(&b, "err=%s a=%q", qbErr(err), r.FormValue("a"))
		if mf := r.MultipartForm; mf != nil {
			for _, fh := range mf.File["f"] {
				f, err := fh.Open()
				if err != nil {
					fmt.Fprintf(&b, " open %s", qbErr(err))
					continue
				}
				data, _ := io.ReadAll(f)
				f.Close()
				fmt.Fprintf(&b, " file %q size=%d data=%d %q", fh.Filename, fh.Size, len(data), data[:min(len(data), 8)])
			}
			mf.RemoveAll()
		}
		b.WriteString("\n")
	}
	report()
})

// qbCase is a raw request stream; then, when set, is sent once the first final response's head
// has arrived (and, with marker, once its body shows marker). With cut the client shuts down its
// sending side after its last bytes; with gone it closes the connection, and the handler's report
// is taken from qbReports.
type qbCase struct {
	name   string
	raw    string // {id} is replaced by the run's id
	then   string
	marker string
	n      int // final responses expected (1 when zero)
	cut    bool
	gone   bool
	eddy   string // http1's outcome (qbOutcome.summary) where it differs on purpose
	// eddyReport, where set, is what the http1 handler's report (of the first request) holds
	// where it differs from net/http's on purpose.
	eddyReport string
	why        string
	refHangs   bool // net/http never answers (the documented difference): its client gives up sooner
}

type qbOutcome struct {
	statuses []string // each status, with "close" when the response asks for it
	reports  []string
	probe    string
}

func (o qbOutcome) summary() string { return strings.Join(o.statuses, " ") + " " + o.probe }

func qbPOST(path, fields, body string) string {
	return "POST " + path + "id={id} HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n" + body
}

func qbLen(path, body string) string {
	return qbPOST(path, "Content-Length: "+strconv.Itoa(len(body))+"\r\n", body)
}

const qbChunkedTE = "Transfer-Encoding: chunked\r\n"

var qbMultipart, qbMultipartType = func() (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("a", "1")
	fw, _ := mw.CreateFormFile("f", "f.txt")
	fw.Write(bytes.Repeat([]byte("0123456789"), 100)) // past ParseMultipartForm's 64: on disk
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}()

const (
	whyZeroRead = "doc.go: a read of zero bytes returns at once; net/http's chunked body waits for the first chunk's size line"
	whyCut      = "doc.go: a body cut short fails with io.ErrUnexpectedEOF, also on later reads, and the answer says Connection: close; net/http's later reads of a Content-Length body return io.EOF and its answer does not say close"
	whyCutTrail = "doc.go: a body cut short in its trailer section fails with io.ErrUnexpectedEOF; net/http reports \"suspiciously long trailer\", then closes the body"
)

const whyMaxBytes = "doc.go: http.MaxBytesReader cannot tell the ResponseWriter to close the connection: it stays open; net/http says Connection: close"

var qbCases = []qbCase{
	{name: "GET without body", raw: "GET /read?id={id} HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "POST Content-Length 0", raw: qbLen("/read?", "")},
	{name: "GET with a body", raw: "GET /read?id={id} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "read after EOF", raw: qbLen("/read?", "hello")},
	{name: "chunked, read after EOF", raw: qbPOST("/read?", qbChunkedTE, "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")},
	{name: "zero-length reads", raw: qbPOST("/zero?", "Content-Length: 5\r\n", ""), then: "hello", marker: "zero n="},
	{name: "zero-length reads, chunked", raw: qbPOST("/zero?", qbChunkedTE, ""), then: "5\r\nhello\r\n0\r\n\r\n", marker: "zero n=",
		eddy: "200 open", why: whyZeroRead, refHangs: true},
	{name: "zero-length reads, chunked, within a chunk", raw: qbPOST("/zero?", qbChunkedTE, "5\r\nh"), then: "ello\r\n0\r\n\r\n", marker: "zero n="},
	{name: "read after Close, Close twice", raw: qbLen("/close?", "hello")},
	{name: "read after Close, chunked", raw: qbPOST("/close?", qbChunkedTE, "5\r\nhello\r\n0\r\n\r\n")},
	{name: "io.Copy", raw: qbLen("/copy?", "hello")},
	{name: "io.Copy chunked", raw: qbPOST("/copy?", qbChunkedTE, "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")},
	{name: "io.CopyN then ReadAll", raw: qbLen("/copyn?", "hello")},
	{name: "body read after the handler returned (unread)", raw: qbLen("/keep?n=0&", "hello") + "GET /late?id={id} HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "body read after the handler returned (part read)", raw: qbLen("/keep?n=2&", "hello") + "GET /late?id={id} HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "body read after the handler returned (read whole)", raw: qbLen("/keep?n=5&", "hello") + "GET /late?id={id} HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},
	{name: "body read after the handler returned (chunked)", raw: qbPOST("/keep?n=2&", qbChunkedTE, "5\r\nhello\r\n0\r\n\r\n") + "GET /late?id={id} HTTP/1.1\r\nHost: x\r\n\r\n", n: 2},

	// Trailers.
	{name: "declared trailers", raw: qbPOST("/read?", qbChunkedTE+"Trailer: X-A, x-b\r\n", "5\r\nhello\r\n0\r\nX-A: 1\r\nx-c: 2\r\n\r\n")},
	{name: "undeclared trailers", raw: qbPOST("/read?", qbChunkedTE, "5\r\nhello\r\n0\r\nX-C: 2\r\nX-C: 3\r\n\r\n")},
	{name: "declared trailer repeated", raw: qbPOST("/read?", qbChunkedTE+"Trailer: X-A\r\n", "5\r\nhello\r\n0\r\nX-A: 1\r\nx-a: 2\r\n\r\n")},
	{name: "trailers before EOF", raw: qbPOST("/readn?n=2&", qbChunkedTE+"Trailer: X-A\r\n", "5\r\nhello\r\n0\r\nX-A: 1\r\n\r\n")},
	{name: "trailers at the last byte", raw: qbPOST("/readn?n=5&", qbChunkedTE+"Trailer: X-A\r\n", "5\r\nhello\r\n0\r\nX-A: 1\r\n\r\n")},
	{name: "trailers by io.Copy", raw: qbPOST("/copy?", qbChunkedTE+"Trailer: X-A\r\n", "5\r\nhello\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n")},
	{name: "Trailer field without chunked", raw: qbPOST("/read?", "Trailer: X-A\r\nContent-Length: 5\r\n", "hello")},

	// http.MaxBytesReader.
	{name: "MaxBytesReader within", raw: qbLen("/max?limit=5&", "hello")},
	{name: "MaxBytesReader over, handler answers 200", raw: qbLen("/max?limit=3&", "hello"), eddy: "200 open", why: whyMaxBytes},
	{name: "MaxBytesReader over, handler answers 413", raw: qbLen("/max?limit=3&status=413&", "hello"), eddy: "413 open", why: whyMaxBytes},
	{name: "MaxBytesReader over, chunked", raw: qbPOST("/max?limit=3&", qbChunkedTE, "5\r\nhello\r\n0\r\n\r\n"), eddy: "200 open", why: whyMaxBytes},

	// Expect: 100-continue, with the final status given before the body is read.
	{name: "Expect, WriteHeader then read", raw: qbPOST("/expect?", "Expect: 100-continue\r\nContent-Length: 5\r\n", "hello")},
	{name: "Expect, WriteHeader, Flush, then read", raw: qbPOST("/expect?flush=1&", "Expect: 100-continue\r\nContent-Length: 5\r\n", ""), then: "hello"},
	{name: "Expect, chunked, WriteHeader then read", raw: qbPOST("/expect?", "Expect: 100-continue\r\n"+qbChunkedTE, "5\r\nhello\r\n0\r\n\r\n")},

	// A Body of the handler's own.
	{name: "replaced Body", raw: qbLen("/replace?", "hello")},
	{name: "replaced Body, chunked", raw: qbPOST("/replace?", qbChunkedTE, "5\r\nhello\r\n0\r\n\r\n")},

	// Bodies the client cuts short.
	{name: "Content-Length longer than sent, FIN", raw: qbPOST("/read?", "Content-Length: 10\r\n", "hel"), cut: true,
		eddy: "200-close cut", eddyReport: `again n=0 err="unexpected EOF" (ErrUnexpectedEOF)`, why: whyCut},
	{name: "Content-Length, FIN before any byte", raw: qbPOST("/read?", "Content-Length: 10\r\n", ""), cut: true,
		eddy: "200-close cut", eddyReport: `again n=0 err="unexpected EOF" (ErrUnexpectedEOF)`, why: whyCut},
	{name: "chunked, FIN mid-chunk", raw: qbPOST("/read?", qbChunkedTE, "5\r\nhel"), cut: true},
	{name: "chunked, last chunk never comes", raw: qbPOST("/read?", qbChunkedTE, "5\r\nhello\r\n"), cut: true},
	{name: "chunked, trailer section cut", raw: qbPOST("/read?", qbChunkedTE, "5\r\nhello\r\n0\r\nX-A: 1\r\n"), cut: true,
		eddyReport: `body="hello" err="unexpected EOF" (ErrUnexpectedEOF) trailer=nil`, why: whyCutTrail},
	{name: "Content-Length, FIN after a read began", raw: qbPOST("/zero?", "Content-Length: 10\r\n", ""), then: "hel", marker: "zero n=", cut: true,
		eddyReport: `zero at end n=0 err="unexpected EOF" (ErrUnexpectedEOF)`, why: whyCut},
	{name: "Content-Length, client gone", raw: qbPOST("/read?", "Content-Length: 10\r\n", "hel"), gone: true,
		eddyReport: `again n=0 err="unexpected EOF" (ErrUnexpectedEOF)`, why: whyCut},

	// Forms.
	{name: "ParseForm", raw: qbPOST("/form?a=q&", "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n", "a=1&b=two")},
	{name: "ParseForm chunked", raw: qbPOST("/form?", "Content-Type: application/x-www-form-urlencoded\r\n"+qbChunkedTE, "3\r\na=1\r\n6\r\n&b=two\r\n0\r\n\r\n")},
	{name: "ParseForm over 10 MiB", raw: qbLen("/form?", "a="+strings.Repeat("x", 10<<20))},
	{name: "ParseForm over 10 MiB, chunked", raw: qbPOST("/form?", qbChunkedTE, fmt.Sprintf("%x\r\na=%s\r\n0\r\n\r\n", 10<<20+2, strings.Repeat("x", 10<<20)))},
	{name: "ParseMultipartForm", raw: qbPOST("/multipart?", "Content-Type: "+qbMultipartType+"\r\nContent-Length: "+strconv.Itoa(len(qbMultipart))+"\r\n", qbMultipart)},
	{name: "ParseMultipartForm, body cut", raw: qbPOST("/multipart?", "Content-Type: "+qbMultipartType+"\r\nContent-Length: "+strconv.Itoa(len(qbMultipart))+"\r\n", qbMultipart[:300]), cut: true,
		eddy: "200-close cut", why: whyCut},
}

func init() {
	// Content-Type for the url-encoded cases that leave it out.
	for i, c := range qbCases {
		if strings.HasPrefix(c.raw, "POST /form?") && !strings.Contains(c.raw, "Content-Type") {
			qbCases[i].raw = strings.Replace(c.raw, "Host: x\r\n", "Host: x\r\nContent-Type: application/x-www-form-urlencoded\r\n", 1)
		}
	}
}

const rbProbe = "GET /read?id=probe HTTP/1.1\r\nHost: x\r\n\r\n"

// qbRun sends c to addr and reports what came back.
func qbRun(t *testing.T, addr string, c qbCase, id string, within time.Duration) qbOutcome {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(within))
	raw := strings.ReplaceAll(c.raw, "{id}", id)
	var o qbOutcome
	if c.gone {
		io.WriteString(conn, raw)
		conn.Close()
		select {
		case r := <-qbReportChan(id):
			o.reports = append(o.reports, r)
		case <-time.After(8 * time.Second):
			o.reports = append(o.reports, "no report")
		}
		o.probe = "gone"
		return o
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		io.WriteString(conn, raw)
		if c.cut && c.then == "" {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()
	br := bufio.NewReader(conn)
	closing := false
	for finals := 0; finals < max(c.n, 1) && !closing; {
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			o.statuses = append(o.statuses, "none")
			break
		}
		s := strconv.Itoa(resp.StatusCode)
		if resp.Close {
			s += "-close"
		}
		o.statuses = append(o.statuses, s)
		if resp.StatusCode < 200 {
			continue
		}
		var body []byte
		if finals == 0 && c.then != "" {
			<-wrote
			for c.marker != "" && !bytes.Contains(body, []byte(c.marker)) {
				b := make([]byte, 512)
				n, err := resp.Body.Read(b)
				body = append(body, b[:n]...)
				if err != nil {
					break
				}
			}
			io.WriteString(conn, c.then)
			if c.cut {
				conn.(*net.TCPConn).CloseWrite()
			}
		}
		rest, err := io.ReadAll(resp.Body)
		body = append(body, rest...)
		if err != nil {
			body = append(body, " (body: "+err.Error()+")"...)
		}
		o.reports = append(o.reports, string(body))
		finals++
		closing = resp.Close
	}
	<-wrote
	if c.cut {
		o.probe = "cut"
		return o
	}
	io.WriteString(conn, rbProbe)
	switch r, err := readResponse(br, "GET"); {
	case err != nil:
		o.probe = "closed"
	case r.status == 200 && strings.HasPrefix(r.body, "cl=0"):
		o.probe = "open"
	default:
		o.probe = fmt.Sprintf("then-%d", r.status)
	}
	return o
}

func TestRequestBodyAsNetHTTP(t *testing.T) {
	ref := netHTTPRef(t, qbHandler, nil)
	want := make([]qbOutcome, len(qbCases))
	t.Run("net/http", func(t *testing.T) {
		for i, c := range qbCases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				within := 8 * time.Second
				if c.refHangs {
					within = time.Second
				}
				want[i] = qbRun(t, ref, c, "ref-"+strconv.Itoa(i), within)
			})
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: qbHandler, ErrorLog: newLogger(io.Discard)})
		var mu sync.Mutex
		table := make([]string, len(qbCases))
		t.Run("cases", func(t *testing.T) {
			for i, c := range qbCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					got := qbRun(t, addr, c, string(engine)+"-"+strconv.Itoa(i), 8*time.Second)
					ws, gs := want[i].summary(), got.summary()
					line := fmt.Sprintf("%-50s net/http %-22s http1 %-22s", c.name, ws, gs)
					line += diffVerdict(t, ws, gs, c.eddy, c.why)
					switch {
					case c.eddyReport != "":
						if len(got.reports) == 0 || !strings.Contains(got.reports[0], c.eddyReport) {
							t.Errorf("handler saw\n%s\nwant %q in it (%s); net/http's saw\n%s", strings.Join(got.reports, "--\n"), c.eddyReport, c.why, strings.Join(want[i].reports, "--\n"))
						}
						if slices.Equal(got.reports, want[i].reports) {
							line += " (documented report difference not seen)"
						} else {
							line += " REPORT KEPT"
							if c.eddy == "" {
								line += ": " + c.why
							}
						}
					case c.eddy == "" || !c.refHangs:
						if !slices.Equal(got.reports, want[i].reports) {
							t.Errorf("handler saw\n%s\nnet/http's saw\n%s", strings.Join(got.reports, "--\n"), strings.Join(want[i].reports, "--\n"))
							line += " REPORT DIFFERS"
						}
					}
					mu.Lock()
					table[i] = line
					mu.Unlock()
				})
			}
		})
		if testing.Verbose() {
			t.Logf("outcomes:\n%s", strings.Join(table, "\n"))
		}
	})
}

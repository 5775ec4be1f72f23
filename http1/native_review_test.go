package http1_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// gzipped returns s compressed with gzip.
func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

// TestNativeNoSniffWithContentEncoding: ResponseBuffer documents "Content-Type (sniffed from
// the body when not set, as net/http does)". net/http does not sniff when the handler set a
// non-empty Content-Encoding (issue 31753): a gzip-encoded body gets no Content-Type. The native
// style sniffed the encoded bytes and labelled the response application/x-gzip (until session 19).
func TestNativeNoSniffWithContentEncoding(t *testing.T) {
	body := gzipped("<html><body>hello</body></html>")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(body)
	})
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.AddHeader("Content-Encoding", "gzip")
		w.Write(body)
	})
	const raw = "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
	want := exchange(t, netHTTPRef(t, h, nil), raw, "GET")[0]
	if _, ok := want.header["Content-Type"]; ok {
		t.Skipf("net/http sent Content-Type %q", want.header.Get("Content-Type"))
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := exchange(t, start(t, engine, &http1.Server{Native: nat}), raw, "GET")[0]
		if ct, ok := got.header["Content-Type"]; ok {
			t.Fatalf("native response has Content-Type %q with Content-Encoding: gzip; net/http sends none", ct)
		}
	})
}

// TestNativeNotModifiedDropsContentType: net/http removes Content-Type (with Content-Length
// and Transfer-Encoding) from a 304 response (suppressedHeaders304). The native style sent the
// handler's Content-Type on a 304 (until session 19).
func TestNativeNotModifiedDropsContentType(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Etag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	})
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.AddHeader("Content-Type", "text/html")
		w.AddHeader("Etag", `"x"`)
		w.SetStatus(http.StatusNotModified)
	})
	const raw = "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\n\r\n"
	want := exchange(t, netHTTPRef(t, h, nil), raw, "GET")[0]
	if _, ok := want.header["Content-Type"]; ok {
		t.Skipf("net/http sent Content-Type on 304")
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := exchange(t, start(t, engine, &http1.Server{Native: nat}), raw, "GET")[0]
		if got.status != 304 {
			t.Fatalf("status %d", got.status)
		}
		if ct, ok := got.header["Content-Type"]; ok {
			t.Fatalf("native 304 has Content-Type %q; net/http drops it", ct)
		}
	})
}

// TestNativeAddHeaderBytesIsAddHeader: "AddHeaderBytes is AddHeader with the value as
// bytes". AddHeader trims the value as net/http does (textproto.TrimString: space, tab, CR, LF),
// AddHeaderBytes trimmed with bytes.TrimSpace, which also strips U+00A0 and U+0085 (valid obs-text
// octets in a field value) and \v, \f (until session 19).
func TestNativeAddHeaderBytesIsAddHeader(t *testing.T) {
	const v = "caf\u00a0"
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.AddHeader("X-A", v)
		w.AddHeaderBytes("X-B", []byte(v))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := exchange(t, start(t, engine, &http1.Server{Native: nat}), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")[0]
		if a, b := got.header.Get("X-A"), got.header.Get("X-B"); a != b {
			t.Fatalf("AddHeader gave %q, AddHeaderBytes %q for the same value %q", a, b, v)
		}
	})
}

// TestNativeConnectionOptionsKept: AddHeader documents that Content-Length and
// Transfer-Encoding are ignored and that "Connection: close" closes the connection; it drops every
// other Connection field silently. A 426 (Upgrade Required) must carry Upgrade, and a sender of
// Upgrade MUST also send "Connection: upgrade" (RFC 9110 §7.8); net/http sends the handler's
// Connection field, and so does the native style since session 19.
func TestNativeConnectionOptionsKept(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "h2c")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusUpgradeRequired)
	})
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.AddHeader("Upgrade", "h2c")
		w.AddHeader("Connection", "Upgrade")
		w.SetStatus(http.StatusUpgradeRequired)
	})
	const raw = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	want := exchange(t, netHTTPRef(t, h, nil), raw, "GET")[0]
	if !strings.EqualFold(want.header.Get("Connection"), "upgrade") {
		t.Skipf("net/http sent Connection %q", want.header["Connection"])
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := exchange(t, start(t, engine, &http1.Server{Native: nat}), raw, "GET")[0]
		if got.status != 426 || got.header.Get("Upgrade") != "h2c" {
			t.Fatalf("%d %v", got.status, got.header)
		}
		if !strings.EqualFold(got.header.Get("Connection"), "upgrade") {
			t.Fatalf("native 426 with Upgrade has Connection %q; net/http sends %q", got.header["Connection"], want.header["Connection"])
		}
	})
}

// A handler that panics on a HEAD request is answered with 500 and "Content-Length: 22", and the 22
// bytes "Internal Server Error\n" followed: a response to HEAD never has a body (RFC 9110 §9.3.2).
// Both styles wrote them until session 19 (internalError and response.abort ignored the method).
func TestPanicHEADHasNoBody(t *testing.T) {
	styles := map[string]*http1.Server{
		"native":  {Native: http1.NativeHandlerFunc(func(*http1.ResponseBuffer, *http1.NativeRequest) { panic("boom") })},
		"nethttp": {Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })},
	}
	for name, srv := range styles {
		t.Run(name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				addr := start(t, engine, &http1.Server{Native: srv.Native, Handler: srv.Handler, ErrorLog: newLogger(io.Discard)})
				c := dial(t, addr)
				io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
				br := bufio.NewReader(c)
				r, err := readResponse(br, "HEAD")
				if err != nil || r.status != 500 {
					t.Fatalf("%v %+v", err, r)
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				rest, _ := io.ReadAll(br)
				if len(rest) != 0 {
					t.Fatalf("the 500 to HEAD is followed by %q", rest)
				}
			})
		})
	}
}

// A handler's "Connection: keep-alive" is the server's to say: kept, it stood beside the server's own
// "Connection: close" on a connection that closes (with the change that sends other Connection values).
func TestNativeHandlerKeepAliveIsTheServers(t *testing.T) {
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.AddHeader("Connection", "keep-alive")
		w.AddHeaderBytes("Connection", []byte("keep-alive"))
		w.WriteString("ok")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Native: nat, ErrorLog: newLogger(io.Discard)})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		raw, _ := io.ReadAll(c) // the server closes after it (http.ReadResponse drops "close" from the header)
		head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		var conns []string
		for _, line := range strings.Split(head, "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Connection") {
				conns = append(conns, strings.TrimSpace(v))
			}
		}
		if len(conns) != 1 || conns[0] != "close" {
			t.Errorf("Connection fields %q in %q; want only the server's close", conns, head)
		}
	})
}

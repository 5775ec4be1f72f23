package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// zzServer is a server under test: net/http's, or http1's on one engine.
type zzServer struct {
	name       string
	addr       string
	shutdown   func(context.Context) error
	close      func() error
	onShutdown func(func())
}

// zzDiff runs check against net/http's server and then against http1's on every engine, each
// with the handler h (wrapped so that "/next" answers "next"), and fails where an engine's
// transcript differs from net/http's.
func zzDiff(t *testing.T, h http.Handler, check func(t *testing.T, s zzServer) string) {
	t.Helper()
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		h.ServeHTTP(w, r)
	})
	var ref string
	t.Run("nethttp", func(t *testing.T) {
		hs := httptest.NewUnstartedServer(mux)
		hs.Config.ErrorLog = newLogger(io.Discard)
		hs.Start()
		t.Cleanup(hs.Close)
		ref = check(t, zzServer{"nethttp", hs.Listener.Addr().String(), hs.Config.Shutdown, hs.Config.Close, hs.Config.RegisterOnShutdown})
		t.Logf("net/http:\n%s", ref)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: mux, ErrorLog: newLogger(io.Discard)}
		addr := start(t, engine, srv)
		got := check(t, zzServer{string(engine), addr, srv.Shutdown, srv.Close, srv.RegisterOnShutdown})
		if got != ref {
			t.Errorf("differs from net/http:\n%s", zzLineDiff(ref, got))
		}
	})
}

// zzResponses reads the responses to the given methods off br, and says what follows them on
// the connection: "EOF" when the server closed it, else whether a following request is served.
func zzResponses(t *testing.T, c net.Conn, br *bufio.Reader, methods ...string) string {
	t.Helper()
	var b strings.Builder
	closeAfter := false
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			fmt.Fprintf(&b, "[read error %s]", zzErrClass(err))
			return b.String()
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&b, "%s %d\n", resp.Proto, resp.StatusCode)
		for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
			if k == "Date" {
				continue
			}
			fmt.Fprintf(&b, "  %s: %q\n", k, resp.Header[k])
		}
		if len(resp.TransferEncoding) > 0 {
			fmt.Fprintf(&b, "  [te %q]\n", resp.TransferEncoding)
		}
		for _, k := range slices.Sorted(maps.Keys(resp.Trailer)) {
			fmt.Fprintf(&b, "  [trailer %s: %q]\n", k, resp.Trailer[k])
		}
		if _, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); params["boundary"] != "" {
			body = bytes.ReplaceAll(body, []byte(params["boundary"]), []byte("BOUNDARY"))
		}
		if len(body) > 200 {
			fmt.Fprintf(&b, "  [body %d bytes %q...]\n", len(body), body[:40])
		} else {
			fmt.Fprintf(&b, "  [body %q]\n", body)
		}
		if err != nil {
			fmt.Fprintf(&b, "  [body error %s]\n", zzErrClass(err))
			return b.String()
		}
		closeAfter = resp.Close
		if resp.Close {
			b.WriteString("  [close]\n")
		}
	}
	b.WriteString(zzAfter(c, br, closeAfter))
	return zzBoundary.ReplaceAllString(b.String(), "BOUNDARY")
}

// zzAfter says what the connection does after the responses read.
func zzAfter(c net.Conn, br *bufio.Reader, closeAfter bool) string {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if !closeAfter {
		if _, err := io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return "[then: write failed]"
		}
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return "[then: " + zzErrClass(err) + "]"
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if closeAfter {
		return fmt.Sprintf("[then: unexpected response %d %q after close]", resp.StatusCode, b)
	}
	return fmt.Sprintf("[then: next served %d %q]", resp.StatusCode, b)
}

// zzErrClass names an error the same way for each server.
func zzErrClass(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case isReset(err):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return fmt.Sprintf("%T", err)
}

// zzRaw dials s, sends raw, and returns the transcript of the responses to methods.
func zzRaw(t *testing.T, s zzServer, raw string, methods ...string) string {
	t.Helper()
	c := dial(t, s.addr)
	go io.WriteString(c, raw)
	return zzResponses(t, c, bufio.NewReader(c), methods...)
}

// zzObs collects what handlers observe, to be compared with net/http's.
type zzObs struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *zzObs) add(format string, args ...any) {
	o.mu.Lock()
	fmt.Fprintf(&o.buf, format+"\n", args...)
	o.mu.Unlock()
}

func (o *zzObs) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.buf.String()
	o.buf.Reset()
	return s
}

// zzBoundary matches the random boundary of a multipart/byteranges body.
var zzBoundary = regexp.MustCompile(`[0-9a-f]{60}`)

// zzLineDiff lists the lines of want and got that differ, in a minimal edit script.
func zzLineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j]: length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("    " + a[i] + "\n")
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("GOT " + b[j] + "\n")
			j++
		default:
			out.WriteString("NET " + a[i] + "\n")
			i++
		}
	}
	return out.String()
}

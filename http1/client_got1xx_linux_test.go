package http1_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// A Got1xxResponse hook that takes its time holds up its own request only, as with net/http,
// whose hook runs on the connection's read goroutine: httputil.ReverseProxy's writes each 1xx
// response to its client, and waits there for a client that does not read. The Transport called
// the hook on the connection's loop, which served none of its other connections meanwhile:
// a request to another server, on the same loop, waited for the hook.
func TestGot1xxHookBlocksOnlyItsRequest(t *testing.T) {
	slow := netHTTPRef(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "slow")
	}), nil)
	other := netHTTPRef(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "other")
	}), nil)
	check := func(t *testing.T, rt http.RoundTripper) {
		release := make(chan struct{})
		inHook := make(chan struct{})
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			close(inHook)
			<-release
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+slow+"/", nil)
		slowDone := make(chan string, 1)
		go func() {
			resp, err := rt.RoundTrip(req)
			if err != nil {
				slowDone <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			slowDone <- string(b)
		}()
		<-inHook
		otherDone := make(chan string, 1)
		go func() {
			req, _ := http.NewRequest("GET", "http://"+other+"/", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				otherDone <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			otherDone <- string(b)
		}()
		select {
		case got := <-otherDone:
			if got != "other" {
				t.Errorf("the other request: %q", got)
			}
			close(release)
		case <-time.After(10 * time.Second):
			t.Errorf("a request to another server waits for the Got1xxResponse hook of a request on the same loop")
			close(release)
			<-otherDone
		}
		if got := <-slowDone; got != "slow" {
			t.Errorf("the request whose hook waited: %q", got)
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		check(t, tr)
	})
	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) { check(t, tr) })
}

// The final response, and the server's FIN after it, arrive while the Got1xxResponse hook runs:
// the response is delivered whole once the hook returns (the FIN waits behind the input, as the
// response's, with reading paused), whether its body has a length or ends with the connection.
// A request cancelled while its hook runs fails with the cancellation, and the hook's late return
// does nothing more; so does one whose hook calls runtime.Goexit, and the Transport serves on.
func TestGot1xxHookOutlivesTheResponse(t *testing.T) {
	advEach(t, func(tr *http1.Transport) { tr.Loops = 1 }, func(t *testing.T, tr *http1.Transport) {
		srv := advServe(t, func(i int, c net.Conn) {
			req, err := advReadReq(bufio.NewReader(c))
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
			switch req.URL.Path {
			case "/length":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal")
			case "/eof":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfinal")
			case "/cancel":
				time.Sleep(100 * time.Millisecond)
				io.WriteString(c, advOK("late"))
			}
		})
		for _, path := range []string{"/length", "/eof"} {
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				time.Sleep(50 * time.Millisecond) // the rest arrives meanwhile
				return nil
			}}
			req := advReq(t, "GET", srv.URL+path, nil).WithContext(httptrace.WithClientTrace(context.Background(), trace))
			resp, err := advRT(t, tr, req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			b, err := advReadAll(t, resp.Body)
			if err != nil || string(b) != "final" {
				t.Errorf("%s: body %q, %v", path, b, err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			cancel()
			<-release
			return nil
		}}
		req := advReq(t, "GET", srv.URL+"/cancel", nil).WithContext(httptrace.WithClientTrace(ctx, trace))
		if _, err := advRT(t, tr, req); !errors.Is(err, context.Canceled) {
			t.Errorf("a request cancelled in its hook: %v", err)
		}
		close(release)
		// A hook that calls runtime.Goexit (t.FailNow in a test's hook) fails its request; on the
		// loop it stopped the loop, and every connection of it.
		trace = &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			runtime.Goexit()
			return nil
		}}
		req = advReq(t, "GET", srv.URL+"/cancel", nil).WithContext(httptrace.WithClientTrace(context.Background(), trace))
		if _, err := advRT(t, tr, req); err == nil {
			t.Error("a request whose hook called runtime.Goexit succeeded")
		}
		resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/length", nil))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := advReadAll(t, resp.Body); err != nil || string(b) != "final" {
			t.Errorf("the next request: body %q, %v", b, err)
		}
	})
}

// ResponseHeaderTimeout bounds the wait for the final head while a Got1xxResponse hook runs, as
// net/http's timer does: on the loop, the hook held up the timer too, and the request waited for
// the hook however long it took.
func TestGot1xxHookUnderResponseHeaderTimeout(t *testing.T) {
	srv := advServe(t, func(i int, c net.Conn) {
		if _, err := advReadReq(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
		io.Copy(io.Discard, c) // no final response
	})
	advEach(t, func(tr *http1.Transport) { tr.ResponseHeaderTimeout = 200 * time.Millisecond }, func(t *testing.T, tr *http1.Transport) {
		release := make(chan struct{})
		defer close(release)
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			<-release
			return nil
		}}
		req := advReq(t, "GET", srv.URL+"/", nil).WithContext(httptrace.WithClientTrace(context.Background(), trace))
		if _, err := advRT(t, tr, req); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("RoundTrip: %v; want the ResponseHeaderTimeout", err)
		}
	})
}

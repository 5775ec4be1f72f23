//go:build linux

package http1_test

// Session 21's review of the client's connection pooling and reuse under server-side closes, each case run
// against net/http's Transport and http1.Transport (every engine) on the same scripted raw server, so
// that where they differ it is known which is right.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
)

// poolRvEach runs fn against net/http's Transport (subtest "net/http"), then against an
// http1.Transport on every engine, each with a fresh raw server handling its connections with handle.
func poolRvEach(t *testing.T, cfg func(tr *http1.Transport), handle func(i int, c net.Conn), fn func(t *testing.T, rt http.RoundTripper, srv *advSrv)) {
	t.Helper()
	t.Run("net/http", func(t *testing.T) {
		std := &http.Transport{}
		defer std.CloseIdleConnections()
		fn(t, std, advServe(t, handle))
	})
	advEach(t, cfg, func(t *testing.T, tr *http1.Transport) {
		fn(t, tr, advServe(t, handle))
	})
}

// poolRvDo sends req through rt, bounded by advTimeout, and returns the body read to its end.
func poolRvDo(t *testing.T, rt http.RoundTripper, req *http.Request) (string, error) {
	t.Helper()
	r := advWithin(t, advTimeout, req.Method+" "+req.URL.String(), func() advRead {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return advRead{nil, err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return advRead{b, err}
	})
	return string(r.b), r.err
}

// A server may send interim responses as often as it likes (102 Processing every few seconds of a
// long WebDAV operation, several 103 Early Hints): net/http (Go 1.24 on) bounds them by the size of
// their heads, counted against MaxResponseHeaderBytes, not by their number. The Transport failed the
// request after 5 of them, "as net/http does", and closed the connection.
func TestReviewPoolManyInterimResponses(t *testing.T) {
	poolRvEach(t, nil, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := advReadReq(br); err != nil {
				return
			}
			for range 8 {
				io.WriteString(c, "HTTP/1.1 102 Processing\r\n\r\n")
				time.Sleep(2 * time.Millisecond)
			}
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+advOK("done"))
		}
	}, func(t *testing.T, rt http.RoundTripper, srv *advSrv) {
		for i := range 3 {
			advSettle()
			if b, err := poolRvDo(t, rt, advReq(t, "GET", srv.URL+"/", nil)); err != nil || b != "done" {
				t.Fatalf("request %d after 9 interim responses: body %q, error %v", i, b, err)
			}
		}
		if n := srv.accepts.Load(); n != 1 {
			t.Errorf("%d connections for 3 requests, want 1", n)
		}
	})
	// The bound still holds, the final head included: 8 interim heads of 100 bytes and a final head
	// that would fit alone in MaxResponseHeaderBytes, but not after them.
	interim := "HTTP/1.1 103 Early Hints\r\nLink: <" + strings.Repeat("a", 100-len("HTTP/1.1 103 Early Hints\r\nLink: <>\r\n\r\n")) + ">\r\n\r\n"
	final := "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 400) + "\r\nContent-Length: 2\r\n\r\nok"
	advEach(t, func(tr *http1.Transport) { tr.MaxResponseHeaderBytes = 1024 }, func(t *testing.T, tr *http1.Transport) {
		srv := advServeEach(t, func(int, *http.Request) string { return strings.Repeat(interim, 8) + final })
		if b, err := poolRvDo(t, tr, advReq(t, "GET", srv.URL+"/", nil)); err == nil {
			t.Errorf("1,230 bytes of heads with MaxResponseHeaderBytes=1024 accepted (body %q)", b)
		}
		srv2 := advServeEach(t, func(int, *http.Request) string { return strings.Repeat(interim, 3) + final })
		if b, err := poolRvDo(t, tr, advReq(t, "GET", srv2.URL+"/", nil)); err != nil || b != "ok" {
			t.Errorf("730 bytes of heads with MaxResponseHeaderBytes=1024: body %q, error %v", b, err)
		}
	})
}

// poolRvFirstDies is a server whose first connection reads one request, reports its path on first
// ("" if the client closed it first) and closes without answering; the later ones answer every
// request with "answer" and its path.
func poolRvFirstDies(t *testing.T, first chan<- string) *advSrv {
	return advServe(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		if i == 0 {
			req, err := advReadReq(br)
			if err != nil {
				first <- ""
				return
			}
			first <- req.URL.Path
			return
		}
		for {
			req, err := advReadReq(br)
			if err != nil {
				return
			}
			io.WriteString(c, advOK("answer"+req.URL.Path))
		}
	})
}

// A connection dialled for a request that was cancelled before it could start goes to the pool
// unused. When the server then closes it as the next GET goes out (the keep-alive race), net/http
// sends the GET again on another connection: a connection from the pool is a reused one
// (tryPutIdleConn marks it). The Transport counted as reused only a connection an exchange had ended
// on, so the GET failed with "server closed the connection before the response: EOF".
func TestReviewPoolUnusedPooledConnRetried(t *testing.T) {
	t.Run("net/http", func(t *testing.T) {
		first := make(chan string, 2)
		srv := poolRvFirstDies(t, first)
		gate := make(chan struct{})
		std := &http.Transport{DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			<-gate // past the request's cancellation: net/http finishes the dial and pools the connection
			var d net.Dialer
			return d.DialContext(context.Background(), network, addr)
		}}
		defer std.CloseIdleConnections()
		ctx, cancel := context.WithCancel(context.Background())
		errA := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/a", nil)
			_, err := std.RoundTrip(req)
			errA <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := advRecv(t, errA, "the cancelled request"); err == nil {
			t.Fatal("the cancelled request succeeded")
		}
		close(gate)
		if !advWaitFor(advTimeout, func() bool { return srv.accepts.Load() == 1 }) {
			t.Fatal("the dial of the cancelled request did not reach the server")
		}
		time.Sleep(50 * time.Millisecond)
		b, err := poolRvDo(t, std, advReq(t, "GET", srv.URL+"/b", nil))
		if p := advRecv(t, first, "the first connection's end"); p != "/b" {
			t.Fatalf("the first connection read %q, want /b: the unused connection was not pooled", p)
		}
		if err != nil || b != "answer/b" {
			t.Errorf("GET on the unused pooled connection the server closed: body %q, error %v; want a retry", b, err)
		}
	})
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			// Two requests to servers that answer when told, on the Transport's one loop: their
			// responses' continuations (future.Inline) hold the loop while the test acts.
			got := map[string]chan bool{"/o1": make(chan bool, 1), "/o2": make(chan bool, 1)}
			send := map[string]chan bool{"/o1": make(chan bool), "/o2": make(chan bool)}
			hold := func(p string) {
				if got[p] != nil {
					got[p] <- true
					<-send[p]
				}
			}
			o1, stop1 := regressServer(t, hold)
			defer stop1()
			o2, stop2 := regressServer(t, hold)
			defer stop2()
			first := make(chan string, 2)
			srv := poolRvFirstDies(t, first)
			tr := &http1.Transport{Engine: kind, Loops: 1}
			defer advClose(t, tr)
			f1 := tr.RoundTripAsync(advReq(t, "GET", o1+"/o1", nil))
			f2 := tr.RoundTripAsync(advReq(t, "GET", o2+"/o2", nil))
			advRecv(t, got["/o1"], "request o1")
			advRecv(t, got["/o2"], "request o2")
			held1, held2 := make(chan bool), make(chan bool)
			release1, release2 := make(chan struct{}), make(chan struct{})
			future.Map(f1, future.Inline, func(r *http.Response) (int, error) {
				held1 <- true
				<-release1
				r.Body.Close()
				return 0, nil
			})
			future.Map(f2, future.Inline, func(r *http.Response) (int, error) {
				held2 <- true
				<-release2
				r.Body.Close()
				return 0, nil
			})
			close(send["/o1"])
			advRecv(t, held1, "o1's continuation")
			// Loop held: A's connect starts, o2's answer arrives; the loop registers A's socket
			// once let go, then finds o2's answer, and A's connect finished behind it.
			fA := tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/a", nil))
			close(send["/o2"])
			time.Sleep(20 * time.Millisecond)
			close(release1)
			advRecv(t, held2, "o2's continuation")
			// Loop held in o2's continuation, A's connect done or about to be: cancel A, which then
			// finds its connection and gives it to the pool unused.
			fA.Cancel()
			advRecv(t, fA.Done(), "A's cancellation")
			close(release2)
			time.Sleep(50 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			b, err := poolRvDo(t, tr, advReq(t, "GET", srv.URL+"/b", nil).WithContext(ctx))
			p := advRecv(t, first, "the first connection's end")
			t.Logf("the first connection read %q", p) // "/a" where A went out before its cancellation (std)
			if err != nil || b != "answer/b" {
				t.Errorf("GET on the unused pooled connection the server closed: body %q, error %v; want a retry, as net/http", b, err)
			}
		})
	}
}

// A program that sends requests one after the other, each response read to its end (or bodyless)
// before the next, uses one connection, with net/http as here: net/http's body reports io.EOF (and a
// bodyless response is returned) only once the connection is back in the pool, after the request's
// write has finished (wroteRequest). With a streamed request body on std, the last write's callback
// may come after the response: the Transport then put the connection back only on that callback,
// but let the caller see the response's end before it, and the next request, finding no idle
// connection, dialled a second one (most runs of 200 requests did).
func TestReviewPoolSequentialStreamedUploadsReuse(t *testing.T) {
	const n = 200
	for _, status := range []string{"200", "204"} {
		t.Run(status, func(t *testing.T) {
			poolRvEach(t, nil, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for {
					if _, err := advReadReq(br); err != nil {
						return
					}
					if status == "204" {
						io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
					} else {
						io.WriteString(c, advOK("stored"))
					}
				}
			}, func(t *testing.T, rt http.RoundTripper, srv *advSrv) {
				for i := range n {
					// Not replayable (no GetBody): streamed by a goroutine of the Transport's.
					req := advReq(t, "PUT", srv.URL+"/", nil)
					req.Body = io.NopCloser(strings.NewReader("payload"))
					req.ContentLength = 7
					if _, err := poolRvDo(t, rt, req); err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
				}
				if c := srv.accepts.Load(); c != 1 {
					t.Errorf("%d sequential uploads used %d connections, want 1", n, c)
				}
			})
		})
	}
}

package http1_test

// A streamed request body (over the 16 KiB sent with the head) that GetBody can make again is sent
// again, with GetBody's body, when the reused connection it went out on is ended by the server
// before any byte of the response, as net/http's Transport does (docs/client.md, "Retries"). Each
// case runs on every engine and, where it compares, on net/http's Transport against the same kind
// of server.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// gbTimeout bounds every wait of these tests.
const gbTimeout = 10 * time.Second

// gbServer is a raw server whose first connection answers a GET, then ends the connection as the
// next request arrives: the keep-alive race, the request going out as the server drops the idle
// connection. In mode gbHead it reads that request's head only and closes with the body unread, so
// that the kernel resets the connection, the body partly sent; in mode gbFull it reads the whole
// request first, and the close is a FIN. Later connections read each request in full and answer
// with its body's length and SHA-256.
//
// net/http's Transport retries in mode gbHead only when it sees the reset reading before it sees
// the failed write (its persistConn.roundTrip takes whichever comes first; a write error is not
// retried): about half the time here. In mode gbFull, where the write succeeds, it always does.
type gbServer struct {
	URL        string
	mode       int
	hold       <-chan struct{} // if set (before the first request), the first connection waits for it before it ends
	accepts    atomic.Int32
	firstGone  chan struct{} // closed once the first connection is closed
	mu         sync.Mutex
	bodies     []string // "METHOD length sha256" of each request read in full after the first connection
	conns      []net.Conn
	wg         sync.WaitGroup
	ln         net.Listener
	closedOnce sync.Once
}

const (
	gbHead = iota
	gbFull
)

func gbServe(t *testing.T, mode int) *gbServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &gbServer{URL: "http://" + ln.Addr().String(), mode: mode, firstGone: make(chan struct{}), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := s.accepts.Add(1) - 1
			c.SetDeadline(time.Now().Add(2 * gbTimeout))
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.handle(i, c)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *gbServer) handle(i int32, c net.Conn) {
	br := bufio.NewReader(c)
	if i == 0 {
		defer close(s.firstGone)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
		req, err = http.ReadRequest(br)
		if err == nil && s.mode == gbFull {
			io.Copy(io.Discard, req.Body)
		}
		if s.hold != nil {
			select {
			case <-s.hold:
			case <-time.After(gbTimeout):
			}
		}
		c.Close() // in mode gbHead, with the body unread: a reset
		return
	}
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, req.Body)
		if err != nil {
			return
		}
		got := fmt.Sprintf("%s %d %x", req.Method, n, h.Sum(nil))
		s.mu.Lock()
		s.bodies = append(s.bodies, got)
		s.mu.Unlock()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(got))+"\r\n\r\n"+got); err != nil {
			return
		}
	}
}

func (s *gbServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func (s *gbServer) close() {
	s.closedOnce.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// gbBody is a request body that counts its Close calls. If block is set, its Reads block until
// it is closed (as a pipe's do when nothing is written to it).
type gbBody struct {
	r      io.Reader
	closes atomic.Int32
	block  bool
	gone   chan struct{}
	once   sync.Once
}

func newGBBody(b []byte) *gbBody { return &gbBody{r: bytes.NewReader(b), gone: make(chan struct{})} }

func (b *gbBody) Read(p []byte) (int, error) {
	if b.block {
		<-b.gone
		return 0, errors.New("gbBody: read after close")
	}
	return b.r.Read(p)
}

func (b *gbBody) Close() error {
	b.closes.Add(1)
	b.once.Do(func() { close(b.gone) })
	return nil
}

// gbReplayable makes req's body a gbBody of data and GetBody a function that makes new ones (all
// kept in *made), as http.NewRequest does for in-memory readers.
func gbReplayable(req *http.Request, data []byte, first *gbBody, made *[]*gbBody, mu *sync.Mutex) {
	req.Body = first
	req.GetBody = func() (io.ReadCloser, error) {
		b := newGBBody(data)
		mu.Lock()
		*made = append(*made, b)
		mu.Unlock()
		return b, nil
	}
}

// gbRT is rt.RoundTrip(req), failing the test past gbTimeout.
func gbRT(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	t.Helper()
	type result struct {
		resp *http.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		ch <- result{resp, err}
	}()
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-time.After(gbTimeout):
		t.Fatalf("RoundTrip %s %s did not return within %v", req.Method, req.URL, gbTimeout)
		return nil, nil
	}
}

// gbFirst makes the GET that leaves the server's first connection idle in rt's pool.
func gbFirst(t *testing.T, rt http.RoundTripper, s *gbServer) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/first", nil)
	resp, err := gbRT(t, rt, req)
	if err != nil {
		t.Fatalf("first GET: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "first" {
		t.Fatalf("first GET: %q, %v", b, err)
	}
	// The connection goes back to the pool as the body ends (net/http's after its read loop sees
	// the end): give it the moment it takes, so that the next request reuses it.
	time.Sleep(20 * time.Millisecond)
}

// gbEach runs fn, for each server mode, on a Transport of each engine and, if withNet, on
// net/http's Transport; racy is set for net/http in mode gbHead, where its outcome is a race.
func gbEach(t *testing.T, withNet bool, fn func(t *testing.T, mode int, rt http.RoundTripper, racy bool)) {
	for _, mode := range []int{gbHead, gbFull} {
		t.Run([]string{"head", "full"}[mode], func(t *testing.T) {
			forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) { fn(t, mode, tr, false) })
			if withNet {
				t.Run("net-http", func(t *testing.T) {
					tr := &http.Transport{}
					defer tr.CloseIdleConnections()
					fn(t, mode, tr, mode == gbHead)
				})
			}
		})
	}
}

// gbLostRace reports, for net/http in mode gbHead (racy), whether err is the failed write that
// it does not retry, logging it: that run of the comparison shows nothing.
func gbLostRace(t *testing.T, racy bool, err error) bool {
	if racy && err != nil && strings.Contains(err.Error(), "write") {
		t.Logf("net/http saw the failed write first, and does not retry then: %v", err)
		return true
	}
	return false
}

// gbWaitFor polls cond for up to gbTimeout.
func gbWaitFor(cond func() bool) bool {
	for deadline := time.Now().Add(gbTimeout); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func gbWant(data []byte) string {
	return fmt.Sprintf("PUT %d %x", len(data), sha256.Sum256(data))
}

// TestClientGetBodyRetryStreamed: an idempotent PUT (Idempotency-Key) with a 1 MiB body that GetBody
// can make again, on a reused connection that the server ends on receipt of the head, succeeds: the
// whole body reaches the server once, on a new connection; GetBody was called once, and each body
// was closed once. With a Content-Length and chunked alike, as with net/http.
func TestClientGetBodyRetryStreamed(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, framing := range []string{"length", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			gbEach(t, true, func(t *testing.T, mode int, rt http.RoundTripper, racy bool) {
				s := gbServe(t, mode)
				gbFirst(t, rt, s)
				req, err := http.NewRequest("PUT", s.URL+"/put", bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if req.GetBody == nil {
					t.Fatal("http.NewRequest set no GetBody for a bytes.Reader")
				}
				req.Header.Set("Idempotency-Key", "k")
				first := newGBBody(data)
				var mu sync.Mutex
				var made []*gbBody
				gbReplayable(req, data, first, &made, &mu)
				if framing == "chunked" {
					req.ContentLength = -1
				}
				resp, err := gbRT(t, rt, req)
				if gbLostRace(t, racy, err) {
					return
				}
				if err != nil {
					t.Fatalf("PUT on a reused connection the server ended: %v; want a retry with GetBody's body", err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := gbWant(data); err != nil || string(b) != want {
					t.Fatalf("response %q, %v; want %q", b, err, want)
				}
				if got := s.received(); len(got) != 1 || got[0] != gbWant(data) {
					t.Errorf("server received %q, want the whole body once", got)
				}
				if n := s.accepts.Load(); n != 2 {
					t.Errorf("%d connections, want 2", n)
				}
				mu.Lock()
				bodies := append([]*gbBody(nil), made...)
				mu.Unlock()
				if len(bodies) != 1 {
					t.Fatalf("GetBody called %d times, want 1", len(bodies))
				}
				if !gbWaitFor(func() bool { return first.closes.Load() > 0 && bodies[0].closes.Load() > 0 }) {
					t.Fatalf("bodies not closed: first %d, second %d", first.closes.Load(), bodies[0].closes.Load())
				}
				time.Sleep(20 * time.Millisecond) // a second Close would come now
				if a, b := first.closes.Load(), bodies[0].closes.Load(); a != 1 || b != 1 {
					t.Errorf("Close calls: first body %d, second %d; want 1 each", a, b)
				}
			})
		})
	}
}

// TestClientGetBodyNotReplayable: a streamed body is not sent again without GetBody (even with an
// Idempotency-Key), nor with GetBody on a request that is not idempotent (a PUT without the key):
// the request fails with the connection's end, as with net/http, and its body is closed once.
func TestClientGetBodyNotReplayable(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1<<20)
	for _, c := range []struct {
		name       string
		key        bool
		getBodyNil bool
	}{
		{"no-GetBody", true, true},
		{"not-idempotent", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			gbEach(t, true, func(t *testing.T, mode int, rt http.RoundTripper, racy bool) {
				s := gbServe(t, mode)
				gbFirst(t, rt, s)
				req, _ := http.NewRequest("PUT", s.URL+"/put", bytes.NewReader(data))
				if c.key {
					req.Header.Set("Idempotency-Key", "k")
				}
				first := newGBBody(data)
				var mu sync.Mutex
				var made []*gbBody
				gbReplayable(req, data, first, &made, &mu)
				if c.getBodyNil {
					req.GetBody = nil
				}
				resp, err := gbRT(t, rt, req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Fatalf("got %d %q, want the connection's end", resp.StatusCode, b)
				}
				if n := s.accepts.Load(); n != 1 {
					t.Errorf("%d connections, want 1 (no retry)", n)
				}
				mu.Lock()
				if len(made) != 0 {
					t.Errorf("GetBody called %d times", len(made))
				}
				mu.Unlock()
				if !gbWaitFor(func() bool { return first.closes.Load() > 0 }) {
					t.Fatal("body not closed")
				}
				time.Sleep(20 * time.Millisecond)
				if n := first.closes.Load(); n != 1 {
					t.Errorf("body closed %d times, want 1", n)
				}
			})
		})
	}
}

// TestClientGetBodyError: a GetBody that fails fails the request with its error (as net/http's,
// unwrapped there), and the first body is closed once.
func TestClientGetBodyError(t *testing.T) {
	data := bytes.Repeat([]byte("y"), 1<<20)
	errGB := errors.New("GetBody refuses")
	gbEach(t, true, func(t *testing.T, mode int, rt http.RoundTripper, racy bool) {
		s := gbServe(t, mode)
		gbFirst(t, rt, s)
		req, _ := http.NewRequest("PUT", s.URL+"/put", bytes.NewReader(data))
		req.Header.Set("Idempotency-Key", "k")
		first := newGBBody(data)
		req.Body = first
		var calls atomic.Int32
		req.GetBody = func() (io.ReadCloser, error) {
			calls.Add(1)
			return nil, errGB
		}
		resp, err := gbRT(t, rt, req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("the request succeeded, want GetBody's error")
		}
		if calls.Load() == 0 && gbLostRace(t, racy, err) {
			return
		}
		if !errors.Is(err, errGB) {
			t.Errorf("error %v, want GetBody's", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("GetBody called %d times, want 1", n)
		}
		if n := s.accepts.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
		if !gbWaitFor(func() bool { return first.closes.Load() > 0 }) {
			t.Fatal("body not closed")
		}
		time.Sleep(20 * time.Millisecond)
		if n := first.closes.Load(); n != 1 {
			t.Errorf("body closed %d times, want 1", n)
		}
	})
}

// TestClientGetBodyCancel: a cancellation while the retry waits, for the old body's writer (blocked
// in a Read that only its Close ends) or for GetBody (blocked), fails the request at once with the
// cancellation, by the request's context or by Future.Cancel of RoundTripAsync; the bodies are
// closed once each (GetBody's, which returns after the cancellation, by the Transport), nothing is
// sent again, and no goroutine stays (TestMain's goleak).
func TestClientGetBodyCancel(t *testing.T) {
	data := bytes.Repeat([]byte("z"), 1<<20)
	for _, c := range []struct {
		name     string
		blockOld bool // the old body's Read blocks: the retry waits for its writer
		async    bool // cancelled by Future.Cancel
	}{
		{"GetBody-blocked/context", false, false},
		{"GetBody-blocked/Future.Cancel", false, true},
		{"writer-blocked/context", true, false},
		{"writer-blocked/Future.Cancel", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
				s := gbServe(t, gbHead)
				gbFirst(t, tr, s)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "PUT", s.URL+"/put", bytes.NewReader(data))
				req.Header.Set("Idempotency-Key", "k")
				first := newGBBody(data)
				first.block = c.blockOld
				req.Body = first
				entered := make(chan struct{}, 1)
				release := make(chan struct{})
				var second atomic.Pointer[gbBody]
				req.GetBody = func() (io.ReadCloser, error) {
					entered <- struct{}{}
					<-release
					b := newGBBody(data)
					second.Store(b)
					return b, nil
				}
				defer func() {
					select {
					case <-release:
					default:
						close(release)
					}
				}()
				var stop func()
				errc := make(chan error, 1)
				if c.async {
					f := tr.RoundTripAsync(req)
					stop = f.Cancel
					go func() {
						resp, err := f.Await(context.Background())
						if err == nil {
							resp.Body.Close()
						}
						errc <- err
					}()
				} else {
					stop = cancel
					go func() {
						resp, err := tr.RoundTrip(req)
						if err == nil {
							resp.Body.Close()
						}
						errc <- err
					}()
				}
				if c.blockOld {
					// The server ends the connection as the head arrives; the writer is blocked in
					// its first Read meanwhile, and stays there.
					select {
					case <-s.firstGone:
					case <-time.After(gbTimeout):
						t.Fatal("the server did not end the connection")
					}
					time.Sleep(50 * time.Millisecond) // the client sees the end meanwhile
				} else {
					select {
					case <-entered:
					case <-time.After(gbTimeout):
						t.Fatal("GetBody not called")
					}
				}
				stop()
				select {
				case err := <-errc:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("error %v, want context.Canceled", err)
					}
				case <-time.After(gbTimeout):
					t.Fatal("the cancelled request did not fail")
				}
				if !gbWaitFor(func() bool { return first.closes.Load() > 0 }) {
					t.Fatal("first body not closed")
				}
				close(release)
				if c.blockOld {
					time.Sleep(20 * time.Millisecond)
					select {
					case <-entered:
						t.Error("GetBody called after the cancellation")
					default:
					}
				} else if !gbWaitFor(func() bool { b := second.Load(); return b != nil && b.closes.Load() > 0 }) {
					t.Fatal("GetBody's body, which came after the cancellation, not closed")
				}
				time.Sleep(20 * time.Millisecond)
				if n := first.closes.Load(); n != 1 {
					t.Errorf("first body closed %d times, want 1", n)
				}
				if b := second.Load(); b != nil && b.closes.Load() != 1 {
					t.Errorf("second body closed %d times, want 1", b.closes.Load())
				}
				if n := s.accepts.Load(); n != 1 {
					t.Errorf("%d connections, want 1 (nothing sent again)", n)
				}
				if got := s.received(); len(got) != 0 {
					t.Errorf("server received %q after the cancellation", got)
				}
				// The Transport still works.
				req2, _ := http.NewRequest("PUT", s.URL+"/after", strings.NewReader("ok"))
				resp, err := gbRT(t, tr, req2)
				if err != nil {
					t.Fatalf("PUT after the cancelled one: %v", err)
				}
				resp.Body.Close()
			})
		})
	}
}

// gbStallBody gives 8 KiB, then its Reads close stalled and block until release is closed, and
// fail then with errStall. It counts its Close calls.
type gbStallBody struct {
	given   bool
	stalled chan struct{}
	once    sync.Once
	release chan struct{}
	closes  atomic.Int32
}

var errStall = errors.New("gbStallBody: read failed")

func (b *gbStallBody) Read(p []byte) (int, error) {
	if !b.given {
		b.given = true
		return copy(p, bytes.Repeat([]byte("s"), min(len(p), 8<<10))), nil
	}
	b.once.Do(func() { close(b.stalled) })
	<-b.release
	return 0, errStall
}

func (b *gbStallBody) Close() error { b.closes.Add(1); return nil }

// TestClientGetBodyOldBodyReadFails: when the read of the old body, under way as the connection
// died, fails, the request fails with that error rather than being sent again, as net/http's does
// (its request's error, set by the write loop, which its retry waits for).
func TestClientGetBodyOldBodyReadFails(t *testing.T) {
	gbEach(t, true, func(t *testing.T, mode int, rt http.RoundTripper, racy bool) {
		if mode != gbHead {
			t.Skip("the server reads the whole body in mode gbFull")
		}
		s := gbServe(t, mode)
		body := &gbStallBody{stalled: make(chan struct{}), release: make(chan struct{})}
		s.hold = body.stalled // the connection ends once the body's read is blocked, its first 8 KiB sent
		gbFirst(t, rt, s)
		req, _ := http.NewRequest("PUT", s.URL+"/put", body)
		req.ContentLength = 1 << 20
		req.Header.Set("Idempotency-Key", "k")
		var calls atomic.Int32
		req.GetBody = func() (io.ReadCloser, error) {
			calls.Add(1)
			return io.NopCloser(bytes.NewReader(make([]byte, 1<<20))), nil
		}
		errc := make(chan error, 1)
		go func() {
			resp, err := rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		select {
		case <-s.firstGone:
		case <-time.After(gbTimeout):
			close(body.release)
			t.Fatal("the server did not end the connection")
		}
		time.Sleep(50 * time.Millisecond) // the client sees the end meanwhile
		close(body.release)
		var err error
		select {
		case err = <-errc:
		case <-time.After(gbTimeout):
			t.Fatal("the request did not end")
		}
		if racy && !errors.Is(err, errStall) {
			t.Logf("net/http's write failed before the body's read (a race): %v", err)
			return
		}
		if !errors.Is(err, errStall) {
			t.Errorf("error %v, want the body's read error", err)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("GetBody called %d times", n)
		}
		if !gbWaitFor(func() bool { return body.closes.Load() > 0 }) {
			t.Fatal("body not closed")
		}
		time.Sleep(20 * time.Millisecond)
		if n := body.closes.Load(); n != 1 {
			t.Errorf("body closed %d times, want 1", n)
		}
	})
}

// TestClientBodyClosedOnceOnRefusal: a request refused before it is sent (here for an invalid
// header field) has its body closed once, also when the Transport had already read it ahead to
// send with the head (a small body with GetBody), or found it empty (a GET's probed body); it
// was closed a second time by the refusal.
func TestClientBodyClosedOnceOnRefusal(t *testing.T) {
	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
		for _, tc := range []struct {
			name, method string
			data         []byte
			getBody      bool
		}{
			{"read ahead", "POST", []byte("small body"), true},
			{"streamed", "POST", make([]byte, 64<<10), false},
			{"empty probed", "GET", nil, false},
		} {
			body := newGBBody(tc.data)
			req, _ := http.NewRequest(tc.method, "http://127.0.0.1:1/", nil)
			req.Body = body
			req.ContentLength = int64(len(tc.data))
			if tc.method == "GET" {
				req.ContentLength = -1
			}
			if tc.getBody {
				req.GetBody = func() (io.ReadCloser, error) { return newGBBody(tc.data), nil }
			}
			req.Header.Set("X-Bad", "a\nb")
			if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "invalid header field value") {
				t.Fatalf("%s: %v; want the invalid field refused", tc.name, err)
			}
			if n := body.closes.Load(); n != 1 {
				t.Errorf("%s: body closed %d times; want 1", tc.name, n)
			}
		}
	})
}

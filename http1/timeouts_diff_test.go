package http1_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A differential test of the server's timeouts, MaxHeaderBytes and its Shutdown and Close against
// net/http's server (session 31): the same client behaviour against a net/http server and an
// http1 server with the same settings and handler, comparing what the client observes (the status
// line if any, the bytes received, whether and roughly when the connection ends, with EOF or a
// reset) and what the handler observes (body read errors, its context, write errors). Timing is
// compared only coarsely: "closed within 3x the timeout", "not closed before 0.5x".

// tdSettings are the Server fields a case sets on both servers.
type tdSettings struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

// tdServer is one server under test, net/http's or http1's, with the methods the cases use.
type tdServer struct {
	kind     string // "nethttp" or the engine
	addr     string
	shutdown func(context.Context) error
	close    func() error
	onShut   func(func())
	served   chan error // what Serve returned, once

	serveMu  sync.Mutex
	serveErr error
	serveOut bool // serveErr is Serve's result
}

// serveResult waits up to within for Serve to return, and returns what it returned (tdResult).
func (s *tdServer) serveResult(within time.Duration) string {
	s.serveMu.Lock()
	defer s.serveMu.Unlock()
	if !s.serveOut {
		select {
		case s.serveErr = <-s.served:
			s.serveOut = true
		case <-time.After(within):
			return "pending"
		}
	}
	return tdErrName(s.serveErr)
}

// tdStart starts a server of the given kind ("nethttp" or an engine) with h and the settings,
// serving with Serve on a loopback listener, and closes it when the test ends.
func tdStart(t *testing.T, kind string, st tdSettings, h http.Handler) *tdServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	ts := &tdServer{kind: kind, addr: ln.Addr().String(), served: served}
	if kind == "nethttp" {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: st.readHeader, ReadTimeout: st.read,
			WriteTimeout: st.write, IdleTimeout: st.idle, MaxHeaderBytes: st.maxHeaderBytes,
			ErrorLog: newLogger(io.Discard)}
		// The cleanup waits for net/http's connection goroutines (one sleeps half a second after
		// a 431, closeWriteAndWait), which the package's leak check would otherwise find.
		var conns sync.WaitGroup
		srv.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				conns.Done()
			}
		}
		ts.shutdown, ts.onShut = srv.Shutdown, srv.RegisterOnShutdown
		ts.close = func() error {
			err := srv.Close()
			done := make(chan struct{})
			go func() { conns.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Errorf("net/http's connections did not end after Close")
			}
			return err
		}
		go func() { served <- srv.Serve(ln) }()
	} else {
		srv := &http1.Server{Handler: h, ReadHeaderTimeout: st.readHeader, ReadTimeout: st.read,
			WriteTimeout: st.write, IdleTimeout: st.idle, MaxHeaderBytes: st.maxHeaderBytes,
			ErrorLog: newLogger(io.Discard), Engine: eddy.EngineKind(kind), Loops: 2}
		ts.shutdown, ts.close, ts.onShut = srv.Shutdown, srv.Close, srv.RegisterOnShutdown
		go func() { served <- srv.Serve(ln) }()
		deadline := time.Now().Add(5 * time.Second)
		for srv.Addrs() == nil { // Serve has started the engine
			if time.Now().After(deadline) {
				t.Fatal("http1 server did not start")
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Cleanup(func() {
		ts.close()
		if got := ts.serveResult(5 * time.Second); got != "ErrServerClosed" {
			t.Errorf("%s: Serve after Close: %s, want ErrServerClosed", kind, got)
		}
	})
	return ts
}

// tdKinds are the servers every case runs on: net/http's first, then http1 on every engine.
func tdKinds() []string {
	ks := []string{"nethttp"}
	for _, e := range testEngines() {
		ks = append(ks, string(e))
	}
	return ks
}

// tdEnd is how a connection ended as the client saw it.
type tdEnd struct {
	got   string        // the bytes received
	how   string        // "EOF", "reset" or "open" (still open when the wait ended)
	after time.Duration // from the start of the wait to the end
}

// tdWaitEnd reads c until it ends or within passes.
func tdWaitEnd(c net.Conn, within time.Duration) tdEnd {
	start := time.Now()
	c.SetReadDeadline(start.Add(within))
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err == nil {
			continue
		}
		e := tdEnd{got: b.String(), after: time.Since(start)}
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF):
			e.how = "EOF"
		case errors.Is(err, syscall.ECONNRESET):
			e.how = "reset"
		case errors.As(err, &ne) && ne.Timeout():
			e.how = "open"
		default:
			e.how = "error: " + err.Error()
		}
		return e
	}
}

// closed reports whether the connection ended, with EOF or a reset.
func (e tdEnd) closed() bool { return e.how == "EOF" || e.how == "reset" }

// status returns the status line received, or "none".
func (e tdEnd) status() string {
	if !strings.HasPrefix(e.got, "HTTP/1.") {
		if e.got == "" {
			return "none"
		}
		return fmt.Sprintf("garbage %.20q", e.got)
	}
	line, _, _ := strings.Cut(e.got, "\r\n")
	return line
}

// within checks that the connection closed no sooner than lo and no later than hi.
func (e tdEnd) within(lo, hi time.Duration) string {
	switch {
	case !e.closed():
		return "not closed (" + e.how + ")"
	case e.after < lo:
		return fmt.Sprintf("closed too early (%v < %v)", e.after, lo)
	case e.after > hi:
		return fmt.Sprintf("closed too late (%v > %v)", e.after, hi)
	}
	return "closed in time"
}

// tdDiff runs run on every kind of server, all at once, and compares the observations it returns
// (a line of "key=value" facts) with net/http's. allowed, if not nil, maps net/http's observation to
// the one http1 is documented to have instead.
func tdDiff(t *testing.T, run func(t *testing.T, kind string) string, allowed func(ref string) string) {
	t.Helper()
	kinds := tdKinds()
	got := make([]string, len(kinds))
	ok := t.Run("servers", func(t *testing.T) {
		// At once, each in a goroutine of its own (t.Run allows it), not bounded by -parallel.
		var wg sync.WaitGroup
		for i, kind := range kinds {
			wg.Go(func() { t.Run(kind, func(t *testing.T) { got[i] = run(t, kind) }) })
		}
		wg.Wait()
		skipMissingUring(t)
	})
	if !ok {
		return
	}
	ref := got[0]
	want := ref
	if allowed != nil {
		want = allowed(ref)
	}
	t.Logf("%-8s %s", kinds[0], ref)
	for i, kind := range kinds[1:] {
		t.Logf("%-8s %s", kind, got[i+1])
		if got[i+1] != want {
			t.Errorf("%s differs from net/http:\n  net/http: %s\n  want:     %s\n  %-9s %s", kind, ref, want, kind+":", got[i+1])
		}
	}
}

// tdSendSlowly writes s a byte at a time every gap, until it is written or a write fails; it
// returns once it has started, and the returned function waits for it to end.
func tdSendSlowly(c net.Conn, s string, gap time.Duration) (stop func()) {
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		for i := range len(s) {
			if _, err := c.Write([]byte{s[i]}); err != nil {
				return
			}
			select {
			case <-quit:
				return
			case <-time.After(gap):
			}
		}
	}()
	return func() { close(quit); <-done }
}

const tdUnit = 300 * time.Millisecond // the timeouts of the cases

var tdHello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })

// Slowloris: a head trickling in a byte every 50 ms past ReadHeaderTimeout; a head stalled half-way;
// no byte at all after connect. Both servers close the connection without an answer.
func TestAsNetHTTPHeaderTimeouts(t *testing.T) {
	long := "GET / HTTP/1.1\r\nHost: x\r\nX-Trickle: " + strings.Repeat("a", 200) + "\r\n\r\n"
	// The head trickles in a byte every 50 ms: the timeout falls in a header field line.
	t.Run("trickle", func(t *testing.T) {
		t.Parallel()
		tdDiff(t, func(t *testing.T, kind string) string {
			s := tdStart(t, kind, tdSettings{readHeader: tdUnit, idle: 10 * tdUnit}, tdHello)
			c := dial(t, s.addr)
			io.WriteString(c, long[:30])
			stop := tdSendSlowly(c, long[30:], 50*time.Millisecond)
			defer stop()
			e := tdWaitEnd(c, 10*tdUnit)
			// The client goes on writing after the close: a reset is as good as EOF.
			return fmt.Sprintf("status=%s closed=%v %s", e.status(), e.closed(), e.within(tdUnit/2, 3*tdUnit))
		}, nil)
	})
	// The same with the timeout in the request line. net/http answers 400 then: its textproto
	// reader (bufio.Reader.ReadLine) hands back the partial line without the read's timeout, which
	// net/http then finds malformed. http1 closes without an answer, as net/http does for a head
	// cut anywhere else; the connection closes either way.
	t.Run("trickle-request-line", func(t *testing.T) {
		t.Parallel()
		tdDiff(t, func(t *testing.T, kind string) string {
			s := tdStart(t, kind, tdSettings{readHeader: tdUnit, idle: 10 * tdUnit}, tdHello)
			c := dial(t, s.addr)
			stop := tdSendSlowly(c, "GET /"+strings.Repeat("a", 100)+" HTTP/1.1\r\nHost: x\r\n\r\n", 50*time.Millisecond)
			defer stop()
			e := tdWaitEnd(c, 10*tdUnit)
			return fmt.Sprintf("status=%s closed=%v %s", e.status(), e.closed(), e.within(tdUnit/2, 3*tdUnit))
		}, func(ref string) string {
			return strings.Replace(ref, "status=HTTP/1.1 400 Bad Request", "status=none", 1)
		})
	})
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		tdDiff(t, func(t *testing.T, kind string) string {
			return tdEndAfterHead(t, kind, tdSettings{readHeader: tdUnit, idle: 10 * tdUnit}, long[:len(long)/2])
		}, nil)
	})
	// A fresh connection has ReadHeaderTimeout's bound from the accept, not IdleTimeout's.
	t.Run("silent/readheader", func(t *testing.T) {
		t.Parallel()
		tdDiff(t, func(t *testing.T, kind string) string {
			return tdEndAfterHead(t, kind, tdSettings{readHeader: tdUnit, idle: 20 * tdUnit}, "")
		}, nil)
	})
	t.Run("silent/readtimeout", func(t *testing.T) {
		t.Parallel()
		tdDiff(t, func(t *testing.T, kind string) string {
			return tdEndAfterHead(t, kind, tdSettings{read: tdUnit}, "")
		}, nil)
	})
	// IdleTimeout alone does not bound a fresh connection's wait for its first request, in
	// net/http: it stays open.
	t.Run("silent/idleonly", func(t *testing.T) {
		t.Parallel()
		tdDiff(t, func(t *testing.T, kind string) string {
			s := tdStart(t, kind, tdSettings{idle: tdUnit}, tdHello)
			c := dial(t, s.addr)
			e := tdWaitEnd(c, 3*tdUnit)
			// then a request is still served
			io.WriteString(c, diffGET("/"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			r, err := readResponse(bufio.NewReader(c), "GET")
			status := "none"
			if err == nil {
				status = fmt.Sprint(r.status)
			}
			return fmt.Sprintf("status=%s end=%s then=%s", e.status(), e.how, status)
		}, nil)
	})
}

// tdEndAfterHead connects to a server of the kind with the settings and tdHello, sends head (none if
// ""), and describes the end of the connection: the status line if any, how it ended, and whether
// within 0.5x to 3x tdUnit.
func tdEndAfterHead(t *testing.T, kind string, st tdSettings, head string) string {
	t.Helper()
	s := tdStart(t, kind, st, tdHello)
	c := dial(t, s.addr)
	if head != "" {
		io.WriteString(c, head)
	}
	e := tdWaitEnd(c, 10*tdUnit)
	return fmt.Sprintf("status=%s end=%s %s", e.status(), e.how, e.within(tdUnit/2, 3*tdUnit))
}

// IdleTimeout between keep-alive requests, and ReadTimeout in its place when it is zero: the
// connection closes with EOF after a whole response, not before half the timeout.
func TestAsNetHTTPIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   tdSettings
	}{
		{"idle", tdSettings{idle: tdUnit, readHeader: 20 * tdUnit}},
		{"readtimeout", tdSettings{read: tdUnit}},
		{"idle-over-read", tdSettings{idle: tdUnit, read: 20 * tdUnit}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tdDiff(t, func(t *testing.T, kind string) string {
				s := tdStart(t, kind, tc.st, tdHello)
				c := dial(t, s.addr)
				br := bufio.NewReader(c)
				var out []string
				// A request at a third of the timeout is served on the same connection.
				for i := range 2 {
					if i > 0 {
						time.Sleep(tdUnit / 3)
					}
					io.WriteString(c, diffGET("/"))
					r, err := readResponse(br, "GET")
					if err != nil {
						return fmt.Sprintf("request %d: %v", i, err)
					}
					out = append(out, fmt.Sprintf("%d:%s", r.status, r.body))
				}
				c.SetReadDeadline(time.Now().Add(10 * tdUnit))
				start := time.Now()
				_, err := br.ReadByte()
				e := tdEnd{after: time.Since(start), how: "EOF"}
				if !errors.Is(err, io.EOF) {
					e.how = fmt.Sprint(err)
				}
				return fmt.Sprintf("responses=%v end=%s %s", out, e.how, e.within(tdUnit/2, 3*tdUnit))
			}, nil)
		})
	}
}

// tdErr describes an error for comparison: its kind, not its text.
func tdErr(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "deadline"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "eof"
	}
	return "other"
}

// tdCtx says whether ctx is done now: net/http cancels a request's context before the Read or Write
// that fails on the connection returns.
func tdCtx(ctx context.Context) string {
	if ctx.Err() != nil {
		return "done"
	}
	return "live"
}

// A body slower than ReadTimeout allows: the handler's Read fails with the deadline and its
// context is cancelled; a handler that ignores that and answers gets its answer to the client, with
// "Connection: close", and the connection closes after it.
func TestAsNetHTTPSlowBody(t *testing.T) {
	tdDiff(t, func(t *testing.T, kind string) string {
		seen := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			seen <- fmt.Sprintf("read=%q err=%s ctx=%s", b, tdErr(err), tdCtx(r.Context()))
			io.WriteString(w, "answered anyway")
		})
		s := tdStart(t, kind, tdSettings{read: tdUnit, idle: 20 * tdUnit}, h)
		c := dial(t, s.addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
		br := bufio.NewReader(c)
		r, err := readResponse(br, "POST")
		if err != nil {
			return "response: " + err.Error()
		}
		e := tdWaitEnd(c, 10*tdUnit)
		return fmt.Sprintf("handler{%s} status=%d body=%q close=%v end=%s rest=%q", <-seen, r.status, r.body, r.close, e.how, e.got)
	}, nil)
}

// WriteTimeout with a handler that writes a large response to a client that does not read: the
// handler's writes fail (and net/http cancels its context), the connection ends; the client, once
// it reads, gets the part that was sent, then the end. http1 resets the connection where net/http
// closes it (documented at WriteTimeout: the output not yet sent is dropped).
func TestAsNetHTTPWriteTimeoutUnreadLargeResponse(t *testing.T) {
	tdDiff(t, func(t *testing.T, kind string) string {
		seen := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := make([]byte, 32<<10)
			var err error
			for n := 0; n < 256<<20 && err == nil; n += len(chunk) {
				_, err = w.Write(chunk)
			}
			seen <- fmt.Sprintf("write=%s ctx=%s", tdErr(err), tdCtx(r.Context()))
		})
		s := tdStart(t, kind, tdSettings{write: tdUnit, idle: 20 * tdUnit}, h)
		c := dial(t, s.addr)
		start := time.Now()
		io.WriteString(c, diffGET("/"))
		var hs string
		select {
		case hs = <-seen:
		case <-time.After(10 * time.Second):
			return "handler's writes did not fail"
		}
		failed := time.Since(start)
		time.Sleep(tdUnit)
		e := tdWaitEnd(c, 10*time.Second)
		return fmt.Sprintf("handler{%s} failedLate=%v status=%s end=%s", hs, failed > tdUnit/2, e.status(), e.how)
	}, func(ref string) string { return strings.Replace(ref, "end=EOF", "end=reset", 1) })
}

// WriteTimeout with a handler that sleeps past it, then writes a small response: net/http's
// buffered write succeeds, the flush at the end fails, and the client gets no response, only the
// end of the connection.
// With a large response (past net/http's buffer), the late write fails at once.
func TestAsNetHTTPWriteTimeoutLateHandler(t *testing.T) {
	for _, size := range []int{8, 100 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			tdLateHandler(t, size)
		})
	}
}

func tdLateHandler(t *testing.T, size int) {
	tdDiff(t, func(t *testing.T, kind string) string {
		seen := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * tdUnit)
			_, err := w.Write(make([]byte, size))
			seen <- fmt.Sprintf("write=%s ctx=%s", tdErr(err), tdCtx(r.Context()))
		})
		s := tdStart(t, kind, tdSettings{write: tdUnit, idle: 20 * tdUnit}, h)
		c := dial(t, s.addr)
		io.WriteString(c, diffGET("/"))
		e := tdWaitEnd(c, 10*time.Second)
		return fmt.Sprintf("handler{%s} status=%s end=%s %s", <-seen, e.status(), e.how, e.within(tdUnit, 10*tdUnit))
	}, nil)
}

// tdShutdown runs s.shutdown with a context of the given timeout in a goroutine; its result comes
// on the channel.
func tdShutdown(s *tdServer, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		done <- s.shutdown(ctx)
	}()
	return done
}

// tdResult waits up to within for a result on ch: its kind, or "pending".
func tdResult(ch <-chan error, within time.Duration) string {
	select {
	case err := <-ch:
		return tdErrName(err)
	case <-time.After(within):
		return "pending"
	}
}

// tdErrName describes the result of Serve or Shutdown.
func tdErrName(err error) string {
	switch {
	case errors.Is(err, http.ErrServerClosed):
		return "ErrServerClosed"
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	}
	return tdErr(err)
}

// tdBlocking is a handler that signals entered, then waits for release (and answers "released") or
// for its context (and reports that on ctxDone, then tries to write).
type tdBlocking struct {
	entered, release chan struct{}
	seen             chan string
}

func newTDBlocking() *tdBlocking {
	return &tdBlocking{entered: make(chan struct{}, 1), release: make(chan struct{}), seen: make(chan string, 1)}
}

func (b *tdBlocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		_, err := io.WriteString(w, "released")
		b.seen <- "released write=" + tdErr(err)
	case <-r.Context().Done():
		_, err := io.WriteString(w, "cancelled")
		b.seen <- "ctx done write=" + tdErr(err)
	}
}

// seenAfterClose waits (bounded) for what the handler saw once its context was cancelled.
func (b *tdBlocking) seenAfterClose() string {
	select {
	case hs := <-b.seen:
		return hs
	case <-time.After(5 * time.Second):
		return "handler's context not cancelled"
	}
}

// tdInFlight starts a server of the kind with a tdBlocking handler, connects, and sends a GET
// that the handler has entered when it returns.
func tdInFlight(t *testing.T, kind string) (*tdBlocking, *tdServer, net.Conn) {
	t.Helper()
	h := newTDBlocking()
	s := tdStart(t, kind, tdSettings{}, h)
	c := dial(t, s.addr)
	io.WriteString(c, diffGET("/"))
	<-h.entered
	return h, s, c
}

// tdWriteAfterClose is the one difference of a handler's write after Close: net/http's small write
// goes to its buffer and succeeds (the flush at the end fails); http1's fails at once, the
// connection being closed (eddy.ErrClosed). Neither reaches the client.
func tdWriteAfterClose(ref string) string {
	return strings.Replace(ref, "ctx done write=nil", "ctx done write=other", 1)
}

// Shutdown and Close against net/http's.
func TestAsNetHTTPShutdown(t *testing.T) {
	// An idle keep-alive connection is closed, RegisterOnShutdown's functions are called, Serve
	// returns ErrServerClosed, Shutdown returns nil.
	t.Run("idle", func(t *testing.T) {
		tdDiff(t, func(t *testing.T, kind string) string {
			s := tdStart(t, kind, tdSettings{}, tdHello)
			hook := make(chan struct{}, 1)
			s.onShut(func() { hook <- struct{}{} })
			c := dial(t, s.addr)
			io.WriteString(c, diffGET("/"))
			if _, err := readResponse(bufio.NewReader(c), "GET"); err != nil {
				return err.Error()
			}
			sd := tdShutdown(s, 5*time.Second)
			e := tdWaitEnd(c, 5*time.Second)
			hooked := "no"
			select {
			case <-hook:
				hooked = "yes"
			case <-time.After(5 * time.Second):
			}
			_, err := net.DialTimeout("tcp", s.addr, time.Second)
			return fmt.Sprintf("end=%s got=%q shutdown=%s serve=%s hook=%s dialAfter=%s", e.how, e.got,
				tdResult(sd, 5*time.Second), s.serveResult(5*time.Second), hooked, tdErr(err))
		}, nil)
	})
	// A request in flight completes, with "Connection: close", and Shutdown waits for it; then
	// the connection closes.
	t.Run("inflight", func(t *testing.T) {
		tdDiff(t, func(t *testing.T, kind string) string {
			h, s, c := tdInFlight(t, kind)
			sd := tdShutdown(s, 5*time.Second)
			serve := s.serveResult(5 * time.Second)
			early := tdResult(sd, 2*tdUnit)
			close(h.release)
			br := bufio.NewReader(c)
			r, err := readResponse(br, "GET")
			if err != nil {
				return "response: " + err.Error()
			}
			_, err = br.ReadByte()
			return fmt.Sprintf("serve=%s beforeRelease=%s handler{%s} status=%d body=%q close=%v end=%s shutdown=%s",
				serve, early, <-h.seen, r.status, r.body, r.close, tdErr(err), tdResult(sd, 5*time.Second))
		}, nil)
	})
	// A request whose head is half received when Shutdown begins, and whose rest comes after.
	t.Run("halfhead", func(t *testing.T) {
		tdDiff(t, func(t *testing.T, kind string) string {
			s := tdStart(t, kind, tdSettings{}, tdHello)
			c := dial(t, s.addr)
			req := diffGET("/half")
			io.WriteString(c, req[:10])
			time.Sleep(tdUnit) // the server has read it
			sd := tdShutdown(s, 10*time.Second)
			time.Sleep(tdUnit)
			io.WriteString(c, req[10:])
			e := tdWaitEnd(c, 10*time.Second)
			return fmt.Sprintf("status=%s end=%s shutdown=%s", e.status(), e.how, tdResult(sd, 10*time.Second))
		}, nil)
	})
	// A hijacked connection: Shutdown does not wait for it. net/http forgets it, and it goes on
	// working; http1 closes it (documented in doc.go: "Close, or Shutdown once the requests are
	// done, closes it").
	t.Run("hijacked", func(t *testing.T) {
		tdDiff(t, func(t *testing.T, kind string) string {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				nc, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				go func() {
					defer nc.Close()
					nc.Write([]byte("hijacked\n"))
					for {
						line, err := brw.ReadString('\n')
						if err != nil {
							return
						}
						nc.Write([]byte("echo " + line))
					}
				}()
			})
			s := tdStart(t, kind, tdSettings{}, h)
			c := dial(t, s.addr)
			io.WriteString(c, diffGET("/"))
			br := bufio.NewReader(c)
			first, _ := br.ReadString('\n')
			sd := tdShutdown(s, 5*time.Second)
			shut := tdResult(sd, 5*time.Second)
			io.WriteString(c, "ping\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			echo, err := br.ReadString('\n')
			return fmt.Sprintf("first=%q shutdown=%s echo=%q err=%s", first, shut, echo, tdErr(err))
		}, func(ref string) string {
			return strings.Replace(ref, `echo="echo ping\n" err=nil`, `echo="" err=eof`, 1)
		})
	})
	// Shutdown whose context ends before a request in flight: it returns the context's error and
	// the connection stays open, the handler running, until Close, which cancels the handler's
	// context; the client gets the end of the connection without a response.
	t.Run("ctx-expires-then-close", func(t *testing.T) {
		tdDiff(t, func(t *testing.T, kind string) string {
			h, s, c := tdInFlight(t, kind)
			shut := tdResult(tdShutdown(s, tdUnit), 5*time.Second)
			e1 := tdWaitEnd(c, tdUnit)
			s.close()
			hs := h.seenAfterClose()
			e2 := tdWaitEnd(c, 5*time.Second)
			return fmt.Sprintf("shutdown=%s afterShutdown=%s handler{%s} closed=%v got=%q", shut, e1.how, hs, e2.closed(), e2.got)
		}, tdWriteAfterClose)
	})
	// Close during a request in flight.
	t.Run("close-inflight", func(t *testing.T) {
		tdDiff(t, func(t *testing.T, kind string) string {
			h, s, c := tdInFlight(t, kind)
			s.close()
			hs := h.seenAfterClose()
			e := tdWaitEnd(c, 5*time.Second)
			return fmt.Sprintf("serve=%s handler{%s} closed=%v got=%q", s.serveResult(5*time.Second), hs, e.closed(), e.got)
		}, tdWriteAfterClose)
	})
}

// tdHead returns a GET head of exactly n bytes, in short header field lines.
func tdHead(n int) string {
	const start, end = "GET / HTTP/1.1\r\nHost: x\r\n", "\r\n"
	var b strings.Builder
	b.WriteString(start)
	for i := 0; ; i++ {
		left := n - b.Len() - len(end)
		name := fmt.Sprintf("X-F%d: ", i)
		if left <= 100+len(name)+2 {
			b.WriteString(name + strings.Repeat("v", left-len(name)-2) + "\r\n")
			break
		}
		b.WriteString(name + strings.Repeat("v", 100) + "\r\n")
	}
	b.WriteString(end)
	if b.Len() != n {
		panic(fmt.Sprintf("tdHead(%d) made %d bytes", n, b.Len()))
	}
	return b.String()
}

// MaxHeaderBytes just under and just over net/http's bound (MaxHeaderBytes and its slack of 4096).
func TestAsNetHTTPMaxHeaderBytes(t *testing.T) {
	const max = 1024
	sizes := []int{max, max + 4096 - 1, max + 4096, max + 4096 + 1, max + 8192}
	tdDiff(t, func(t *testing.T, kind string) string {
		s := tdStart(t, kind, tdSettings{maxHeaderBytes: max}, tdHello)
		var out []string
		for _, n := range sizes {
			c := dial(t, s.addr)
			io.WriteString(c, tdHead(n))
			r, err := readResponse(bufio.NewReader(c), "GET")
			if err != nil {
				out = append(out, fmt.Sprintf("%d:%v", n, err))
				continue
			}
			out = append(out, fmt.Sprintf("%d:%d close=%v", n, r.status, r.close))
			c.Close()
		}
		return strings.Join(out, " ")
	}, nil)
}

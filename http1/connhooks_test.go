package http1_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// Server.BaseContext, ConnContext and ConnState, held against net/http's server: the same handler
// and the same client on both, and the same observations.

// csRec records the ConnState calls of a server, per net.Conn value.
type csRec struct {
	mu    sync.Mutex
	order []net.Conn
	seqs  map[net.Conn][]http.ConnState
	// onState, if set, runs in each call (under no lock), after the state is recorded.
	onState func(net.Conn, http.ConnState)
}

func newCSRec() *csRec { return &csRec{seqs: map[net.Conn][]http.ConnState{}} }

func (r *csRec) hook(c net.Conn, st http.ConnState) {
	r.mu.Lock()
	if _, ok := r.seqs[c]; !ok {
		r.order = append(r.order, c)
	}
	r.seqs[c] = append(r.seqs[c], st)
	r.mu.Unlock()
	if r.onState != nil {
		r.onState(c, st)
	}
}

// ended reports whether n connections have been seen, each in a final state.
func (r *csRec) ended(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) < n {
		return false
	}
	for _, c := range r.order {
		s := r.seqs[c]
		if last := s[len(s)-1]; last != http.StateClosed && last != http.StateHijacked {
			return false
		}
	}
	return true
}

func (r *csRec) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i, c := range r.order {
		fmt.Fprintf(&b, "conn %d:", i)
		for _, st := range r.seqs[c] {
			fmt.Fprintf(&b, " %v", st)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (r *csRec) conns() []net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]net.Conn(nil), r.order...)
}

// csServer is a server under test: net/http's or eddy's, with a ConnState recorder.
type csServer struct {
	name     string
	addr     string
	rec      *csRec
	shutdown func(ctx context.Context) error
	onShut   func(func()) // RegisterOnShutdown
	keep     func(bool)   // SetKeepAlivesEnabled
}

// csNetHTTP starts net/http's server with h.
func csNetHTTP(t *testing.T, h http.Handler, rec *csRec) csServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ConnState: rec.hook, ErrorLog: newLogger(io.Discard)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return csServer{"net/http", ln.Addr().String(), rec, srv.Shutdown, srv.RegisterOnShutdown, srv.SetKeepAlivesEnabled}
}

// csEddy starts eddy's server on engine, with h, or native when it is not nil.
func csEddy(t *testing.T, engine eddy.EngineKind, h http.Handler, native http1.NativeHandler, rec *csRec) csServer {
	srv := &http1.Server{Handler: h, Native: native, ConnState: rec.hook, ErrorLog: newLogger(io.Discard)}
	addr := start(t, engine, srv)
	return csServer{"eddy", addr, rec, srv.Shutdown, srv.RegisterOnShutdown, srv.SetKeepAlivesEnabled}
}

// csScenario is a client's part, run against a server; it returns what the client saw.
type csScenario struct {
	name   string
	native bool // also run with a native handler on eddy
	run    func(t *testing.T, s csServer, ctl *csControl) string
}

// csControl is what a scenario shares with its handler.
type csControl struct {
	entered  chan struct{} // /block has begun
	release  chan struct{} // /block may return
	hijacked chan net.Conn // the net.Conn /hijack took over
}

func newCSControl() *csControl {
	return &csControl{entered: make(chan struct{}, 1), release: make(chan struct{}), hijacked: make(chan net.Conn, 1)}
}

func csHandler(ctl *csControl) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block":
			ctl.entered <- struct{}{}
			<-ctl.release
		case "/flush-block": // the head goes out before the handler returns, keeping the connection
			io.WriteString(w, "flushed ")
			w.(http.Flusher).Flush()
			ctl.entered <- struct{}{}
			<-ctl.release
		case "/hijack":
			nc, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			ctl.hijacked <- nc
			io.WriteString(nc, "hijacked\n")
			nc.Close()
			return
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
}

var csNative = http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	w.WriteString("ok " + string(r.Path()))
})

// csResponses reads n responses off br and renders their status and body.
func csResponses(br *bufio.Reader, n int) string {
	var b strings.Builder
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
			return b.String()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&b, "%d %q close=%t\n", resp.StatusCode, body, resp.Close)
	}
	return b.String()
}

func csDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	c := dial(t, addr)
	return c, bufio.NewReader(c)
}

// csReadEOF reads until the server closes c, and says how it ended.
func csReadEOF(c net.Conn) string {
	b, err := io.ReadAll(c)
	if err != nil {
		return fmt.Sprintf("%q then %v", b, err)
	}
	return fmt.Sprintf("%q then EOF", b)
}

var csScenarios = []csScenario{
	{name: "keep-alive", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		out := csResponses(br, 1)
		io.WriteString(c, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		out += csResponses(br, 1)
		c.Close() // the client goes while the connection is idle
		return out
	}},
	{name: "pipelined", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		return csResponses(br, 3) + csReadEOF(c)
	}},
	{name: "connection-close", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		return csResponses(br, 1) + csReadEOF(c)
	}},
	{name: "silent-client", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, _ := csDial(t, s.addr)
		c.Close()
		return ""
	}},
	{name: "head-cut-by-close", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, _ := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHo")
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c) // what is answered differs (doc.go): not compared
		return ""
	}},
	{name: "bad-request", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		io.Copy(io.Discard, br)
		return fmt.Sprint(resp.StatusCode)
	}},
	{name: "hijack", run: func(t *testing.T, s csServer, ctl *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
		b, _ := io.ReadAll(br)
		nc := <-ctl.hijacked
		waitFor(t, "ConnState(StateHijacked)", func() bool { return s.rec.ended(1) })
		same := len(s.rec.conns()) == 1 && s.rec.conns()[0] == nc
		return fmt.Sprintf("%q; Hijack returned ConnState's net.Conn: %t", b, same)
	}},
	{name: "shutdown-idle", native: true, run: func(t *testing.T, s csServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		out := csResponses(br, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.shutdown(ctx)
		return out + fmt.Sprintf("Shutdown: %v; %s", err, csReadEOF(c))
	}},
	{name: "shutdown-active", run: func(t *testing.T, s csServer, ctl *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		var once sync.Once
		s.onShut(func() { once.Do(func() { close(ctl.release) }) }) // the handler returns once Shutdown has begun
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.shutdown(ctx)
		return csResponses(br, 1) + fmt.Sprintf("Shutdown: %v; %s", err, csReadEOF(c))
	}},
}

// csFlushedThen: a response whose head went out keeping the connection ends after Shutdown began
// (or keep-alives were disabled): the request is done (StateIdle) before the connection closes.
func csFlushedThen(shutdown bool) func(t *testing.T, s csServer, ctl *csControl) string {
	return func(t *testing.T, s csServer, ctl *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /flush-block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		if !shutdown {
			s.keep(false)
			close(ctl.release)
			return csResponses(br, 1) + csReadEOF(c)
		}
		var once sync.Once
		s.onShut(func() { once.Do(func() { close(ctl.release) }) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.shutdown(ctx)
		return csResponses(br, 1) + fmt.Sprintf("Shutdown: %v; %s", err, csReadEOF(c))
	}
}

func init() {
	csScenarios = append(csScenarios,
		csScenario{name: "flushed-then-keepalives-off", run: csFlushedThen(false)},
		csScenario{name: "flushed-then-shutdown", run: csFlushedThen(true)})
}

// csRun runs sc against s and returns what the client saw and the transitions recorded.
func csRun(t *testing.T, sc csScenario, s csServer, ctl *csControl) string {
	t.Helper()
	out := sc.run(t, s, ctl)
	waitFor(t, s.name+"'s connection to end", func() bool { return s.rec.ended(1) })
	// Nothing more may come: after the server's end, the record is complete.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.shutdown(ctx)
	return "client: " + out + "\nConnState:\n" + s.rec.String()
}

func TestConnStateAgainstNetHTTP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, sc := range csScenarios {
			t.Run(sc.name, func(t *testing.T) {
				ctl := newCSControl()
				want := csRun(t, sc, csNetHTTP(t, csHandler(ctl), newCSRec()), ctl)
				ctl = newCSControl()
				got := csRun(t, sc, csEddy(t, engine, csHandler(ctl), nil, newCSRec()), ctl)
				if got != want {
					t.Errorf("eddy:\n%s\nnet/http:\n%s", got, want)
				}
				if !sc.native {
					return
				}
				got = csRun(t, sc, csEddy(t, engine, nil, csNative, newCSRec()), newCSControl())
				if got != want {
					t.Errorf("eddy, native handler:\n%s\nnet/http:\n%s", got, want)
				}
			})
		}
	})
}

// A ConnState hook that closes the connection as it opens (a limit on connections, say) ends it
// as with net/http.
func TestConnStateCloseOnNew(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		run := func(s csServer) string {
			c, _ := csDial(t, s.addr)
			out := csReadEOF(c)
			waitFor(t, s.name+"'s connection to end", func() bool { return s.rec.ended(1) })
			return out + "\n" + s.rec.String()
		}
		closer := func(rec *csRec) *csRec {
			rec.onState = func(c net.Conn, st http.ConnState) {
				if st == http.StateNew {
					if err := c.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			}
			return rec
		}
		ctl := newCSControl()
		want := run(csNetHTTP(t, csHandler(ctl), closer(newCSRec())))
		got := run(csEddy(t, engine, csHandler(ctl), nil, closer(newCSRec())))
		if got != want {
			t.Errorf("eddy:\n%s\nnet/http:\n%s", got, want)
		}
	})
}

type csKey string

// The values a handler sees through r.Context() from BaseContext and ConnContext, and what those
// are given, as with net/http.
func TestBaseAndConnContextAgainstNetHTTP(t *testing.T) {
	type probe struct {
		mu        sync.Mutex
		ln        net.Listener
		lnAddr    string
		connCalls atomic.Int32
		conns     []net.Conn
		states    map[net.Conn]bool
	}
	setup := func(p *probe) (func(net.Listener) context.Context, func(context.Context, net.Conn) context.Context, func(net.Conn, http.ConnState), http.Handler) {
		p.states = map[net.Conn]bool{}
		base := func(ln net.Listener) context.Context {
			p.mu.Lock()
			p.ln, p.lnAddr = ln, ln.Addr().String()
			p.mu.Unlock()
			return context.WithValue(context.Background(), csKey("base"), "base of "+ln.Addr().String())
		}
		connCtx := func(ctx context.Context, c net.Conn) context.Context {
			n := p.connCalls.Add(1)
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			_, hasSrv := ctx.Value(http.ServerContextKey).(*http.Server)
			return context.WithValue(ctx, csKey("conn"), fmt.Sprintf("conn %d from %s: base %v, server %t, local %v",
				n, c.RemoteAddr(), ctx.Value(csKey("base")), hasSrv, c.LocalAddr()))
		}
		state := func(c net.Conn, st http.ConnState) {
			p.mu.Lock()
			p.states[c] = true
			p.mu.Unlock()
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			// Made relative to r's addresses, which differ between the servers.
			conn := strings.ReplaceAll(fmt.Sprint(ctx.Value(csKey("conn"))), r.RemoteAddr, "<remote>")
			conn = strings.ReplaceAll(conn, fmt.Sprint(ctx.Value(http.LocalAddrContextKey)), "<local>")
			base := strings.ReplaceAll(fmt.Sprint(ctx.Value(csKey("base"))), fmt.Sprint(ctx.Value(http.LocalAddrContextKey)), "<local>")
			_, hasSrv := ctx.Value(http.ServerContextKey).(*http.Server)
			fmt.Fprintf(w, "%s %s\nbase: %s\nconn: %s\nserver: %t\n", r.Method, r.URL.Path, base, conn, hasSrv)
		})
		return base, connCtx, state, h
	}
	client := func(addr string) string {
		c, br := csDial(t, addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		out := csResponses(br, 2)
		c.Close()
		c2, br2 := csDial(t, addr)
		io.WriteString(c2, "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		return out + csResponses(br2, 1)
	}
	check := func(t *testing.T, name string, p *probe, ln net.Listener, addr string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if ln != nil && p.ln != ln {
			t.Errorf("%s: BaseContext was given %T %p, not the listener given to Serve (%p)", name, p.ln, p.ln, ln)
		}
		if p.lnAddr != addr {
			t.Errorf("%s: BaseContext's listener's Addr is %s, want %s", name, p.lnAddr, addr)
		}
		if len(p.conns) != 2 {
			t.Errorf("%s: ConnContext called for %d connections, want 2", name, len(p.conns))
		}
		for _, c := range p.conns {
			if !p.states[c] {
				t.Errorf("%s: ConnContext's net.Conn %p is not one that ConnState was given", name, c)
			}
		}
		if len(p.states) != len(p.conns) {
			t.Errorf("%s: ConnState saw %d net.Conns, ConnContext %d", name, len(p.states), len(p.conns))
		}
	}
	ref := func(t *testing.T) string {
		var p probe
		base, connCtx, state, h := setup(&p)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, BaseContext: base, ConnContext: connCtx, ConnState: state}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		addr := ln.Addr().String()
		waitFor(t, "BaseContext", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.ln != nil })
		out := client(addr)
		check(t, "net/http", &p, ln, addr)
		return out
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		want := ref(t)
		t.Run("Start", func(t *testing.T) {
			var p probe
			base, connCtx, state, h := setup(&p)
			srv := &http1.Server{Handler: h, BaseContext: base, ConnContext: connCtx, ConnState: state}
			addr := start(t, engine, srv)
			if got := client(addr); got != want {
				t.Errorf("eddy:\n%s\nnet/http:\n%s", got, want)
			}
			check(t, "eddy", &p, nil, addr)
			p.mu.Lock()
			ln := p.ln
			p.mu.Unlock()
			if c, err := ln.Accept(); c != nil || err == nil || !strings.Contains(err.Error(), "Shutdown or Close") {
				t.Errorf("Accept of BaseContext's listener = %v, %v; want an error", c, err)
			}
			if err := ln.Close(); err == nil {
				t.Errorf("Close of BaseContext's listener succeeded")
			}
		})
		t.Run("Serve", func(t *testing.T) {
			var p probe
			base, connCtx, state, h := setup(&p)
			srv := &http1.Server{Handler: h, BaseContext: base, ConnContext: connCtx, ConnState: state,
				Engine: engine, Loops: 2, ErrorLog: newLogger(io.Discard)}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			t.Cleanup(func() {
				srv.Close()
				<-served
			})
			addr := ln.Addr().String()
			waitFor(t, "BaseContext", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.ln != nil })
			if got := client(addr); got != want {
				t.Errorf("eddy:\n%s\nnet/http:\n%s", got, want)
			}
			check(t, "eddy", &p, ln, addr)
		})
	})
}

// Before a hijack, the net.Conn the hooks are given has the connection's addresses, and its reads,
// writes and deadlines fail clearly (the bytes are the server's); Hijack returns that net.Conn,
// which then works.
func TestConnContextConnBeforeHijack(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var hooked atomic.Pointer[net.Conn]
		report := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			nc := *hooked.Load()
			var b strings.Builder
			fmt.Fprintf(&b, "addrs match: %t\n", nc.RemoteAddr().String() == r.RemoteAddr &&
				nc.LocalAddr().String() == fmt.Sprint(r.Context().Value(http.LocalAddrContextKey)))
			_, rerr := nc.Read(make([]byte, 8))
			_, werr := nc.Write([]byte("x"))
			derr := nc.SetDeadline(time.Now())
			for _, err := range []error{rerr, werr, derr} {
				fmt.Fprintf(&b, "net.Error: %t, says so: %t\n", errors.As(err, new(net.Error)),
					err != nil && strings.Contains(err.Error(), "until a handler hijacks it"))
			}
			hc, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				report <- err.Error()
				return
			}
			fmt.Fprintf(&b, "Hijack returned the hooks' net.Conn: %t\n", hc == nc)
			line, _ := brw.ReadString('\n')
			fmt.Fprintf(&b, "read after hijack: %q\n", line)
			_, err = io.WriteString(hc, "echo "+line)
			fmt.Fprintf(&b, "write after hijack: %v\n", err)
			hc.Close()
			report <- b.String()
		})
		srv := &http1.Server{Handler: h,
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				hooked.Store(&c)
				return ctx
			}}
		addr := start(t, engine, srv)
		c, br := csDial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nping\n")
		got := <-report
		want := "addrs match: true\n" + strings.Repeat("net.Error: true, says so: true\n", 3) +
			"Hijack returned the hooks' net.Conn: true\nread after hijack: \"ping\\n\"\nwrite after hijack: <nil>\n"
		if got != want {
			t.Errorf("handler saw:\n%s\nwant:\n%s", got, want)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "echo ping\n" {
			t.Errorf("client read %q after the hijack", rest)
		}
	})
}

// BaseContext must not return nil: as net/http's Serve does, the start panics, here having stopped
// the engine it started, whose listener is closed.
func TestBaseContextNil(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var addr atomic.Value
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, ErrorLog: newLogger(io.Discard),
			BaseContext: func(ln net.Listener) context.Context {
				addr.Store(ln.Addr().String())
				return nil
			}}
		var v any
		func() {
			defer func() { v = recover() }()
			srv.Start()
		}()
		defer srv.Close()
		if fmt.Sprint(v) != "BaseContext returned a nil context" {
			t.Fatalf("Start's panic: %v", v)
		}
		a, _ := addr.Load().(string)
		if a == "" || strings.HasSuffix(a, ":0") {
			t.Fatalf("BaseContext's listener's address: %q", a)
		}
		if c, err := net.DialTimeout("tcp", a, 5*time.Second); err == nil {
			c.Close()
			t.Errorf("%s accepts a connection after the failed start", a)
		}
	})
}

// A Server that is the handler of an engine the caller made gets BaseContext called as that
// engine starts (OnBoot), with its address.
func TestBaseContextOwnEngine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var lnAddr atomic.Value
		srv := &http1.Server{
			BaseContext: func(ln net.Listener) context.Context {
				lnAddr.Store(ln.Addr().String())
				return context.WithValue(context.Background(), csKey("base"), "mine")
			},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, r.Context().Value(csKey("base")))
			}),
		}
		defer srv.Close() // its pool, once the engine has stopped
		e, err := eddy.New(srv, []string{"127.0.0.1:0"}, eddy.WithEngine(engine), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		defer e.Stop(context.Background())
		addr := e.Addrs()[0].String()
		if got, _ := lnAddr.Load().(string); got != addr {
			t.Errorf("BaseContext's listener's Addr: %q, want %q", got, addr)
		}
		c, br := csDial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := csResponses(br, 1); got != "200 \"mine\" close=false\n" {
			t.Errorf("response: %s", got)
		}
	})
}

// On TLS servers, the hooks see the established connections as with net/http.
func TestConnStateTLSAgainstNetHTTP(t *testing.T) {
	serverCfg, clientCfg := testtls.Configs()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s tls=%t conn=%v base=%v", r.URL.Path, r.TLS != nil, r.Context().Value(csKey("conn")),
			r.Context().Value(csKey("base")))
	})
	connCtx := func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, csKey("conn"), "set")
	}
	base := func(ln net.Listener) context.Context {
		return context.WithValue(context.Background(), csKey("base"), "set")
	}
	run := func(t *testing.T, name, addr string, rec *csRec) string {
		c, err := tls.Dial("tcp", addr, clientCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		out := csResponses(br, 1)
		io.WriteString(c, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		out += csResponses(br, 1)
		c.Close()
		waitFor(t, name+"'s connection to end", func() bool { return rec.ended(1) })
		return out + rec.String()
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		refRec := newCSRec()
		ref := &http.Server{Handler: h, TLSConfig: serverCfg, ConnState: refRec.hook, ConnContext: connCtx, BaseContext: base,
			ErrorLog: newLogger(io.Discard)}
		go ref.ServeTLS(ln, "", "")
		t.Cleanup(func() { ref.Close() })
		want := run(t, "net/http", ln.Addr().String(), refRec)

		rec := newCSRec()
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, Handler: h, TLSConfig: serverCfg,
			ConnState: rec.hook, ConnContext: connCtx, BaseContext: base, ErrorLog: newLogger(io.Discard)}
		if err := srv.StartTLS("", ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if got := run(t, "eddy", srv.Addrs()[0].String(), rec); got != want {
			t.Errorf("eddy:\n%s\nnet/http:\n%s", got, want)
		}
	})
}

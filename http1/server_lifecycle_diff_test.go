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
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// A differential test of http1.Server's hooks and lifecycle calls against net/http.Server (session 32):
// the same scripted clients against both, comparing ConnState sequences, BaseContext and
// ConnContext calls, RegisterOnShutdown, Shutdown, Close, Serve and ListenAndServe around them,
// what ErrorLog receives, and the request's addresses and context keys. Where eddy differs, the
// difference is one doc.go (or the field's doc comment) lists, and the test holds both sides to it,
// so that a change of either is seen.

// lcSettings are the fields a ConnState scenario sets on both servers.
type lcSettings struct {
	readHeader, idle time.Duration
}

// lcServer is a server under test, net/http's or http1's, started with Serve on a loopback listener.
type lcServer struct {
	name     string
	addr     string
	rec      *csRec
	shutdown func(context.Context) error
	close    func() error
	onShut   func(func())
	served   chan error
}

func lcStart(t *testing.T, kind string, set lcSettings, h http.Handler, native http1.NativeHandler, rec *csRec) *lcServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lcServer{name: kind, addr: ln.Addr().String(), rec: rec, served: make(chan error, 1)}
	if kind == "net/http" {
		srv := &http.Server{Handler: h, ConnState: rec.hook, ErrorLog: newLogger(io.Discard),
			ReadHeaderTimeout: set.readHeader, IdleTimeout: set.idle}
		s.shutdown, s.close, s.onShut = srv.Shutdown, srv.Close, srv.RegisterOnShutdown
		go func() { s.served <- srv.Serve(ln) }()
	} else {
		srv := &http1.Server{Handler: h, Native: native, ConnState: rec.hook, ErrorLog: newLogger(io.Discard),
			ReadHeaderTimeout: set.readHeader, IdleTimeout: set.idle, Engine: eddy.EngineKind(kind), Loops: 2}
		s.shutdown, s.close, s.onShut = srv.Shutdown, srv.Close, srv.RegisterOnShutdown
		go func() { s.served <- srv.Serve(ln) }()
		waitFor(t, "http1's Serve to start", func() bool { return srv.Addrs() != nil })
	}
	t.Cleanup(func() {
		s.close()
		select {
		case err := <-s.served:
			if err != http.ErrServerClosed {
				t.Errorf("%s: Serve returned %v, want ErrServerClosed", kind, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: Serve did not return after Close", kind)
		}
	})
	return s
}

// lcOpen reads c for up to d and says whether the server kept it open ("open") or what it sent
// before it closed it.
func lcOpen(c net.Conn, d time.Duration) string {
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("open after %q", b)
	}
	return fmt.Sprintf("closed after %q (%v)", b, err)
}

type lcScenario struct {
	name    string
	set     lcSettings
	native  bool // also run with a native handler on eddy
	compare bool // compare what the client saw, not only the states
	// netHTTPIs and eddyIs, when set, are the client's observations where doc.go lists a
	// difference; both are checked.
	netHTTPIs, eddyIs string
	run               func(t *testing.T, s *lcServer, ctl *csControl) string
}

const lcGet = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"

var lcScenarios = []lcScenario{
	{name: "one-request-then-close", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		return csResponses(br, 1) + csReadEOF(c)
	}},
	{name: "keep-alive-3-then-client-closes", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		var out string
		for _, p := range []string{"/a", "/b", "/c"} {
			io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
			out += csResponses(br, 1)
		}
		c.Close()
		return out
	}},
	{name: "pipelined-3", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, lcGet+"GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		return csResponses(br, 3) + csReadEOF(c)
	}},
	{name: "silent-closed-at-read-header-timeout", native: true, compare: true, set: lcSettings{readHeader: 200 * time.Millisecond},
		run: func(t *testing.T, s *lcServer, _ *csControl) string {
			c, _ := csDial(t, s.addr)
			return csReadEOF(c)
		}},
	// IdleTimeout bounds the wait between requests only: a connection that sends nothing is not
	// closed at it by either server (net/http's first read has ReadHeaderTimeout's deadline, none here).
	{name: "silent-with-idle-timeout-only", native: true, compare: true, set: lcSettings{idle: 100 * time.Millisecond},
		run: func(t *testing.T, s *lcServer, _ *csControl) string {
			c, _ := csDial(t, s.addr)
			out := lcOpen(c, 600*time.Millisecond)
			c.Close()
			return out
		}},
	{name: "idle-timeout-after-a-request", native: true, compare: true, set: lcSettings{idle: 150 * time.Millisecond},
		run: func(t *testing.T, s *lcServer, _ *csControl) string {
			c, br := csDial(t, s.addr)
			io.WriteString(c, lcGet)
			return csResponses(br, 1) + csReadEOF(c)
		}},
	// doc.go: a head cut short by ReadHeaderTimeout is closed without an answer (net/http answers
	// 400 first). The states are the same.
	{name: "head-cut-by-read-header-timeout", native: true, set: lcSettings{readHeader: 200 * time.Millisecond},
		netHTTPIs: "400", eddyIs: "none", run: func(t *testing.T, s *lcServer, _ *csControl) string {
			c, _ := csDial(t, s.addr)
			io.WriteString(c, "GET /a HTTP/1.1\r\nHo")
			b, _ := io.ReadAll(c)
			if len(b) == 0 {
				return "none"
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(b))), nil)
			if err != nil {
				return fmt.Sprintf("%q", b)
			}
			return fmt.Sprint(resp.StatusCode)
		}},
	{name: "head-cut-by-client-fin", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHo")
		c.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return "no answer: " + err.Error()
		}
		resp.Body.Close()
		io.Copy(io.Discard, br)
		return fmt.Sprint(resp.StatusCode)
	}},
	{name: "bad-request-400", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return fmt.Sprint(resp.StatusCode, " close=", resp.Close, " ", csReadEOF(c))
	}},
	{name: "hijack", compare: true, run: func(t *testing.T, s *lcServer, ctl *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
		b, _ := io.ReadAll(br)
		nc := <-ctl.hijacked
		waitFor(t, "StateHijacked", func() bool { return s.rec.ended(1) })
		conns := s.rec.conns()
		return fmt.Sprintf("%q; Hijack returned ConnState's net.Conn: %t", b, len(conns) == 1 && conns[0] == nc)
	}},
	{name: "shutdown-idle", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, lcGet)
		out := csResponses(br, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.shutdown(ctx)
		return out + fmt.Sprintf("Shutdown: %v; %s", err, csReadEOF(c))
	}},
	{name: "shutdown-active", compare: true, run: func(t *testing.T, s *lcServer, ctl *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		var once sync.Once
		s.onShut(func() { once.Do(func() { close(ctl.release) }) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.shutdown(ctx)
		return csResponses(br, 1) + fmt.Sprintf("Shutdown: %v; %s", err, csReadEOF(c))
	}},
	// doc.go: Shutdown closes a connection that has sent nothing yet at once; net/http gives it
	// up to 5 s, so a Shutdown with a shorter context returns the context's error there.
	{name: "shutdown-new", native: true,
		netHTTPIs: "Shutdown: context deadline exceeded; open after \"\"", eddyIs: "Shutdown: <nil>; closed after \"\" (<nil>)",
		run: func(t *testing.T, s *lcServer, _ *csControl) string {
			c, _ := csDial(t, s.addr)
			waitFor(t, "StateNew", func() bool { return len(s.rec.conns()) == 1 })
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err := s.shutdown(ctx)
			out := fmt.Sprintf("Shutdown: %v; %s", err, lcOpen(c, 200*time.Millisecond))
			s.close()
			return out
		}},
	{name: "close-idle", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, lcGet)
		out := csResponses(br, 1)
		err := s.close()
		b, _ := io.ReadAll(c) // EOF or a reset (std, now and then): not compared
		return out + fmt.Sprintf("Close: %v; read %q", err, b)
	}},
	{name: "close-active", compare: true, run: func(t *testing.T, s *lcServer, ctl *csControl) string {
		c, _ := csDial(t, s.addr)
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		err := s.close()
		close(ctl.release)
		b, _ := io.ReadAll(c)
		return fmt.Sprintf("Close: %v; read %q", err, b)
	}},
	{name: "close-new", native: true, compare: true, run: func(t *testing.T, s *lcServer, _ *csControl) string {
		c, _ := csDial(t, s.addr)
		waitFor(t, "StateNew", func() bool { return len(s.rec.conns()) == 1 })
		err := s.close()
		b, _ := io.ReadAll(c)
		return fmt.Sprintf("Close: %v; read %q", err, b)
	}},
}

// lcRun runs sc on s and returns what the client saw and the ConnState sequence.
func lcRun(t *testing.T, sc lcScenario, s *lcServer, ctl *csControl) (client, states string) {
	t.Helper()
	out := sc.run(t, s, ctl)
	waitFor(t, s.name+"'s connection to end", func() bool { return s.rec.ended(1) })
	s.close() // nothing may follow the end: after the server's, the record is complete
	return out, s.rec.String()
}

func TestLifecycleConnStateAgainstNetHTTP(t *testing.T) {
	type ref struct{ client, states string }
	refs := make([]ref, len(lcScenarios))
	var wg sync.WaitGroup
	for i, sc := range lcScenarios { // net/http's, once for every engine, at once (most wait)
		wg.Go(func() {
			t.Run("net/http/"+sc.name, func(t *testing.T) {
				ctl := newCSControl()
				refs[i].client, refs[i].states = lcRun(t, sc, lcStart(t, "net/http", sc.set, csHandler(ctl), nil, newCSRec()), ctl)
				if sc.netHTTPIs != "" && refs[i].client != sc.netHTTPIs {
					t.Errorf("net/http's client saw %q, want %q (doc.go's difference)", refs[i].client, sc.netHTTPIs)
				}
			})
		})
	}
	wg.Wait()
	forEachEngineAtOnce(t, func(t *testing.T, engine eddy.EngineKind) {
		for i, sc := range lcScenarios {
			t.Run(sc.name, func(t *testing.T) {
				want := refs[i]
				if sc.eddyIs != "" {
					want.client = sc.eddyIs
				}
				check := func(what string, client, states string) {
					if states != want.states || ((sc.compare || sc.eddyIs != "") && client != want.client) {
						t.Errorf("%s:\nclient: %s\n%s\nnet/http (doc.go's difference applied):\nclient: %s\n%s", what, client, states, want.client, want.states)
					}
				}
				ctl := newCSControl()
				client, states := lcRunEddy(t, sc, engine, csHandler(ctl), nil, ctl)
				check("eddy", client, states)
				if sc.native {
					client, states = lcRunEddy(t, sc, engine, nil, csNative, newCSControl())
					check("eddy, native handler", client, states)
				}
			})
		}
	})
}

func lcRunEddy(t *testing.T, sc lcScenario, engine eddy.EngineKind, h http.Handler, native http1.NativeHandler, ctl *csControl) (string, string) {
	t.Helper()
	return lcRun(t, sc, lcStart(t, string(engine), sc.set, h, native, newCSRec()), ctl)
}

type lcKey string

// BaseContext is called once per server (net/http: once per Serve), ConnContext once per
// connection, and their values reach r.Context(); what ConnContext is given, and the request's
// addresses, Host, TLS and context keys, are net/http's, but for http.ServerContextKey's value,
// which doc.go says is a net/http Server describing this one (it is *http.Server either way).
func TestLifecycleContextsAgainstNetHTTP(t *testing.T) {
	type probe struct {
		base, conns atomic.Int32
		mu          sync.Mutex
		connSaw     []string
	}
	setup := func(p *probe) (func(net.Listener) context.Context, func(context.Context, net.Conn) context.Context, http.Handler) {
		base := func(ln net.Listener) context.Context {
			p.base.Add(1)
			return context.WithValue(context.Background(), lcKey("base"), "base")
		}
		connCtx := func(ctx context.Context, c net.Conn) context.Context {
			n := p.conns.Add(1)
			srv, _ := ctx.Value(http.ServerContextKey).(*http.Server)
			p.mu.Lock()
			p.connSaw = append(p.connSaw, fmt.Sprintf("base=%v server=%t local-key=%v conn-addrs=%T,%T",
				ctx.Value(lcKey("base")), srv != nil, ctx.Value(http.LocalAddrContextKey), c.LocalAddr(), c.RemoteAddr()))
			p.mu.Unlock()
			return context.WithValue(ctx, lcKey("conn"), fmt.Sprintf("conn %d", n))
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			srv, _ := ctx.Value(http.ServerContextKey).(*http.Server)
			local := ctx.Value(http.LocalAddrContextKey)
			la, _ := local.(net.Addr)
			fmt.Fprintf(w, "%s %s host=%s remote=%s tls=%t base=%v conn=%v server=%T local=%T %v",
				r.Method, r.URL, r.Host, r.RemoteAddr, r.TLS != nil, ctx.Value(lcKey("base")), ctx.Value(lcKey("conn")),
				ctx.Value(http.ServerContextKey), local, la)
			if srv != nil {
				fmt.Fprintf(w, " server.Addr=%q handler=%t errorlog=%t", srv.Addr, srv.Handler != nil, srv.ErrorLog != nil)
			}
		})
		return base, connCtx, h
	}
	client := func(t *testing.T, addr string) string {
		var out strings.Builder
		for range 3 {
			c, br := csDial(t, addr)
			io.WriteString(c, "GET /a?q=1 HTTP/1.1\r\nHost: example.test:81\r\n\r\n"+
				"GET http://other.test/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			got := csResponses(br, 2)
			got = strings.ReplaceAll(got, c.LocalAddr().String(), "<client>")
			out.WriteString(strings.ReplaceAll(got, addr, "<server>"))
			c.Close()
		}
		return out.String()
	}
	check := func(t *testing.T, name string, p *probe) string {
		if n := p.base.Load(); n != 1 {
			t.Errorf("%s: BaseContext called %d times, want 1", name, n)
		}
		if n := p.conns.Load(); n != 3 {
			t.Errorf("%s: ConnContext called %d times, want 3", name, n)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return strings.Join(p.connSaw, "\n")
	}
	var p probe
	base, connCtx, h := setup(&p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ref := &http.Server{Handler: h, BaseContext: base, ConnContext: connCtx, ErrorLog: newLogger(io.Discard)}
	served := make(chan error, 1)
	go func() { served <- ref.Serve(ln) }()
	want := client(t, ln.Addr().String())
	wantConn := check(t, "net/http", &p)
	ref.Close()
	<-served
	if !strings.Contains(want, "server=*http.Server local=*net.TCPAddr <server>") || !strings.Contains(want, "conn 3") {
		t.Fatalf("net/http's handler saw:\n%s", want)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, how := range []string{"Serve", "Start"} {
			t.Run(how, func(t *testing.T) {
				var p probe
				base, connCtx, h := setup(&p)
				srv := &http1.Server{Handler: h, BaseContext: base, ConnContext: connCtx, Engine: engine, Loops: 2,
					ErrorLog: newLogger(io.Discard)}
				var addr string
				if how == "Serve" {
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					addr = ln.Addr().String()
					served := make(chan error, 1)
					go func() { served <- srv.Serve(ln) }()
					defer func() { srv.Close(); <-served }()
					waitFor(t, "Serve to start", func() bool { return srv.Addrs() != nil })
				} else {
					addr = start(t, engine, srv)
				}
				got := client(t, addr)
				if how == "Start" { // the described server's Addr is the field's, which start sets
					got = strings.ReplaceAll(got, `server.Addr=\"127.0.0.1:0\"`, `server.Addr=\"\"`)
				}
				if got != want {
					t.Errorf("eddy's handler saw:\n%s\nnet/http's:\n%s", got, want)
				}
				if gotConn := check(t, "eddy", &p); gotConn != wantConn {
					t.Errorf("eddy's ConnContext saw:\n%s\nnet/http's:\n%s", gotConn, wantConn)
				}
			})
		}
	})
}

// A ConnContext that returns nil: net/http's Serve panics with "ConnContext returned nil", which
// ends the program; so does eddy's loop, as the field's doc says. Run in child processes.
func TestLifecycleConnContextNil(t *testing.T) {
	if kind := os.Getenv("EDDY_TEST_CONNCTX_NIL"); kind != "" {
		lcConnContextNilChild(kind)
		return
	}
	run := func(kind string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLifecycleConnContextNil$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EDDY_TEST_CONNCTX_NIL="+kind)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Sprintf("child ended with %v:\n%s", err, out)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		// A panic on an eddy loop is recovered and raised again (loopcore's serveGuarded, to
		// tell it from runtime.Goexit): the runtime says so; the value is the same.
		line = strings.TrimSuffix(line, " [recovered, repanicked]")
		return fmt.Sprintf("exit %d: %s", ee.ExitCode(), line)
	}
	want := run("net/http")
	if want != "exit 2: panic: ConnContext returned nil" {
		t.Fatalf("net/http: %s", want)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		if got := run(string(engine)); got != want {
			t.Errorf("eddy: %s\nnet/http: %s", got, want)
		}
	})
}

func lcConnContextNilChild(kind string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	nilCtx := func(context.Context, net.Conn) context.Context { return nil }
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if kind == "net/http" {
		go (&http.Server{Handler: h, ConnContext: nilCtx}).Serve(ln)
	} else {
		go (&http1.Server{Handler: h, ConnContext: nilCtx, Engine: eddy.EngineKind(kind), Loops: 1}).Serve(ln)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err == nil {
		io.WriteString(c, lcGet)
	}
	time.Sleep(10 * time.Second)
	fmt.Println("no panic")
	os.Exit(0)
}

// lcLife is the lifecycle API of either server.
type lcLife struct {
	serve       func(net.Listener) error
	serveTLS    func(net.Listener, string, string) error
	listen      func() error // ListenAndServe
	listenTLS   func(string, string) error
	shutdown    func(context.Context) error
	close       func() error
	onShut      func(func())
	hooksCalled atomic.Int32
}

func lcNewLife(kind string) *lcLife {
	l := &lcLife{}
	serverCfg, _ := testtls.Configs()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	if kind == "net/http" {
		srv := &http.Server{Addr: "127.0.0.1:0", Handler: h, ErrorLog: newLogger(io.Discard), TLSConfig: serverCfg}
		l.serve, l.serveTLS, l.listen, l.listenTLS = srv.Serve, srv.ServeTLS, srv.ListenAndServe, srv.ListenAndServeTLS
		l.shutdown, l.close, l.onShut = srv.Shutdown, srv.Close, srv.RegisterOnShutdown
	} else {
		srv := &http1.Server{Addr: "127.0.0.1:0", Handler: h, ErrorLog: newLogger(io.Discard), TLSConfig: serverCfg,
			Engine: eddy.EngineKind(kind), Loops: 2}
		l.serve, l.serveTLS, l.listen, l.listenTLS = srv.Serve, srv.ServeTLS, srv.ListenAndServe, srv.ListenAndServeTLS
		l.shutdown, l.close, l.onShut = srv.Shutdown, srv.Close, srv.RegisterOnShutdown
	}
	l.onShut(func() { l.hooksCalled.Add(1) })
	return l
}

// hooks returns how many times the RegisterOnShutdown function ran, once the runs begun have
// ended (they run on goroutines of their own: settle gives them time).
func (l *lcLife) hooks(settle bool) int32 {
	if settle {
		time.Sleep(100 * time.Millisecond)
	}
	return l.hooksCalled.Load()
}

// lcListenerClosed reports whether ln was closed (an Accept fails with net.ErrClosed at once).
func lcListenerClosed(ln net.Listener) bool {
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := ln.Accept()
	return errors.Is(err, net.ErrClosed)
}

// lcOtherListener is a listener that is neither a *net.TCPListener nor a *net.UnixListener.
type lcOtherListener struct{ net.Listener }

func lcListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// lcServing starts l.serve on a new listener, waits until it answers, and returns the channel of
// what Serve returns.
func lcServing(t *testing.T, l *lcLife) chan error {
	ln := lcListen(t)
	served := make(chan error, 1)
	go func() { served <- l.serve(ln) }()
	waitFor(t, "the server to answer", func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		return strings.HasPrefix(string(b), "HTTP/1.1 200")
	})
	return served
}

func lcErr(err error) string {
	switch {
	case err == nil:
		return "nil"
	case err == http.ErrServerClosed:
		return "ErrServerClosed"
	case errors.Is(err, os.ErrNotExist):
		return "file not found"
	}
	return "error: " + err.Error()
}

// RegisterOnShutdown's functions, Shutdown twice, Close after Shutdown and before it, and the
// serving methods called after Shutdown or Close, against net/http's.
func TestLifecycleShutdownCallsAgainstNetHTTP(t *testing.T) {
	bg := context.Background()
	type lcCase struct {
		name string
		// netHTTPIs, when set, is net/http's transcript where doc.go lists a difference; want
		// is eddy's then.
		netHTTPIs string
		run       func(t *testing.T, l *lcLife) string
	}
	cases := []lcCase{
		{name: "shutdown-twice-then-close", netHTTPIs: "Shutdown nil, Shutdown nil, Close nil, Serve ErrServerClosed, hooks 2",
			run: func(t *testing.T, l *lcLife) string {
				served := lcServing(t, l)
				e1 := l.shutdown(bg)
				e2 := l.shutdown(bg)
				e3 := l.close()
				return fmt.Sprintf("Shutdown %s, Shutdown %s, Close %s, Serve %s, hooks %d", lcErr(e1), lcErr(e2), lcErr(e3), lcErr(<-served), l.hooks(true))
			}},
		{name: "close-then-shutdown", netHTTPIs: "Close nil, Shutdown nil, Serve ErrServerClosed, hooks 1",
			run: func(t *testing.T, l *lcLife) string {
				served := lcServing(t, l)
				e1 := l.close()
				e2 := l.shutdown(bg)
				return fmt.Sprintf("Close %s, Shutdown %s, Serve %s, hooks %d", lcErr(e1), lcErr(e2), lcErr(<-served), l.hooks(true))
			}},
		{name: "shutdown-before-serve", run: func(t *testing.T, l *lcLife) string {
			e1 := l.shutdown(bg)
			n := l.hooks(true)
			ln := lcListen(t)
			e2 := l.serve(ln)
			return fmt.Sprintf("Shutdown %s, hooks %d, Serve %s, listener closed %t", lcErr(e1), n, lcErr(e2), lcListenerClosed(ln))
		}},
		{name: "close-before-serve", run: func(t *testing.T, l *lcLife) string {
			e1 := l.close()
			ln := lcListen(t)
			e2 := l.serve(ln)
			return fmt.Sprintf("Close %s, Serve %s, listener closed %t, hooks %d", lcErr(e1), lcErr(e2), lcListenerClosed(ln), l.hooks(true))
		}},
		{name: "serve-again-after-shutdown", run: func(t *testing.T, l *lcLife) string {
			served := lcServing(t, l)
			e1 := l.shutdown(bg)
			ln := lcListen(t)
			e2 := l.serve(ln)
			return fmt.Sprintf("Shutdown %s, Serve %s, Serve again %s, listener closed %t", lcErr(e1), lcErr(<-served), lcErr(e2), lcListenerClosed(ln))
		}},
		{name: "serve-other-listener-after-shutdown", run: func(t *testing.T, l *lcLife) string {
			e1 := l.shutdown(bg)
			ln := lcListen(t)
			e2 := l.serve(lcOtherListener{ln})
			return fmt.Sprintf("Shutdown %s, Serve %s, listener closed %t", lcErr(e1), lcErr(e2), lcListenerClosed(ln))
		}},
		{name: "listen-and-serve-after-shutdown", run: func(t *testing.T, l *lcLife) string {
			e1 := l.shutdown(bg)
			return fmt.Sprintf("Shutdown %s, ListenAndServe %s", lcErr(e1), lcErr(l.listen()))
		}},
		{name: "listen-and-serve-after-close", run: func(t *testing.T, l *lcLife) string {
			e1 := l.close()
			return fmt.Sprintf("Close %s, ListenAndServe %s", lcErr(e1), lcErr(l.listen()))
		}},
		{name: "listen-and-serve-tls-after-shutdown", run: func(t *testing.T, l *lcLife) string {
			e1 := l.shutdown(bg)
			e2 := l.listenTLS("", "")
			e3 := l.listenTLS("/nonexistent/cert.pem", "/nonexistent/key.pem")
			return fmt.Sprintf("Shutdown %s, ListenAndServeTLS %s, with missing files %s", lcErr(e1), lcErr(e2), lcErr(e3))
		}},
		{name: "serve-tls-after-shutdown", run: func(t *testing.T, l *lcLife) string {
			e1 := l.shutdown(bg)
			ln := lcListen(t)
			e2 := l.serveTLS(ln, "", "")
			return fmt.Sprintf("Shutdown %s, ServeTLS %s, listener closed %t", lcErr(e1), lcErr(e2), lcListenerClosed(ln))
		}},
		// net/http loads the certificate first (its error comes first), then serves: ErrServerClosed.
		{name: "serve-tls-other-listener-after-shutdown", run: func(t *testing.T, l *lcLife) string {
			e1 := l.shutdown(bg)
			ln := lcListen(t)
			e2 := l.serveTLS(lcOtherListener{ln}, "", "")
			e3 := l.serveTLS(lcOtherListener{lcListen(t)}, "/nonexistent/cert.pem", "/nonexistent/key.pem")
			return fmt.Sprintf("Shutdown %s, ServeTLS %s, listener closed %t, with missing files %s", lcErr(e1), lcErr(e2), lcListenerClosed(ln), lcErr(e3))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.run(t, lcNewLife("net/http"))
			if tc.netHTTPIs != "" {
				if want != tc.netHTTPIs {
					t.Fatalf("net/http: %s, want %s", want, tc.netHTTPIs)
				}
				// doc.go: RegisterOnShutdown's functions run once, when the first Shutdown
				// begins, and not at all if Close came first.
				want = strings.Replace(strings.Replace(want, "hooks 2", "hooks 1", 1), "Shutdown nil, Serve ErrServerClosed, hooks 1",
					"Shutdown nil, Serve ErrServerClosed, hooks 0", 1)
			}
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				if got := tc.run(t, lcNewLife(string(engine))); got != want {
					t.Errorf("eddy: %s\nwant: %s", got, want)
				}
			})
		})
	}
}

// What ErrorLog receives, against net/http: whether a message comes, and of what kind (its start),
// for a panic, a panic with http.ErrAbortHandler, an invalid Content-Length set by the handler, a
// request with an invalid Content-Length, a superfluous WriteHeader, a TLS handshake that fails,
// plain HTTP on the TLS port. eddy's messages start as net/http's ("as net/http logs it").
func TestLifecycleErrorLogAgainstNetHTTP(t *testing.T) {
	serverCfg, clientCfg := testtls.Configs()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/bad-length":
			w.Header().Set("Content-Length", "x")
			io.WriteString(w, "hello")
		case "/twice":
			w.WriteHeader(200)
			w.WriteHeader(201)
		case "/via-server-key": // the ErrorLog of http.ServerContextKey's server logs as the server does
			r.Context().Value(http.ServerContextKey).(*http.Server).ErrorLog.Print("logged by the handler")
		}
	})
	type lcLogCase struct {
		name, req string
		tls       bool
	}
	cases := []lcLogCase{
		{name: "panic", req: "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "abort-handler", req: "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "handler-bad-content-length", req: "GET /bad-length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
		{name: "request-bad-content-length", req: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n"},
		{name: "superfluous-writeheader", req: "GET /twice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
		{name: "server-key-errorlog", req: "GET /via-server-key HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
		{name: "tls-client-closes-in-handshake", tls: true},
		{name: "tls-client-rejects-certificate", tls: true},
		{name: "plain-http-on-tls-port", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", tls: true},
	}
	// run runs the cases on a server whose log is lg, listening on addr (tlsAddr for TLS) and
	// returns one line per case: the kind of what was logged for it.
	run := func(t *testing.T, addr, tlsAddr string, lg *syncLog) string {
		var out strings.Builder
		logged := 0
		for _, tc := range cases {
			a := addr
			if tc.tls {
				a = tlsAddr
			}
			c := dial(t, a)
			client := c.LocalAddr().String()
			switch tc.name {
			case "tls-client-closes-in-handshake":
				c.Close()
			case "tls-client-rejects-certificate":
				cfg := clientCfg.Clone()
				cfg.ServerName = "wrong.example"
				tc := tls.Client(c, cfg)
				tc.Handshake()
				tc.Close()
			default:
				io.WriteString(c, tc.req)
				io.ReadAll(c) // the connection closes after the answer (or in its place)
			}
			// A handler's message comes before the server closes the connection; a failed
			// handshake's may come after it (net/http closes the connection, then logs): wait
			// for it. Cases without one are followed by one that has one, which shows that the
			// first logged nothing.
			var line string
			deadline := time.Now().Add(2 * time.Second)
			for {
				lines := strings.Split(strings.TrimSpace(lg.String()), "\n")
				if lg.String() == "" {
					lines = nil
				}
				if len(lines) > logged {
					line = strings.Join(lines[logged:], " | ")
					logged = len(lines)
					break
				}
				if !tc.tls || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			line = strings.ReplaceAll(line, client, "<client>")
			// The kind of message: up to the first ':' after the client's address, or the
			// whole text if short.
			kind := line
			if i := strings.Index(line, "<client>:"); i >= 0 {
				kind = line[:i+len("<client>:")]
			} else if len(kind) > 48 {
				kind = kind[:48]
			}
			if strings.Contains(line, "client sent an HTTP request to an HTTPS server") {
				kind += " client sent an HTTP request to an HTTPS server"
			}
			fmt.Fprintf(&out, "%s: %q\n", tc.name, kind)
		}
		return out.String()
	}
	var refLog syncLog
	ln, tln := lcListen(t), lcListen(t)
	ref := &http.Server{Handler: h, ErrorLog: newLogger(&refLog), TLSConfig: serverCfg}
	go ref.Serve(ln)
	go ref.ServeTLS(tln, "", "")
	want := run(t, ln.Addr().String(), tln.Addr().String(), &refLog)
	ref.Close()
	t.Logf("net/http's log, by case:\n%s", want)
	for _, s := range []string{`panic: "http: panic serving <client>:"`, `abort-handler: ""`, `request-bad-content-length: ""`,
		`tls-client-closes-in-handshake: "http: TLS handshake error from <client>:"`} {
		if !strings.Contains(want, s) {
			t.Fatalf("net/http's log:\n%s\nhas no %s", want, s)
		}
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var lg syncLog
		ln, tln := lcListen(t), lcListen(t)
		mk := func() *http1.Server {
			return &http1.Server{Handler: h, ErrorLog: newLogger(&lg), TLSConfig: serverCfg, Engine: engine, Loops: 2}
		}
		srv, tsrv := mk(), mk()
		served := make(chan error, 2)
		go func() { served <- srv.Serve(ln) }()
		go func() { served <- tsrv.ServeTLS(tln, "", "") }()
		defer func() { srv.Close(); tsrv.Close(); <-served; <-served }()
		waitFor(t, "the servers to start", func() bool { return srv.Addrs() != nil && tsrv.Addrs() != nil })
		if got := run(t, ln.Addr().String(), tln.Addr().String(), &lg); got != want {
			t.Errorf("eddy's log:\n%s\nnet/http's:\n%s\nlog:\n%s", got, want, lg.String())
		}
	})
}

// Serve refuses a listener the engine cannot adopt (doc.go), and closes it, as its doc says it does
// in every case (net/http's Serve does, with a deferred Close).
func TestLifecycleServeClosesRefusedListener(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Engine: engine, Loops: 1, ErrorLog: newLogger(io.Discard)}
		defer srv.Close()
		ln := lcListen(t)
		err := srv.Serve(lcOtherListener{ln})
		if err == nil || !strings.Contains(err.Error(), "Serve needs a *net.TCPListener") {
			t.Errorf("Serve: %v", err)
		}
		if !lcListenerClosed(ln) {
			t.Errorf("Serve left the listener it refused open")
		}
	})
}

package http1_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
	"github.com/eddyio/eddy/pool"
)

// ConnState sequences (connhooks.go) in cases the scenarios of connhooks_test.go do not
// cover, held against net/http's server with the same settings.

type rvSettings struct {
	idle, readHeader time.Duration
	maxHeader        int
}

type rvServer struct {
	csServer
	close func() error
}

func rvNetHTTP(t *testing.T, h http.Handler, rec *csRec, set rvSettings) rvServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ConnState: rec.hook, ErrorLog: newLogger(io.Discard),
		IdleTimeout: set.idle, ReadHeaderTimeout: set.readHeader, MaxHeaderBytes: set.maxHeader}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rvServer{csServer{"net/http", ln.Addr().String(), rec, srv.Shutdown, srv.RegisterOnShutdown, srv.SetKeepAlivesEnabled}, srv.Close}
}

func rvEddy(t *testing.T, engine eddy.EngineKind, h http.Handler, native http1.NativeHandler, rec *csRec, set rvSettings) rvServer {
	srv := &http1.Server{Handler: h, Native: native, ConnState: rec.hook, ErrorLog: newLogger(io.Discard),
		IdleTimeout: set.idle, ReadHeaderTimeout: set.readHeader, MaxHeaderBytes: set.maxHeader}
	addr := start(t, engine, srv)
	return rvServer{csServer{"eddy", addr, rec, srv.Shutdown, srv.RegisterOnShutdown, srv.SetKeepAlivesEnabled}, srv.Close}
}

type rvScenario struct {
	name    string
	native  bool
	set     rvSettings
	compare bool // compare what the client saw too (else only the states)
	// eddyDiffers, if set, is eddy's sequence where it knowingly differs from net/http's: a head
	// after a first request cut short (by a deadline or the client's FIN) reports StateActive on
	// eddy, which read bytes of it; net/http reports it only for bytes it read off the wire inside
	// readRequest, and those came in its Peek(4) between requests, so there the connection goes
	// from idle to closed. Both sequences are checked, so that a change of either is seen.
	eddyDiffers, netHTTPIs string
	run                    func(t *testing.T, s rvServer, ctl *csControl) string
}

var rvScenarios = []rvScenario{
	{name: "half-close-after-request", native: true, compare: true, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		return csResponses(br, 1) + csReadEOF(c)
	}},
	{name: "half-close-during-handler", compare: true, run: func(t *testing.T, s rvServer, ctl *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		c.(*net.TCPConn).CloseWrite()
		time.Sleep(50 * time.Millisecond) // let the FIN arrive while the handler runs (either order is fine)
		close(ctl.release)
		return csResponses(br, 1) + csReadEOF(c)
	}},
	{name: "pipelined-second-bad", native: true, compare: true, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n")
		out := csResponses(br, 1)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out + err.Error()
		}
		resp.Body.Close()
		io.Copy(io.Discard, br)
		return out + fmt.Sprint(resp.StatusCode)
	}},
	{name: "pipelined-second-expect", native: true, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n")
		out := csResponses(br, 2)
		io.Copy(io.Discard, br)
		return out
	}},
	{name: "max-header-bytes", native: true, set: rvSettings{maxHeader: 1024}, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		go io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		io.Copy(io.Discard, br)
		return fmt.Sprint(resp.StatusCode)
	}},
	{name: "idle-timeout", native: true, compare: true, set: rvSettings{idle: 300 * time.Millisecond}, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		return csResponses(br, 1) + csReadEOF(c)
	}},
	{name: "idle-timeout-after-two", native: true, compare: true, set: rvSettings{idle: 300 * time.Millisecond}, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		return csResponses(br, 2) + csReadEOF(c)
	}},
	{name: "header-timeout-partial-after-request", native: true,
		eddyDiffers: "conn 0: new active idle active closed\n", netHTTPIs: "conn 0: new active idle closed\n", set: rvSettings{readHeader: 300 * time.Millisecond}, run: func(t *testing.T, s rvServer, _ *csControl) string {
			c, br := csDial(t, s.addr)
			// The partial head comes after the response, in a read of its own: net/http reports
			// StateActive only for bytes read off the wire, not for bytes its bufio.Reader holds from
			// the previous read (a pipelined partial head that times out gives new, active, idle,
			// closed there; eddy reports active for it, as doc.go says: not compared).
			io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			out := csResponses(br, 1)
			io.WriteString(c, "GET /b HT")
			io.Copy(io.Discard, br)
			return out
		}},
	{name: "head-cut-by-fin-after-request", native: true,
		eddyDiffers: "conn 0: new active idle active closed\n", netHTTPIs: "conn 0: new active idle closed\n", run: func(t *testing.T, s rvServer, _ *csControl) string {
			c, br := csDial(t, s.addr)
			io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			out := csResponses(br, 1)
			io.WriteString(c, "GET /b HT")
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, br)
			return out
		}},
	{name: "close-while-active", run: func(t *testing.T, s rvServer, ctl *csControl) string {
		c, _ := csDial(t, s.addr)
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		err := s.close()
		close(ctl.release)
		io.Copy(io.Discard, c)
		return fmt.Sprintf("Close: %v", err)
	}},
	// Not compared: what the client reads (the std engine resets the connection now and then
	// on Close, net/http closes it).
	{name: "close-while-idle", native: true, run: func(t *testing.T, s rvServer, _ *csControl) string {
		c, br := csDial(t, s.addr)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		out := csResponses(br, 1)
		err := s.close()
		return out + fmt.Sprintf("Close: %v; %s", err, csReadEOF(c))
	}},
}

func rvRun(t *testing.T, sc rvScenario, s rvServer, ctl *csControl) (client, states string) {
	t.Helper()
	out := sc.run(t, s, ctl)
	waitFor(t, s.name+"'s connection to end", func() bool { return s.rec.ended(1) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.shutdown(ctx)
	return out, s.rec.String()
}

func TestConnStateMoreAgainstNetHTTP(t *testing.T) {
	// The engines at once: their subtests mostly wait out timeouts, on servers of their own.
	forEachEngineAtOnce(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, sc := range rvScenarios {
			t.Run(sc.name, func(t *testing.T) {
				ctl := newCSControl()
				wantC, want := rvRun(t, sc, rvNetHTTP(t, csHandler(ctl), newCSRec(), sc.set), ctl)
				check := func(what, gotC, got string) {
					if got != want || (sc.compare && gotC != wantC) {
						t.Errorf("%s:\nclient: %s\n%s\nnet/http:\nclient: %s\n%s", what, gotC, got, wantC, want)
					}
				}
				if sc.eddyDiffers != "" {
					if want != sc.netHTTPIs {
						t.Errorf("net/http's sequence: %s, want %s", want, sc.netHTTPIs)
					}
					want = sc.eddyDiffers
				}
				ctl = newCSControl()
				gotC, got := rvRun(t, sc, rvEddy(t, engine, csHandler(ctl), nil, newCSRec(), sc.set), ctl)
				check("eddy", gotC, got)
				if sc.native {
					gotC, got = rvRun(t, sc, rvEddy(t, engine, nil, csNative, newCSRec(), sc.set), newCSControl())
					check("eddy, native handler", gotC, got)
				}
			})
		}
	})
}

// A request refused by a full pool (503) was active: new, active, closed.
func TestConnStatePoolFull(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ctl := newCSControl()
		rec := newCSRec()
		p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
		defer p.Stop(context.Background())
		srv := &http1.Server{Handler: csHandler(ctl), Pool: p, ConnState: rec.hook, ErrorLog: newLogger(io.Discard)}
		addr := start(t, engine, srv)
		c1, br1 := csDial(t, addr)
		io.WriteString(c1, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-ctl.entered
		c2, br2 := csDial(t, addr)
		io.WriteString(c2, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
		got := csResponses(br2, 1)
		io.Copy(io.Discard, br2)
		close(ctl.release)
		got += csResponses(br1, 1)
		c1.Close()
		waitFor(t, "both connections to end", func() bool { return rec.ended(2) })
		want := "503 \"503 Service Unavailable: server busy\" close=true\n200 \"ok /block\" close=false\n"
		if got != want {
			t.Errorf("responses:\n%s\nwant:\n%s", got, want)
		}
		var seqs []string
		rec.mu.Lock()
		for _, c := range rec.order {
			seqs = append(seqs, fmt.Sprint(rec.seqs[c]))
		}
		rec.mu.Unlock()
		slices.Sort(seqs)
		if fmt.Sprint(seqs) != "[[new active closed] [new active idle closed]]" {
			t.Errorf("ConnState: %v", seqs)
		}
	})
}

// rvNoBoot is a caller's handler around a Server that does not pass OnBoot on.
type rvNoBoot struct{ s *http1.Server }

func (h rvNoBoot) OnOpen(c eddy.Conn)             { h.s.OnOpen(c) }
func (h rvNoBoot) OnData(c eddy.Conn)             { h.s.OnData(c) }
func (h rvNoBoot) OnClose(c eddy.Conn, err error) { h.s.OnClose(c, err) }

// A Server inside a handler that does not pass OnBoot on: BaseContext is called once, with a nil
// listener, on the first connection, and every connection of every loop descends from it; the
// hooks see each connection.
func TestBaseContextWithoutOnBoot(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		t.Run(fmt.Sprint("hooked=", hooked), func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				var calls atomic.Int32
				var gotNil atomic.Bool
				rec := newCSRec()
				srv := &http1.Server{
					ErrorLog: newLogger(io.Discard),
					BaseContext: func(ln net.Listener) context.Context {
						calls.Add(1)
						gotNil.Store(ln == nil)
						return context.WithValue(context.Background(), csKey("base"), "b")
					},
					Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						fmt.Fprintf(w, "%v%v %v", r.Context().Value(csKey("base")), r.Context().Value(csKey("conn")), r.Context().Value(http.ServerContextKey) != nil)
					}),
				}
				if hooked {
					srv.ConnState = rec.hook
					srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
						return context.WithValue(ctx, csKey("conn"), "c")
					}
				}
				defer srv.Close()
				e, err := eddy.New(rvNoBoot{srv}, []string{"127.0.0.1:0"}, eddy.WithEngine(engine), eddy.WithLoops(2))
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Start(); err != nil {
					t.Fatal(err)
				}
				defer e.Stop(context.Background())
				addr := e.Addrs()[0].String()
				want := "b<nil> true"
				if hooked {
					want = "bc true"
				}
				var wg sync.WaitGroup
				const n = 6
				outs := make([]string, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c, br := csDial(t, addr)
						io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
						outs[i] = csResponses(br, 1)
					}()
				}
				wg.Wait()
				for _, o := range outs {
					if o != fmt.Sprintf("200 %q close=true\n", want) {
						t.Errorf("response: %s", o)
					}
				}
				if calls.Load() != 1 || !gotNil.Load() {
					t.Errorf("BaseContext: %d calls, nil listener %t", calls.Load(), gotNil.Load())
				}
				if hooked {
					waitFor(t, "the connections to end", func() bool { return rec.ended(n) })
				}
			})
		})
	}
}

// A TLS connection whose handshake fails is not reported (doc.go: net/http reports new and
// closed), ConnContext is not called for it, and the next good connection is reported whole.
func TestConnStateTLSHandshakeFailure(t *testing.T) {
	serverCfg, clientCfg := testtls.Configs()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		rec := newCSRec()
		var ccCalls atomic.Int32
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, TLSConfig: serverCfg,
			Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
			ConnState: rec.hook, ErrorLog: newLogger(io.Discard),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				ccCalls.Add(1)
				return ctx
			}}
		if err := srv.StartTLS("", ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		addr := srv.Addrs()[0].String()
		// Plain HTTP to the TLS port, and bytes that are no TLS at all.
		for _, b := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x01\x00\x05hello"} {
			c := dial(t, addr)
			io.WriteString(c, b)
			io.Copy(io.Discard, c)
			c.Close()
		}
		c, err := tls.Dial("tcp", addr, clientCfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		got := csResponses(bufio.NewReader(c), 1)
		c.Close()
		waitFor(t, "the TLS connection to end", func() bool { return rec.ended(1) })
		if got != "200 \"ok\" close=false\n" {
			t.Errorf("response: %s", got)
		}
		if s := rec.String(); s != "conn 0: new active idle closed\n" || ccCalls.Load() != 1 {
			t.Errorf("ConnState:\n%sConnContext calls: %d", s, ccCalls.Load())
		}
	})
}

// A ConnState hook that closes the connection when it goes idle (a limit on idle connections),
// or as a request begins, ends it as net/http does.
func TestConnStateCloseFromHook(t *testing.T) {
	for _, on := range []http.ConnState{http.StateIdle, http.StateActive} {
		t.Run(on.String(), func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				closer := func() *csRec {
					rec := newCSRec()
					rec.onState = func(c net.Conn, st http.ConnState) {
						if st == on {
							c.Close()
						}
					}
					return rec
				}
				run := func(s rvServer) string {
					c, _ := csDial(t, s.addr)
					io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
					io.Copy(io.Discard, c)
					waitFor(t, s.name+"'s connection to end", func() bool { return s.rec.ended(1) })
					return s.rec.String()
				}
				want := run(rvNetHTTP(t, csHandler(newCSControl()), closer(), rvSettings{}))
				got := run(rvEddy(t, engine, csHandler(newCSControl()), nil, closer(), rvSettings{}))
				if got != want {
					t.Errorf("eddy:\n%s\nnet/http:\n%s", got, want)
				}
				got = run(rvEddy(t, engine, nil, csNative, closer(), rvSettings{}))
				if got != want {
					t.Errorf("eddy, native:\n%s\nnet/http:\n%s", got, want)
				}
			})
		})
	}
}

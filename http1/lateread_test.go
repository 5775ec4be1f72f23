package http1_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// lateReadWire sends raw on a new connection to addr and reads every response until the server
// closes the connection: their statuses, bodies and Connection fields, in order, and the raw bytes.
func lateReadWire(t *testing.T, addr, raw string) (got []string, wire string) {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &all))
	for {
		if _, err := br.Peek(1); err == io.EOF {
			break
		}
		r, err := readResponse(br, "POST")
		if err != nil {
			t.Fatalf("after %q: %v (wire %q)", got, err, all.String())
		}
		got = append(got, fmt.Sprintf("%d %q close=%v", r.status, r.body, r.close))
	}
	return got, all.String()
}

// TestLateReadNoStrayContinue: a goroutine the handler left behind reads the body of a
// request that expected 100-continue while the connection goes on to its pipelined next request,
// which expects 100-continue too and whose handler never reads its body. The late Read must fail
// as net/http's does (http.ErrBodyReadAfterClose) and must not send a 100 Continue for the next
// request: the wire carries the first request's 100, its answer, and the second's answer, as from
// net/http. With the hook, the late Read is held between its check for a closed body and its 100
// Continue until the second request's handler runs (the response recycled for it by then).
func TestLateReadNoStrayContinue(t *testing.T) {
	const raw = "POST /first HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /second HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nworld"

	type round struct {
		inHook, secondStarted chan struct{}
		lateErr               chan error
	}
	var cur atomic.Pointer[round]
	var armed atomic.Bool
	handler := func(hooked bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rd := cur.Load()
			switch r.URL.Path {
			case "/first":
				if b, err := io.ReadAll(r.Body); err != nil || string(b) != "hello" {
					t.Errorf("first body: %q, %v", b, err)
				}
				body := r.Body
				if hooked {
					// The late Read starts now and is held in the hook past its closed check.
					armed.Store(true)
					go func() { _, err := body.Read(make([]byte, 8)); rd.lateErr <- err }()
					<-rd.inHook
				} else {
					go func() {
						<-rd.secondStarted
						_, err := body.Read(make([]byte, 8))
						rd.lateErr <- err
					}()
				}
				io.WriteString(w, "first")
			case "/second":
				close(rd.secondStarted)
				select {
				case err := <-rd.lateErr:
					if !errors.Is(err, http.ErrBodyReadAfterClose) {
						t.Errorf("late Read: %v, want %v (net/http's)", err, http.ErrBodyReadAfterClose)
					}
				case <-time.After(10 * time.Second):
					t.Error("late Read did not return")
				}
				io.WriteString(w, "second")
			}
		})
	}
	newRound := func() {
		cur.Store(&round{inHook: make(chan struct{}), secondStarted: make(chan struct{}), lateErr: make(chan error, 1)})
	}

	newRound()
	want, _ := lateReadWire(t, netHTTPRef(t, handler(false), nil), raw)
	if len(want) != 3 || !strings.HasPrefix(want[0], "100 ") {
		t.Fatalf("net/http answered %q", want)
	}

	defer http1.SetBodyReadHook(func() {
		if armed.CompareAndSwap(true, false) {
			rd := cur.Load()
			close(rd.inHook)
			<-rd.secondStarted
		}
	})()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, hooked := range []bool{false, true} {
			addr := start(t, engine, &http1.Server{Handler: handler(hooked), Loops: 1})
			// Several rounds: the response is recycled through a sync.Pool, which need not give
			// the first request's response to the second (the race detector drops some puts).
			for i := 0; i < 8; i++ {
				newRound()
				got, wire := lateReadWire(t, addr, raw)
				if fmt.Sprint(got) != fmt.Sprint(want) || strings.Count(wire, "100 Continue") != 1 {
					t.Fatalf("hooked=%v round %d: got %q, want %q (net/http's); wire %q", hooked, i, got, want, wire)
				}
			}
		}
	})
}

// TestLateReadUnreadExpect: the handler of a request that expected 100-continue (its body
// sent at once, a pipelined request behind it) returns without reading the body and leaves it to
// a goroutine that reads it once the connection has closed. As with net/http, the answer says
// Connection: close without a 100 Continue, the pipelined request gets no answer, and the late
// Read fails with http.ErrBodyReadAfterClose.
func TestLateReadUnreadExpect(t *testing.T) {
	const raw = "POST /first HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
	var closed atomic.Pointer[chan struct{}]
	lateErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/first" {
			io.WriteString(w, "second")
			return
		}
		body, done := r.Body, *closed.Load()
		go func() {
			<-done
			_, err := body.Read(make([]byte, 8))
			lateErr <- err
		}()
		io.WriteString(w, "first")
	})
	run := func(t *testing.T, addr string) (got []string, err error) {
		done := make(chan struct{})
		closed.Store(&done)
		got, wire := lateReadWire(t, addr, raw)
		close(done)
		if strings.Contains(wire, "100 Continue") {
			t.Errorf("wire %q has a 100 Continue", wire)
		}
		select {
		case err = <-lateErr:
		case <-time.After(10 * time.Second):
			t.Fatal("late Read did not return")
		}
		return got, err
	}
	want, wantErr := run(t, netHTTPRef(t, h, nil))
	if len(want) != 1 || wantErr == nil {
		t.Fatalf("net/http: %q, late Read %v", want, wantErr)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, Loops: 1})
		for i := 0; i < 3; i++ {
			got, err := run(t, addr)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %q, want %q (net/http's)", got, want)
			}
			if err == nil || err.Error() != wantErr.Error() {
				t.Fatalf("late Read: %v, want %v (net/http's)", err, wantErr)
			}
		}
	})
}

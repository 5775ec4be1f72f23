package http1_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestEmptyReadSendsContinue: a handler's read into an empty slice of a body that expects
// 100-continue sends the 100 (Continue), as net/http's expectContinueReader does on any read, and
// returns 0, nil at once; the body then arrives and reads in full. Also run against net/http.
func TestEmptyReadSendsContinue(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := r.Body.Read(nil)
		if n != 0 || err != nil {
			http.Error(w, "empty read: "+err.Error(), 500)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "got:"+string(b))
	})
	run := func(t *testing.T, addr string) {
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("first line %q, %v; want the 100 (Continue)", line, err)
		}
		if l, _ := br.ReadString('\n'); l != "\r\n" {
			t.Fatalf("after the 100: %q", l)
		}
		io.WriteString(c, "hello")
		r, err := readResponse(br, "POST")
		if err != nil || r.status != 200 || r.body != "got:hello" {
			t.Fatalf("response %+v, %v", r, err)
		}
	}
	t.Run("net/http", func(t *testing.T) {
		s := erNetHTTPServer(t, h)
		run(t, s)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		run(t, start(t, engine, &http1.Server{Handler: h}))
	})
}

// erNetHTTPServer serves h with net/http on a loopback port.
func erNetHTTPServer(t *testing.T, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// TestEmptyReadAfterClose: an empty read after Close fails with
// http.ErrBodyReadAfterClose, and an empty read racing a Close from another goroutine never blocks.
func TestEmptyReadAfterClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		res := make(chan string, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); r.Body.Close() }()
			r.Body.Read(nil) // either order: must return
			wg.Wait()
			_, err := r.Body.Read([]byte{})
			if err == http.ErrBodyReadAfterClose {
				res <- "ok"
			} else {
				res <- "err=" + func() string {
					if err == nil {
						return "nil"
					}
					return err.Error()
				}()
			}
		})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe")
		select {
		case s := <-res:
			if s != "ok" {
				t.Fatalf("empty read after Close: %s", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("handler blocked")
		}
	})
}

// TestNativeAbortConnState: a native handler's panic(http.ErrAbortHandler) closes the connection
// without a byte (a pipelined request behind it is not served), ConnState reports Active then
// Closed, and what the handler put in its ResponseBuffer does not reach the next response.
func TestNativeAbortConnState(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var mu sync.Mutex
		states := map[net.Conn][]string{}
		closed := make(chan net.Conn, 4)
		srv := &http1.Server{
			Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
				if string(r.Target) == "/abort" {
					w.AddHeader("X-Leak", "1")
					w.WriteString("leak")
					w.SetStatus(299)
					panic(http.ErrAbortHandler)
				}
				w.WriteString("fine")
			}),
			ConnState: func(c net.Conn, st http.ConnState) {
				mu.Lock()
				states[c] = append(states[c], st.String())
				mu.Unlock()
				if st == http.StateClosed {
					closed <- c
				}
			},
		}
		addr := start(t, engine, srv)
		for range 3 {
			c := dial(t, addr)
			io.WriteString(c, "GET /abort HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
			b, err := io.ReadAll(c)
			if err != nil || len(b) != 0 {
				t.Fatalf("aborted: read %q, %v; want nothing, then EOF", b, err)
			}
			var sc net.Conn
			select {
			case sc = <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("no StateClosed")
			}
			mu.Lock()
			got := strings.Join(states[sc], " ")
			mu.Unlock()
			if got != "active closed" && got != "new active closed" {
				t.Errorf("states %q; want active closed", got)
			}
			r := exchange(t, addr, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", "GET")[0]
			if r.status != 200 || r.body != "fine" || r.header.Get("X-Leak") != "" {
				t.Fatalf("next response %d %q %v", r.status, r.body, r.header)
			}
		}
	})
}

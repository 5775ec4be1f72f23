package http1_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// trickle writes s to c one byte every gap until stop is closed or a write fails.
func trickle(c net.Conn, s string, gap time.Duration, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(s); i++ {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
			if _, err := c.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
	return done
}

// TestTricklingIsCutOff: ReadHeaderTimeout bounds the head of a later request on a
// keep-alive connection too (from its first byte), and ReadTimeout bounds a native request's body
// that trickles in, however often bytes arrive.
func TestTricklingIsCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style+"/second head", func(t *testing.T) {
				srv := serverFor(style)
				srv.ReadHeaderTimeout = timeout
				srv.IdleTimeout = 10 * time.Second
				addr := start(t, engine, srv)
				// The first head is bounded by the timeout too: on a starved machine the client may
				// send it too late, and the server rightly closes. Try again then, a few times.
				var c net.Conn
				var br *bufio.Reader
				for try := 1; ; try++ {
					dialed := time.Now()
					c = dial(t, addr)
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					br = bufio.NewReader(c)
					_, err := readResponse(br, "GET")
					if err == nil {
						break
					}
					if time.Since(dialed) < timeout || try == 3 {
						t.Fatal(err)
					}
					t.Logf("the first request came late (%v): %v; again", time.Since(dialed), err)
				}
				time.Sleep(2 * timeout) // idle: not bounded by the header timeout
				stop := make(chan struct{})
				began := time.Now()
				done := trickle(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "+strings.Repeat("s", 200), 40*time.Millisecond, stop)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := br.ReadByte()
				took := time.Since(began)
				close(stop)
				<-done
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(errString(err), "reset") {
					t.Fatalf("read %v; want the connection closed", err)
				}
				if took > timeout+700*time.Millisecond {
					t.Fatalf("closed %v after the head began; ReadHeaderTimeout is %v", took, timeout)
				}
			})
		}
		t.Run("native body", func(t *testing.T) {
			srv := &http1.Server{Native: helloNative, ReadTimeout: timeout}
			addr := start(t, engine, srv)
			c := dial(t, addr)
			began := time.Now()
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
			stop := make(chan struct{})
			done := trickle(c, strings.Repeat("b", 900), 40*time.Millisecond, stop)
			out := waitClosed(t, c, 5*time.Second)
			took := time.Since(began)
			close(stop)
			<-done
			if took > timeout+700*time.Millisecond || len(out) != 0 {
				t.Fatalf("closed after %v with %q; ReadTimeout is %v", took, out, timeout)
			}
		})
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDeadlinesCanBeExtended: as with net/http, a handler may push its deadlines past the
// server's WriteTimeout and ReadTimeout with http.ResponseController.
func TestDeadlinesCanBeExtended(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		rc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(r.Body) // the rest comes after ReadTimeout
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		time.Sleep(150 * time.Millisecond)
		io.WriteString(w, strings.Repeat("y", 100<<10)+string(b))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
		time.Sleep(250 * time.Millisecond)
		io.WriteString(c, "def")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil || r.status != 200 || !strings.HasSuffix(r.body, "abcdef") || len(r.body) != 100<<10+6 {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

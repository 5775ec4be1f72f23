package http1_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// connCloseHeads are requests' Connection fields that carry a close option, alone or beside
// keep-alive, on one line or several, in any order, case and spacing.
var connCloseHeads = []string{
	"Connection: close\r\n",
	"Connection: keep-alive, close\r\n",
	"Connection: close, keep-alive\r\n",
	"Connection: keep-alive\r\nConnection: close\r\n",
	"Connection: close\r\nConnection: keep-alive\r\n",
	"Connection: Keep-Alive\r\nConnection:   CLOSE  \r\n",
	"Connection: KEEP-ALIVE ,\tClose\r\n",
	"Connection: x-other\r\nConnection: keep-alive\r\nConnection: cLoSe\r\n",
	"Connection: keep-alive\r\nX-Between: 1\r\nConnection: ,close,\r\n",
}

// connCloseServers are both handler paths, each with a handler that says nothing about the
// connection and one that asks for keep-alive itself.
func connCloseServers() map[string]func() *http1.Server {
	return map[string]func() *http1.Server{
		"nethttp": func() *http1.Server {
			return &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			})}
		},
		"nethttp-keepalive": func() *http1.Server {
			return &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "keep-alive")
				w.Header().Set("Content-Length", "2")
				io.WriteString(w, "ok")
			})}
		},
		"native": func() *http1.Server {
			return &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
				w.WriteString("ok")
			})}
		},
		"native-keepalive": func() *http1.Server {
			return &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
				w.AddHeader("Connection", "keep-alive")
				w.WriteString("ok")
			})}
		},
		"native-keepalive-bytes": func() *http1.Server {
			return &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
				w.AddHeaderBytes("Connection", []byte("Keep-Alive"))
				w.WriteString("ok")
			})}
		},
	}
}

// RFC 9112 §9.6: a close option on any Connection line of the request closes the connection after
// the response, on both handler paths, for HTTP/1.0 and HTTP/1.1; the response never says
// keep-alive, and an HTTP/1.1 one says close.
func TestConnectionCloseOnAnyLine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for name, mk := range connCloseServers() {
			t.Run(name, func(t *testing.T) {
				addr := start(t, engine, mk())
				for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
					for _, head := range connCloseHeads {
						c := dial(t, addr)
						io.WriteString(c, "GET / "+proto+"\r\nHost: x\r\n"+head+"\r\n")
						// Read all up to the close, then parse: http.ReadResponse drops a
						// Connection field with close, so the raw head is checked too.
						raw := waitClosed(t, c, 10*time.Second)
						br := bufio.NewReader(strings.NewReader(string(raw)))
						r, err := readResponse(br, "GET")
						if err != nil || r.status != 200 || r.body != "ok" || br.Buffered() != 0 {
							t.Fatalf("%s %q: %v %+v; read %q", proto, head, err, r, raw)
						}
						rawHead, _, _ := strings.Cut(string(raw), "\r\n\r\n")
						var conn []string
						for _, line := range strings.Split(rawHead, "\r\n")[1:] {
							if name, v, _ := strings.Cut(line, ":"); strings.EqualFold(name, "Connection") {
								conn = append(conn, v)
							}
						}
						if listHasAny(conn, "keep-alive") {
							t.Errorf("%s %q: the response says Connection:%s", proto, head, conn)
						}
						if proto == "HTTP/1.1" && !listHasAny(conn, "close") {
							t.Errorf("%s %q: the response does not say close: %q", proto, head, conn)
						}
						if !r.close {
							t.Errorf("%s %q: the response lets the client keep the connection", proto, head)
						}
						c.Close()
					}
				}
				// Controls: without close, HTTP/1.1 and HTTP/1.0 with keep-alive keep the connection.
				for _, req := range []string{
					"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
					"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
					"GET / HTTP/1.0\r\nConnection: Keep-Alive, x-other\r\n\r\n",
				} {
					c := dial(t, addr)
					br := bufio.NewReader(c)
					for i := range 2 {
						io.WriteString(c, req)
						r, err := readResponse(br, "GET")
						if err != nil || r.body != "ok" || r.close {
							t.Fatalf("%q, request %d: %v %+v", req, i, err, r)
						}
					}
					c.Close()
				}
			})
		}
	})
}

func listHas(v, token string) bool {
	for e := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(e), token) {
			return true
		}
	}
	return false
}

func listHasAny(vs []string, token string) bool {
	for _, v := range vs {
		if listHas(v, token) {
			return true
		}
	}
	return false
}

package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/eddyio/eddy/http1"
)

// shouting is a native middleware: it runs the handler it wraps, then looks at the response that
// handler built (Status, Body), changes the body in place, and adds a header field from the
// request's bytes without converting them to a string (AddHeaderBytes).
type shouting struct {
	next http1.NativeHandler
	log  chan string
}

func (m shouting) ServeNative(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	m.next.ServeNative(w, r)
	if w.Status() == http.StatusOK {
		b := w.Body()
		copy(b, bytes.ToUpper(b)) // the same length: in place
	}
	w.AddHeaderBytes("X-Path", r.Path())
	// Conn gives the connection's addresses (and its loop), for logging say.
	host, _, _ := net.SplitHostPort(r.Conn().RemoteAddr().String())
	m.log <- fmt.Sprintf("%s %s %s -> %d (%d bytes)", host, r.MethodString(), r.Path(), w.Status(), len(w.Body()))
}

// A NativeHandler is any type with a ServeNative method; wrapping one in another makes a
// middleware, as with http.Handler.
func ExampleNativeHandler() {
	hello := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		if string(r.Path()) != "/hello" {
			w.SetStatus(http.StatusNotFound)
			w.WriteString("not found")
			return
		}
		w.WriteString("hello, world")
	})
	log := make(chan string, 2)
	srv := &http1.Server{Addr: "127.0.0.1:0", Native: shouting{next: hello, log: log}}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	c, err := net.Dial("tcp", srv.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, path := range []string{"/hello", "/other"} {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s X-Path=%s %q\n", resp.Status, resp.Header.Get("X-Path"), body)
		fmt.Println("log:", <-log)
	}
	// Output:
	// 200 OK X-Path=/hello "HELLO, WORLD"
	// log: 127.0.0.1 GET /hello -> 200 (12 bytes)
	// 404 Not Found X-Path=/other "not found"
	// log: 127.0.0.1 GET /other -> 404 (9 bytes)
}

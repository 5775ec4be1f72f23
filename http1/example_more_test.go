package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// Query gives the raw query of the target; parse it with net/url when its values are needed.
func ExampleNativeRequest_Query() {
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			q, err := url.ParseQuery(string(r.Query()))
			if err != nil {
				w.SetStatus(http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "path %s, query %q, name %s", r.Path(), r.Query(), q.Get("name"))
		}),
	}
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
	fmt.Fprint(c, "GET /greet?name=eddy&lang=go HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: path /greet, query "name=eddy&lang=go", name eddy
}

// CloseConnection ends the connection after this response: the server sends "Connection: close" and
// then closes it.
func ExampleResponseBuffer_CloseConnection() {
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			w.WriteString("goodbye")
			w.CloseConnection()
		}),
	}
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
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %q, close: %v\n", resp.Status, body, resp.Close) // Close: the head said "Connection: close"
	_, err = br.ReadByte()
	fmt.Println("then:", err)
	// Output:
	// 200 OK "goodbye", close: true
	// then: EOF
}

// RegisterOnShutdown runs a function when Shutdown begins, to tell long-lived work of the
// connections (streams, hijacked connections) to finish.
func ExampleServer_RegisterOnShutdown() {
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()}
	stopping := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(stopping) }) // runs on a goroutine of its own
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	srv.Shutdown(context.Background())
	<-stopping
	fmt.Println("told to stop")
	// Output: told to stop
}

// A Server is also an eddy.Handler: an engine the program builds itself can serve it, with the
// options it likes. Shutdown then drains the requests and stops the server's pool, and the program
// stops its engine.
func ExampleServer_eddyHandler() {
	srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "served on my engine")
	})}
	e, err := eddy.New(srv, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := e.Start(); err != nil {
		fmt.Println(err)
		return
	}

	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %q\n", resp.Status, body)
	c.Close() // or the engine's graceful stop waits for the client's FIN

	srv.Shutdown(context.Background())
	e.Stop(context.Background())
	// Output: 200 OK "served on my engine"
}

package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/eddyio/eddy/http1"
)

// A net/http handler runs unchanged: the type of the server is the only change from net/http.
func ExampleServer() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!", r.PathValue("name"))
	})
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: mux}
	if err := srv.Start(); err != nil { // ListenAndServe without the wait
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + srv.Addrs()[0].String() + "/hello/eddy")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Println(string(body))
	// Output:
	// 200 OK text/plain; charset=utf-8
	// Hello, eddy!
}

// A native handler runs on the event loop and builds its answer in a reused buffer: no goroutine,
// no allocation.
func ExampleNativeHandlerFunc() {
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			if string(r.Path()) != "/" {
				w.SetStatus(http.StatusNotFound)
				w.WriteString("not found\n")
				return
			}
			w.AddHeader("Content-Type", "text/plain; charset=utf-8")
			w.WriteString("Hello, World!")
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
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n") // pipelined
	br := bufio.NewReader(c)
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s %q\n", resp.Status, body)
	}
	// Output:
	// 200 OK "Hello, World!"
	// 404 Not Found "not found\n"
}

// Shutdown lets requests in flight finish; ListenAndServe then returns ErrServerClosed.
func ExampleServer_Shutdown() {
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler()}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe() }()
	// ... serve; then, on SIGTERM say:
	if err := srv.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-done == http.ErrServerClosed)
	// Output:
	// true
}

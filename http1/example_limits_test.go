package http1_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/eddyio/eddy/http1"
)

// After Close, a Transport fails every request with ErrTransportClosed (through an http.Client, in
// a *url.Error); so does a request that Close interrupted.
func ExampleTransport_Close() {
	srv := &http1.Server{Addr: "127.0.0.1:0", Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.WriteString("hello")
	})}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	url := "http://" + srv.Addrs()[0].String()

	tr := &http1.Transport{}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)

	tr.Close() // closes the connections and stops the Transport's engine
	_, err = client.Get(url)
	fmt.Println(errors.Is(err, http1.ErrTransportClosed))
	// Output:
	// 200 OK
	// true
}

// The limits of a Transport. MaxConnsPerHost makes requests beyond it wait for a connection;
// ResponseHeaderTimeout fails a request whose answer does not begin in time (a net.Error whose
// Timeout is true); a response head over MaxResponseHeaderBytes fails with an error that wraps
// ErrMalformedResponse, as do responses the Transport cannot read (a bad status line or framing).
func ExampleTransport_limits() {
	var mu sync.Mutex
	clients := map[string]bool{} // the client ports the server saw
	release := make(chan struct{})
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		clients[r.RemoteAddr] = true
		mu.Unlock()
		switch r.URL.Path {
		case "/big":
			w.Header().Set("X-Big", strings.Repeat("x", 8<<10))
		case "/slow":
			select { // answers too late
			case <-release:
			case <-r.Context().Done():
			}
		}
		fmt.Fprint(w, "ok")
	})}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	defer close(release)
	url := "http://" + srv.Addrs()[0].String()

	tr := &http1.Transport{
		MaxConnsPerHost:        1,           // no bound by default
		MaxIdleConnsPerHost:    1,           // idle connections kept for reuse; default 64
		IdleConnTimeout:        time.Minute, // their lifetime; default 90 s
		MaxResponseHeaderBytes: 4 << 10,     // default 1 MiB
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	var wg sync.WaitGroup
	for range 3 { // at once, but one at a time on the wire
		wg.Go(func() {
			resp, err := client.Get(url + "/")
			if err != nil {
				fmt.Println(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	mu.Lock()
	fmt.Println("connections for 3 requests:", len(clients))
	mu.Unlock()

	_, err := client.Get(url + "/big")
	fmt.Println("big head:", errors.Is(err, http1.ErrMalformedResponse))

	impatient := &http1.Transport{ResponseHeaderTimeout: 100 * time.Millisecond} // no bound by default
	defer impatient.Close()
	_, err = (&http.Client{Transport: impatient}).Get(url + "/slow")
	var ne net.Error
	fmt.Println("slow answer:", errors.As(err, &ne) && ne.Timeout())
	// Output:
	// connections for 3 requests: 1
	// big head: true
	// slow answer: true
}

// The size limits of a Server, which answer as net/http's do: a request head over MaxHeaderBytes
// gets 431, and a body over MaxBodyBytes gets 413 (when its Content-Length says so, without calling
// the handler).
func ExampleServer_limits() {
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "ok")
		}),
		MaxHeaderBytes: 1 << 10, // default 1 MiB; net/http's slack of 4 KiB is added
		MaxBodyBytes:   1 << 10, // no bound by default
	}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	addr := srv.Addrs()[0].String()

	fmt.Println(roundTrip(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	fmt.Println(roundTrip(addr, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("x", 8<<10)+"\r\n\r\n"))
	fmt.Println(roundTrip(addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n"))
	// Output:
	// 200 OK
	// 431 Request Header Fields Too Large
	// 413 Request Entity Too Large
}

// roundTrip writes req on a new connection to addr and returns the answer's status, or how the
// connection ended.
func roundTrip(addr, req string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "closed: " + err.Error()
	}
	resp.Body.Close()
	return resp.Status
}

// The timeouts of a Server close the connections of clients that keep it waiting, without an
// answer: ReadHeaderTimeout one that does not send its request head in time (a slow-loris
// client), IdleTimeout a keep-alive connection that stays idle between requests. ReadTimeout and
// WriteTimeout bound the reading of a whole request and the writing of its response.
func ExampleServer_timeouts() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	slowHeads := &http1.Server{Addr: "127.0.0.1:0", Handler: handler, ReadHeaderTimeout: 100 * time.Millisecond}
	idlers := &http1.Server{Addr: "127.0.0.1:0", Handler: handler, IdleTimeout: 100 * time.Millisecond}
	for _, srv := range []*http1.Server{slowHeads, idlers} {
		if err := srv.Start(); err != nil {
			fmt.Println(err)
			return
		}
		defer srv.Shutdown(context.Background())
	}

	// A head that never ends: the empty line after the fields does not come.
	fmt.Println(roundTrip(slowHeads.Addrs()[0].String(), "GET / HTTP/1.1\r\nHost: x\r\n"))

	// A keep-alive connection that sends one request, then nothing.
	c, err := net.Dial("tcp", idlers.Addrs()[0].String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte() // waits for more from the server: its FIN, once the connection has idled
	fmt.Println(resp.Status, "then", err)
	// Output:
	// closed: unexpected EOF
	// 200 OK then EOF
}

package http1_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
)

// A Transport is the transport of an ordinary http.Client: its connections live on an event loop.
func ExampleTransport() {
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Path, body)
	})}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	url := "http://" + srv.Addrs()[0].String()

	tr := &http1.Transport{}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	resp, err := client.Post(url+"/greet", "text/plain", strings.NewReader("hello"))
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, string(body))
	// Output:
	// 200 OK POST /greet "hello"
}

// RoundTripAsync starts requests without a goroutine each and returns futures, which compose: here
// three requests go out at once and future.All waits for their heads.
func ExampleTransport_RoundTripAsync() {
	srv := &http1.Server{Addr: "127.0.0.1:0", Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.WriteString("page " + string(r.Path()))
	})}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())
	url := "http://" + srv.Addrs()[0].String()

	tr := &http1.Transport{}
	defer tr.Close()
	var fs []future.Future[*http.Response]
	for _, path := range []string{"/a", "/b", "/c"} {
		req, _ := http.NewRequest("GET", url+path, nil)
		fs = append(fs, tr.RoundTripAsync(req))
	}
	resps, err := future.All(fs...).Await(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, resp := range resps {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// 200 page /a
	// 200 page /b
	// 200 page /c
}

package http1_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/eddyio/eddy/http1"
)

type clientKey struct{}

// ConnContext gives each connection's requests a context of its own, ConnState follows the
// connections through their states, as with net/http: here one keep-alive connection serves a
// request, then the client closes it.
func ExampleServer_connState() {
	states := make(chan http.ConnState, 8)
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, r.Context().Value(clientKey{}))
		}),
		// Called once per connection, on its event loop, with its net.Conn.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			return context.WithValue(ctx, clientKey{}, "a client at "+host)
		},
		// Called on the event loop too: it must not block.
		ConnState: func(c net.Conn, st http.ConnState) { states <- st },
	}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + srv.Addrs()[0].String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(body))
	tr.CloseIdleConnections()
	for st := range states {
		fmt.Println(st)
		if st == http.StateClosed {
			break
		}
	}
	// Output:
	// a client at 127.0.0.1
	// new
	// active
	// idle
	// closed
}

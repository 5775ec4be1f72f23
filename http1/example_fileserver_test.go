package http1_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/eddyio/eddy/http1"
)

// Serve adopts a listener the program opened (no close-and-listen-again race for the port), and
// http.FileServer's file bodies go from the page cache to the socket with the engine's SendFile.
func ExampleServer_Serve() {
	dir, _ := os.MkdirTemp("", "files")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "big.txt"), []byte(strings.Repeat("eddy ", 20000)), 0o644)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http1.Server{Handler: http.FileServer(http.Dir(dir))}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // serves ln itself; closes it when the server stops

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/big.txt", nil)
	req.Header.Set("Range", "bytes=50000-50013")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s %q\n", resp.Status, body)

	srv.Shutdown(context.Background())
	fmt.Println(<-done)
	// Output:
	// 206 Partial Content "eddy eddy eddy"
	// http: Server closed
}

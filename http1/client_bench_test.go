package http1_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// The client benchmarks send GET requests for a 13-byte body to a native eddy server on the same
// machine, through http1.Transport and, for comparison, net/http's Transport with the same number of
// idle connections allowed. ns/op, B/op and allocs/op are per request, server included in ns/op
// only; run with -cpu 1,2.

// helloServer starts a native server answering "Hello, World!" and returns its URL.
func helloServer(b *testing.B) string {
	srv := &http1.Server{
		Addr: "127.0.0.1:0",
		Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			w.WriteString("Hello, World!")
		}),
		Loops:  1,
		Engine: eddy.EngineKind(os.Getenv("EDDY_SERVER_ENGINE")),
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + srv.Addrs()[0].String() + "/"
}

func benchmarkClient(b *testing.B, rt http.RoundTripper, url string, parallel bool) {
	get := func(req *http.Request) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != 13 {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	get(req) // the first connection
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			get(req)
		}
		return
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		req := req.Clone(context.Background())
		for pb.Next() {
			get(req)
		}
	})
}

func BenchmarkClientGet(b *testing.B) {
	url := helloServer(b)
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name+"/eddy", func(b *testing.B) {
			tr := &http1.Transport{Loops: 1, Engine: eddy.EngineKind(os.Getenv("EDDY_ENGINE"))}
			defer tr.Close()
			benchmarkClient(b, tr, url, parallel)
		})
		b.Run(name+"/net-http", func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: http1.DefaultMaxIdleConnsPerHost}
			defer tr.CloseIdleConnections()
			benchmarkClient(b, tr, url, parallel)
		})
	}
}

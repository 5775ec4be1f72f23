package http1_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// rawClient is a keep-alive HTTP/1.1 client doing one request at a time with fixed buffers, so
// that it allocates nothing itself.
type rawClient struct {
	c    net.Conn
	req  []byte
	resp []byte
	size int // the size of one response, learnt from the first
}

func newRawClient(t testing.TB, addr, path string) *rawClient {
	rc := &rawClient{
		c:    dial(t, addr),
		req:  []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: raw\r\n\r\n"),
		resp: make([]byte, 4096),
	}
	// Learn the response size from the first response (Date keeps a fixed width).
	rc.c.Write(rc.req)
	n := 0
	for !bytes.HasSuffix(rc.resp[:n], []byte("Hello, World!")) {
		k, err := rc.c.Read(rc.resp[n:])
		if err != nil {
			t.Fatalf("after %q: %v", rc.resp[:n], err)
		}
		n += k
	}
	if _, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rc.resp[:n])), nil); err != nil {
		t.Fatalf("bad response %q: %v", rc.resp[:n], err)
	}
	rc.size = n
	return rc
}

// do sends one request and reads its response.
func (rc *rawClient) do() error {
	if _, err := rc.c.Write(rc.req); err != nil {
		return err
	}
	_, err := io.ReadFull(rc.c, rc.resp[:rc.size])
	return err
}

// BenchmarkNativeHelloWorld measures a native handler answering "Hello, World!" through a real
// loopback connection, one request at a time on a keep-alive connection; it reports allocations
// of the whole process (client included), which are 0 per request on the epoll engine.
func BenchmarkNativeHelloWorld(b *testing.B) {
	for _, engine := range testEngines() {
		b.Run(string(engine), func(b *testing.B) {
			addr := start(b, engine, &http1.Server{Native: helloNative, Loops: 1})
			rc := newRawClient(b, addr, "/")
			b.ReportAllocs()
			for b.Loop() {
				if err := rc.do(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNetHTTPHandlerHelloWorld is the same with a net/http handler run on the pool.
func BenchmarkNetHTTPHandlerHelloWorld(b *testing.B) {
	for _, engine := range testEngines() {
		b.Run(string(engine), func(b *testing.B) {
			addr := start(b, engine, &http1.Server{Handler: hello, Loops: 1})
			rc := newRawClient(b, addr, "/")
			b.ReportAllocs()
			for b.Loop() {
				if err := rc.do(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestNativeHelloWorldAllocatesNothing(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocations are not measurable under -race or worth the time under -short")
	}
	addr := start(t, eddy.EngineEpoll, &http1.Server{Native: helloNative, Loops: 1})
	rc := newRawClient(t, addr, "/")
	for range 100 { // warm the pools
		rc.do()
	}
	allocs := testing.AllocsPerRun(2000, func() {
		if err := rc.do(); err != nil {
			t.Fatal(err)
		}
	})
	// The Date text is made once a second: well under one allocation per 2000 requests.
	if allocs >= 0.01 {
		t.Fatalf("%.3f allocations per request; want 0", allocs)
	}
}
